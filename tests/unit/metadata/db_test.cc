#include "metadata/db.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "base/fs.h"

using namespace berth;
using namespace berth::metadata;

namespace {

class MetadataDB : public ::testing::Test {
 protected:
  void SetUp() override {
    auto td = TempDir::create("/tmp", "berth-metadata-test");
    ASSERT_TRUE(td.ok()) << td.error().str();
    dir_.emplace(std::move(td).value());
    path_ = dir_->path() + "/metadata.db";
  }
  DB open() {
    auto db = DB::open(path_);
    EXPECT_TRUE(db.ok()) << db.error().str();
    return std::move(db).value();
  }
  std::optional<TempDir> dir_;
  std::string path_;
};

Image image(std::string name, std::string_view content) {
  return Image{std::move(name), Target{Digest::of(content), "application/vnd.oci.image.manifest.v1+json", 1234}};
}

std::string pragma(DB& db, const std::string& p) {
  auto s = db.prepare("PRAGMA " + p);
  if (!s) return "error: " + s.error().str();
  auto row = s->step();
  if (!row || !*row) return "";
  return s->text(0);
}

}  // namespace

TEST_F(MetadataDB, FreshOpenMigratesAndReopenIsIdempotent) {
  {
    DB db = open();
    EXPECT_EQ(db.schema_version(), DB::latest_schema_version());
    EXPECT_EQ(pragma(db, "journal_mode"), "wal");
    EXPECT_EQ(pragma(db, "foreign_keys"), "1");
    EXPECT_EQ(pragma(db, "user_version"), std::to_string(DB::latest_schema_version()));
    ASSERT_TRUE(db.put_image(image("docker.io/library/busybox:latest", "m1")).ok());
  }
  DB db = open();
  EXPECT_EQ(db.schema_version(), DB::latest_schema_version());
  auto imgs = db.list_images();
  ASSERT_TRUE(imgs.ok());
  EXPECT_EQ(imgs->size(), 1u);
}

TEST_F(MetadataDB, NewerSchemaIsRefused) {
  {
    DB db = open();
    ASSERT_TRUE(db.exec("PRAGMA user_version = 999").ok());
  }
  auto db = DB::open(path_);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, Errc::unsupported);
  EXPECT_NE(db.error().message.find("999"), std::string::npos);
}

TEST_F(MetadataDB, GarbageFileIsRefused) {
  ASSERT_TRUE(atomic_write_file(path_, std::string(8192, 'x')).ok());
  auto db = DB::open(path_);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, Errc::invalid_input);
}

TEST_F(MetadataDB, Images) {
  DB db = open();
  Image a = image("docker.io/library/busybox:latest", "m1");
  ASSERT_TRUE(db.put_image(a).ok());
  auto got = db.get_image(a.name);
  ASSERT_TRUE(got.ok()) << got.error().str();
  EXPECT_EQ(got->target.digest, a.target.digest);
  EXPECT_EQ(got->target.media_type, a.target.media_type);
  EXPECT_EQ(got->target.size, 1234);
  EXPECT_GT(got->created_at, 0);
  EXPECT_EQ(got->created_at, got->updated_at);

  // Re-tag to new content keeps created_at.
  ASSERT_TRUE(db.exec("UPDATE images SET created_at = 100, updated_at = 100").ok());
  Image a2 = image(a.name, "m2");
  ASSERT_TRUE(db.put_image(a2).ok());
  got = db.get_image(a.name);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->target.digest, a2.target.digest);
  EXPECT_EQ(got->created_at, 100);
  EXPECT_GT(got->updated_at, 100);

  // Tag = put under another name.
  ASSERT_TRUE(db.put_image(image("localhost/mine:v1", "m2")).ok());
  auto by = db.images_by_target(a2.target.digest);
  ASSERT_TRUE(by.ok());
  ASSERT_EQ(by->size(), 2u);
  EXPECT_EQ((*by)[0].name, "docker.io/library/busybox:latest");
  EXPECT_EQ((*by)[1].name, "localhost/mine:v1");

  ASSERT_TRUE(db.delete_image(a.name).ok());
  EXPECT_EQ(db.delete_image(a.name).error().code, Errc::not_found);
  EXPECT_EQ(db.get_image(a.name).error().code, Errc::not_found);
  EXPECT_EQ(db.list_images()->size(), 1u);

  EXPECT_EQ(db.put_image(image("bad name", "x")).error().code, Errc::invalid_argument);
  EXPECT_EQ(db.put_image(image("", "x")).error().code, Errc::invalid_argument);
  EXPECT_EQ(db.put_image(Image{"n", Target{}}).error().code, Errc::invalid_argument);
}

TEST_F(MetadataDB, CorruptDigestRowIsAnError) {
  DB db = open();
  ASSERT_TRUE(db.exec("INSERT INTO images VALUES('x', 'sha256:nothex', 't', 1, 1, 1)").ok());
  auto got = db.get_image("x");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, Errc::invalid_input);
}

TEST_F(MetadataDB, LeasesAndResources) {
  DB db = open();
  auto l = db.create_lease("pull-1", 3600);
  ASSERT_TRUE(l.ok()) << l.error().str();
  EXPECT_GT(l->expires_at, l->created_at);
  EXPECT_EQ(db.create_lease("pull-1").error().code, Errc::already_exists);
  auto anon = db.create_lease();
  ASSERT_TRUE(anon.ok());
  EXPECT_EQ(anon->id.size(), 32u);
  EXPECT_EQ(anon->expires_at, 0);

  std::string blob = Digest::of("b").str();
  ASSERT_TRUE(db.add_lease_resource("pull-1", ResourceKind::blob, blob).ok());
  ASSERT_TRUE(db.add_lease_resource("pull-1", ResourceKind::blob, blob).ok());  // idempotent
  ASSERT_TRUE(db.add_lease_resource("pull-1", ResourceKind::snapshot, Digest::of("s").str()).ok());
  ASSERT_TRUE(db.add_lease_resource(anon->id, ResourceKind::ingest, "upload-7").ok());
  EXPECT_EQ(db.add_lease_resource("nope", ResourceKind::blob, blob).error().code, Errc::not_found);

  auto all = db.lease_resources();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  auto mine = db.lease_resources("pull-1");
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 2u);
  EXPECT_EQ((*mine)[0].kind, ResourceKind::blob);
  EXPECT_EQ((*mine)[0].key, blob);

  ASSERT_TRUE(db.remove_lease_resource("pull-1", ResourceKind::blob, blob).ok());
  EXPECT_EQ(db.lease_resources("pull-1")->size(), 1u);
  ASSERT_TRUE(db.delete_lease("pull-1").ok());  // cascades
  EXPECT_EQ(db.lease_resources()->size(), 1u);
  EXPECT_EQ(db.delete_lease("pull-1").error().code, Errc::not_found);
  EXPECT_EQ(db.list_leases()->size(), 1u);
}

TEST_F(MetadataDB, ExpireLeases) {
  DB db = open();
  ASSERT_TRUE(db.create_lease("short", 10).ok());
  ASSERT_TRUE(db.create_lease("forever", 0).ok());
  ASSERT_TRUE(db.add_lease_resource("short", ResourceKind::blob, "sha256:x").ok());
  auto n = db.expire_leases();  // nothing expired yet
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);
  n = db.expire_leases(std::numeric_limits<int64_t>::max());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  auto left = db.list_leases();
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].id, "forever");
  EXPECT_TRUE(db.lease_resources()->empty());
}

TEST_F(MetadataDB, WriteIsAtomicAndNests) {
  DB db = open();
  Status s = db.write([&]() -> Status {
    TRY(db.put_image(image("a:1", "x")));
    TRY(db.create_lease("l1"));
    return Error(Errc::internal, "boom");
  });
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(db.list_images()->empty());
  EXPECT_TRUE(db.list_leases()->empty());

  ASSERT_TRUE(db.create_lease("l2").ok());
  s = db.write([&]() -> Status {
    TRY(db.put_image(image("a:1", "x")));
    return db.delete_lease("l2");
  });
  ASSERT_TRUE(s.ok()) << s.error().str();
  EXPECT_EQ(db.list_images()->size(), 1u);
  EXPECT_TRUE(db.list_leases()->empty());
}

TEST_F(MetadataDB, NestedWriteIsASavepoint) {
  DB db = open();
  Status s = db.write([&]() -> Status {
    TRY(db.put_image(image("outer:1", "x")));
    Status inner = db.write([&]() -> Status {
      TRY(db.put_image(image("inner:1", "y")));
      return Error(Errc::internal, "inner fails");
    });
    EXPECT_FALSE(inner.ok());
    return Status{};  // the caller carries on
  });
  ASSERT_TRUE(s.ok()) << s.error().str();
  EXPECT_TRUE(db.get_image("outer:1").ok());
  EXPECT_EQ(db.get_image("inner:1").error().code, Errc::not_found);

  Status w = db.read([&]() -> Status { return db.put_image(image("in-read:1", "z")); });
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, Errc::invalid_argument);
  EXPECT_EQ(db.get_image("in-read:1").error().code, Errc::not_found);
  // The connection is usable afterwards.
  EXPECT_TRUE(db.put_image(image("after:1", "z")).ok());
}

TEST_F(MetadataDB, ComponentMigrations) {
  DB db = open();
  static constexpr Migration v1[] = {{1, "containers", "CREATE TABLE containers (id TEXT PRIMARY KEY)"}};
  static constexpr Migration v2[] = {{1, "containers", "CREATE TABLE containers (id TEXT PRIMARY KEY)"},
                                     {2, "events", "CREATE TABLE events (id INTEGER PRIMARY KEY, what TEXT)"}};
  ASSERT_TRUE(db.migrate("engine", v1).ok());
  EXPECT_EQ(*db.component_version("engine"), 1);
  ASSERT_TRUE(db.migrate("engine", v1).ok());  // idempotent
  ASSERT_TRUE(db.exec("INSERT INTO containers VALUES('c1')").ok());
  ASSERT_TRUE(db.migrate("engine", v2).ok());
  EXPECT_EQ(*db.component_version("engine"), 2);
  ASSERT_TRUE(db.exec("INSERT INTO events(what) VALUES('x')").ok());
  // Older binary against a newer component schema.
  EXPECT_EQ(db.migrate("engine", v1).error().code, Errc::unsupported);
  // Versions must be 1..n.
  static constexpr Migration gap[] = {{2, "x", "SELECT 1"}};
  EXPECT_EQ(db.migrate("other", gap).error().code, Errc::invalid_argument);
  // A failing migration leaves nothing behind.
  static constexpr Migration bad[] = {{1, "ok", "CREATE TABLE t1 (a)"}, {2, "broken", "CREATE TABLE oops ("}};
  EXPECT_FALSE(db.migrate("build", bad).ok());
  EXPECT_EQ(*db.component_version("build"), 0);
  EXPECT_FALSE(db.exec("INSERT INTO t1 VALUES(1)").ok());
  EXPECT_EQ(db.schema_version(), DB::latest_schema_version());
}

// Several short-lived processes open the (initially absent) DB at once and write.
TEST_F(MetadataDB, ConcurrentProcessWriters) {
  constexpr int kProcs = 6, kEach = 40;
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; p++) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int i = 0; i < kEach; i++) {
        auto db = DB::open(path_);  // a fresh connection per "CLI invocation"
        if (!db) ::_exit(1);
        std::string name = "localhost/p" + std::to_string(p) + ":" + std::to_string(i);
        auto lease = db->create_lease();
        if (!lease) ::_exit(2);
        if (!db->add_lease_resource(lease->id, ResourceKind::blob, Digest::of(name).str())) ::_exit(3);
        Status s = db->write([&]() -> Status {
          TRY(db->put_image(image(name, name)));
          return db->delete_lease(lease->id);
        });
        if (!s) ::_exit(4);
        if (!db->get_image("localhost/p" + std::to_string(p) + ":0")) ::_exit(5);
      }
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  DB db = open();
  EXPECT_EQ(db.list_images()->size(), static_cast<size_t>(kProcs * kEach));
  EXPECT_TRUE(db.list_leases()->empty());
  EXPECT_EQ(pragma(db, "integrity_check"), "ok");
}

// kill -9 in the middle of a stream of transactions: every commit is all-or-nothing.
TEST_F(MetadataDB, KillNineLeavesConsistentState) {
  { DB db = open(); }
  for (int round = 0; round < 3; round++) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto db = DB::open(path_);
      if (!db) ::_exit(1);
      for (int i = 0;; i++) {
        std::string id = "r" + std::to_string(round) + "-" + std::to_string(i);
        // Each transaction writes a lease, its resource and an image together.
        Status s = db->write([&]() -> Status {
          TRY(db->create_lease(id));
          TRY(db->add_lease_resource(id, ResourceKind::blob, "sha256:" + id));
          return db->put_image(image("localhost/" + id + ":t", id));
        });
        if (!s) ::_exit(2);
      }
    }
    ::usleep(20000 + 30000 * round);
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << status;
  }
  DB db = open();
  EXPECT_EQ(pragma(db, "integrity_check"), "ok");
  auto leases = db.list_leases();
  auto res = db.lease_resources();
  auto imgs = db.list_images();
  ASSERT_TRUE(leases.ok() && res.ok() && imgs.ok());
  EXPECT_EQ(leases->size(), res->size());
  EXPECT_EQ(leases->size(), imgs->size());
  std::set<std::string> names;
  for (auto& i : *imgs) names.insert(i.name);
  for (auto& l : *leases) EXPECT_TRUE(names.count("localhost/" + l.id + ":t")) << l.id;
}
