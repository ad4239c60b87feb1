#include "store/store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "base/fs.h"

using namespace berth;

namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto td = TempDir::create("/tmp", "berth-store-test");
    ASSERT_TRUE(td.ok()) << td.error().str();
    dir_.emplace(std::move(td).value());
    auto s = Store::open(dir_->path() + "/root");
    ASSERT_TRUE(s.ok()) << s.error().str();
    store_.emplace(std::move(s).value());
  }
  std::optional<TempDir> dir_;
  std::optional<Store> store_;
};

struct EnvGuard {
  std::string name;
  std::optional<std::string> old;
  EnvGuard(std::string n, const char* v) : name(std::move(n)) {
    if (const char* o = std::getenv(name.c_str())) old = o;
    if (v) ::setenv(name.c_str(), v, 1);
    else ::unsetenv(name.c_str());
  }
  ~EnvGuard() {
    if (old) ::setenv(name.c_str(), old->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

}  // namespace

TEST(DefaultRoot, FlagThenEnvThenDefault) {
  EnvGuard env("BERTH_ROOT", "/srv/berth-env");
  EXPECT_EQ(default_root("/flag/root"), "/flag/root");
  EXPECT_EQ(default_root(), "/srv/berth-env");
  {
    EnvGuard unset("BERTH_ROOT", nullptr);
    if (::geteuid() == 0) {
      EXPECT_EQ(default_root(), "/var/lib/berth");
    } else {
      EnvGuard xdg("XDG_DATA_HOME", "/xdg");
      EXPECT_EQ(default_root(), "/xdg/berth");
    }
  }
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  EXPECT_EQ(default_root("rel/dir"), std::string(cwd) + "/rel/dir");
}

TEST_F(StoreTest, OpenCreatesLayoutAndReopens) {
  const std::string& r = store_->root();
  EXPECT_TRUE(path_exists(r + "/blobs/sha256"));
  EXPECT_TRUE(path_exists(r + "/ingest"));
  EXPECT_TRUE(path_exists(r + "/metadata.db"));
  EXPECT_EQ(store_->snapshots_dir(), r + "/snapshots");
  EXPECT_TRUE(path_exists(r + "/snapshots"));
  Digest chain = Digest::of("x");
  EXPECT_EQ(store_->snapshot_path(chain), r + "/snapshots/sha256/" + chain.hex());
  auto d = store_->content().put("hello");
  ASSERT_TRUE(d.ok());
  auto again = Store::open(r);
  ASSERT_TRUE(again.ok()) << again.error().str();
  EXPECT_TRUE(again->content().has(*d));
}

TEST_F(StoreTest, SharedLockExcludesGcAcrossProcesses) {
  int ready[2], release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(release), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto s = Store::open(store_->root());
    if (!s) ::_exit(1);
    auto l = s->lock_shared();
    if (!l) ::_exit(2);
    char c = 'r';
    if (::write(ready[1], &c, 1) != 1) ::_exit(3);
    if (::read(release[0], &c, 1) != 1) ::_exit(4);
    ::_exit(0);
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  auto ex = store_->lock_exclusive(false);
  ASSERT_FALSE(ex.ok());
  EXPECT_EQ(ex.error().code, Errc::busy);
  auto sh = store_->lock_shared(false);  // writers share
  EXPECT_TRUE(sh.ok());
  sh->release();
  ASSERT_EQ(::write(release[1], "x", 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto ex2 = store_->lock_exclusive(false);
  EXPECT_TRUE(ex2.ok()) << ex2.error().str();
  EXPECT_EQ(store_->lock_shared(false).error().code, Errc::busy);
  for (int fd : {ready[0], ready[1], release[0], release[1]}) ::close(fd);
}

TEST_F(StoreTest, WriteSessionCommitNamesAndDropsLease) {
  auto ws = WriteSession::begin(*store_);
  ASSERT_TRUE(ws.ok()) << ws.error().str();
  auto d = store_->content().put("{}");
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE(ws->protect_blob(*d).ok());
  EXPECT_EQ(store_->db().lease_resources(ws->lease_id())->size(), 1u);
  EXPECT_EQ(store_->lock_exclusive(false).error().code, Errc::busy);
  metadata::Image img{"localhost/a:1", {*d, "application/vnd.oci.image.manifest.v1+json", 2}};
  ASSERT_TRUE(ws->commit({&img, 1}).ok());
  EXPECT_TRUE(store_->db().get_image("localhost/a:1").ok());
  EXPECT_TRUE(store_->db().list_leases()->empty());
  EXPECT_TRUE(store_->lock_exclusive(false).ok());  // lock released by commit
  EXPECT_FALSE(ws->protect_blob(*d).ok());
}

TEST_F(StoreTest, WriteSessionAbandonedDropsLease) {
  {
    auto ws = WriteSession::begin(*store_);
    ASSERT_TRUE(ws.ok());
    ASSERT_TRUE(ws->protect(metadata::ResourceKind::ingest, "upload-1").ok());
    EXPECT_EQ(store_->db().list_leases()->size(), 1u);
  }
  EXPECT_TRUE(store_->db().list_leases()->empty());
  {
    auto ws = WriteSession::begin(*store_, 60);
    ASSERT_TRUE(ws.ok());
    ws->detach();  // lease kept until it expires
  }
  auto leases = store_->db().list_leases();
  ASSERT_EQ(leases->size(), 1u);
  EXPECT_GT((*leases)[0].expires_at, 0);
}
