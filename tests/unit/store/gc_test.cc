#include "store/gc.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/fs.h"

using namespace berth;
using json = nlohmann::json;

namespace {

constexpr const char* kIndex = "application/vnd.oci.image.index.v1+json";
constexpr const char* kManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kConfig = "application/vnd.oci.image.config.v1+json";
constexpr const char* kLayer = "application/vnd.oci.image.layer.v1.tar+gzip";

struct TestImage {
  Digest index, manifest, config;
  std::vector<Digest> layers;
  std::vector<Digest> chains;
};

class GcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto td = TempDir::create("/tmp", "berth-gc-test");
    ASSERT_TRUE(td.ok()) << td.error().str();
    dir_.emplace(std::move(td).value());
    auto s = Store::open(dir_->path() + "/root");
    ASSERT_TRUE(s.ok()) << s.error().str();
    store_.emplace(std::move(s).value());
  }

  Digest put(const std::string& data) {
    auto d = store_->content().put(data);
    EXPECT_TRUE(d.ok()) << d.error().str();
    return d.ok() ? *d : Digest();
  }
  static json desc(const char* mt, const Digest& d, size_t size) {
    return json{{"mediaType", mt}, {"digest", d.str()}, {"size", size}};
  }

  // index -> manifest -> config + layers; snapshot dirs for every chain ID.
  // `seed` makes untagged images distinct (content addressing would merge them).
  TestImage make_image(const std::string& tag, int nlayers, const std::string& seed = "") {
    TestImage t;
    const std::string salt = tag + seed;
    json layers = json::array(), diffs = json::array();
    std::vector<Digest> diff_ids;
    for (int i = 0; i < nlayers; i++) {
      std::string bytes = "\x1f\x8b layer " + salt + std::to_string(i);
      t.layers.push_back(put(bytes));
      layers.push_back(desc(kLayer, t.layers.back(), bytes.size()));
      diff_ids.push_back(Digest::of("diff " + salt + std::to_string(i)));
      diffs.push_back(diff_ids.back().str());
    }
    std::string config = json{{"architecture", "amd64"},
                              {"os", "linux"},
                              {"config", {{"Cmd", {"sh"}}}},
                              {"rootfs", {{"type", "layers"}, {"diff_ids", diffs}}}}
                             .dump();
    t.config = put(config);
    std::string manifest =
        json{{"schemaVersion", 2}, {"mediaType", kManifest}, {"config", desc(kConfig, t.config, config.size())},
             {"layers", layers}}
            .dump();
    t.manifest = put(manifest);
    std::string index =
        json{{"schemaVersion", 2}, {"mediaType", kIndex}, {"manifests", {desc(kManifest, t.manifest, manifest.size())}}}
            .dump();
    t.index = put(index);
    t.chains = chain_ids(diff_ids);
    for (auto& c : t.chains) make_snapshot(c);
    if (!tag.empty()) {
      metadata::Image img{tag, {t.index, kIndex, static_cast<int64_t>(index.size())}};
      EXPECT_TRUE(store_->db().put_image(img).ok());
    }
    return t;
  }

  void make_snapshot(const Digest& chain) {
    std::string p = store_->snapshot_path(chain);
    ASSERT_TRUE(mkdir_p(p + "/fs/etc").ok());
    ASSERT_TRUE(atomic_write_file(p + "/fs/etc/hostname", "x", 0400).ok());
    ASSERT_TRUE(atomic_write_file(p + "/meta", "{}").ok());
    ::chmod((p + "/fs/etc").c_str(), 0555);  // read-only dirs, as layers have
  }

  bool snapshot_exists(const Digest& c) { return path_exists(store_->snapshot_path(c)); }

  std::optional<TempDir> dir_;
  std::optional<Store> store_;
};

bool contains(const std::vector<Digest>& v, const Digest& d) { return std::find(v.begin(), v.end(), d) != v.end(); }

}  // namespace

TEST(ChainIds, MatchImageSpecDefinition) {
  std::vector<Digest> diffs = {Digest::of("layer0"), Digest::of("layer1"), Digest::of("layer2")};
  auto c = chain_ids(diffs);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0], diffs[0]);
  // Independently computed with python hashlib.
  EXPECT_EQ(c[1].str(), "sha256:ef232af0eb422cdfd7917631657cd8ed2bfd5b9461b37c427aa0d3e0a19adf79");
  EXPECT_EQ(c[2].str(), "sha256:7ad3896338947cc04ee0b35b50d400ff32538d63f42f85ec87feac78bf71a54d");
  EXPECT_TRUE(chain_ids({}).empty());
}

TEST_F(GcTest, KeepsReachableRemovesTheRest) {
  TestImage kept = make_image("docker.io/library/busybox:latest", 3);
  TestImage gone = make_image("", 2);  // never tagged
  Digest stray = put("stray blob");
  Digest orphan_chain = Digest::of("orphan");
  make_snapshot(orphan_chain);
  // Non-snapshot entries under snapshots/ belong to the snapshotter (a
  // fresh tmp/ entry too: only ones older than ingest_max_age go).
  ASSERT_TRUE(mkdir_p(store_->snapshots_dir() + "/tmp/unpacking").ok());
  ASSERT_TRUE(mkdir_p(store_->snapshots_dir() + "/sha256/not-a-digest").ok());

  auto r = collect_garbage(*store_);
  ASSERT_TRUE(r.ok()) << r.error().str();
  for (const Digest& d : {kept.index, kept.manifest, kept.config}) EXPECT_TRUE(store_->content().has(d)) << d.str();
  for (const Digest& d : kept.layers) EXPECT_TRUE(store_->content().has(d));
  for (const Digest& c : kept.chains) EXPECT_TRUE(snapshot_exists(c)) << c.str();
  for (const Digest& d : {gone.index, gone.manifest, gone.config, stray}) EXPECT_FALSE(store_->content().has(d));
  for (const Digest& d : gone.layers) EXPECT_FALSE(store_->content().has(d));
  for (const Digest& c : gone.chains) EXPECT_FALSE(snapshot_exists(c));
  EXPECT_FALSE(snapshot_exists(orphan_chain));
  EXPECT_TRUE(path_exists(store_->snapshots_dir() + "/tmp/unpacking"));
  EXPECT_TRUE(path_exists(store_->snapshots_dir() + "/sha256/not-a-digest"));

  EXPECT_EQ(r->blobs_removed, 3u + 2u + 1u);
  EXPECT_EQ(r->blobs_kept, 6u);
  EXPECT_EQ(r->snapshots_removed, 3u);
  EXPECT_EQ(r->snapshots_kept, 3u);
  EXPECT_GT(r->bytes_freed, 0u);
  EXPECT_TRUE(contains(r->removed_blobs, stray));
  EXPECT_TRUE(contains(r->removed_snapshots, orphan_chain));

  // A second run finds nothing; untagging then frees everything.
  auto r2 = collect_garbage(*store_);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->blobs_removed, 0u);
  EXPECT_EQ(r2->snapshots_removed, 0u);
  ASSERT_TRUE(store_->db().delete_image("docker.io/library/busybox:latest").ok());
  auto r3 = collect_garbage(*store_);
  ASSERT_TRUE(r3.ok());
  EXPECT_EQ(r3->blobs_removed, 6u);
  EXPECT_EQ(r3->snapshots_removed, 3u);
  EXPECT_TRUE(store_->content().list()->empty());
}

TEST_F(GcTest, SharedLayersSurviveWhileAnyImageUsesThem) {
  TestImage a = make_image("localhost/a:1", 2);
  // Tag the same manifest (not the index) under a second name.
  ASSERT_TRUE(store_->db().put_image({"localhost/b:1", {a.manifest, kManifest, 1}}).ok());
  ASSERT_TRUE(store_->db().delete_image("localhost/a:1").ok());
  auto r = collect_garbage(*store_);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_FALSE(store_->content().has(a.index));
  EXPECT_TRUE(store_->content().has(a.manifest));
  EXPECT_TRUE(store_->content().has(a.layers[1]));
  EXPECT_TRUE(snapshot_exists(a.chains[1]));
}

TEST_F(GcTest, DryRunChangesNothing) {
  make_image("", 2);
  Digest stray = put("stray");
  ASSERT_TRUE(store_->db().create_lease("old", 1).ok());
  GcOptions o;
  o.dry_run = true;
  // Expire the lease by pretending it is old.
  ASSERT_TRUE(store_->db().exec("UPDATE leases SET expires_at = 1").ok());
  auto r = collect_garbage(*store_, o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->blobs_removed, 6u);
  EXPECT_EQ(r->snapshots_removed, 2u);
  EXPECT_EQ(r->leases_expired, 1u);
  EXPECT_TRUE(store_->content().has(stray));
  EXPECT_EQ(store_->content().list()->size(), 6u);
  EXPECT_EQ(store_->db().list_leases()->size(), 1u);
  auto real = collect_garbage(*store_);
  ASSERT_TRUE(real.ok());
  EXPECT_EQ(real->blobs_removed, r->blobs_removed);
  EXPECT_EQ(real->bytes_freed, r->bytes_freed);
  EXPECT_EQ(real->leases_expired, 1u);
  EXPECT_TRUE(store_->db().list_leases()->empty());
}

TEST_F(GcTest, RemovesUnpacksOfDeadProcesses) {
  // A crashed unpack leaves snapshots/tmp/<unique>/ with read-only dirs in it.
  std::string left = store_->snapshots_dir() + "/tmp/unpack.123.abc";
  ASSERT_TRUE(mkdir_p(left + "/fs/etc").ok());
  ::chmod((left + "/fs/etc").c_str(), 0555);
  GcOptions o;
  o.ingest_max_age_seconds = 0;  // as old as stale ingests get removed
  auto r = collect_garbage(*store_, o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_FALSE(path_exists(left));
  EXPECT_TRUE(r->warnings.empty());
}

TEST_F(GcTest, LeaseProtectsContentUntilExpiry) {
  TestImage t = make_image("", 2);
  Digest loose = put("loose layer being pulled");
  Digest loose_snap = Digest::of("loose snapshot");
  make_snapshot(loose_snap);
  ASSERT_TRUE(store_->db().create_lease("pull", 3600).ok());
  ASSERT_TRUE(store_->db().add_lease_resource("pull", metadata::ResourceKind::blob, t.index.str()).ok());
  ASSERT_TRUE(store_->db().add_lease_resource("pull", metadata::ResourceKind::blob, loose.str()).ok());
  ASSERT_TRUE(store_->db().add_lease_resource("pull", metadata::ResourceKind::snapshot, loose_snap.str()).ok());
  auto r = collect_garbage(*store_);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->blobs_removed, 0u);
  EXPECT_EQ(r->snapshots_removed, 0u);
  EXPECT_TRUE(store_->content().has(t.layers[0]));  // leased index protects its tree
  EXPECT_TRUE(snapshot_exists(t.chains[1]));
  EXPECT_TRUE(snapshot_exists(loose_snap));

  ASSERT_TRUE(store_->db().exec("UPDATE leases SET expires_at = 1").ok());
  r = collect_garbage(*store_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->leases_expired, 1u);
  EXPECT_EQ(r->blobs_removed, 6u);
  EXPECT_EQ(r->snapshots_removed, 3u);
}

TEST_F(GcTest, WriteSessionContentSurvivesConcurrentGc) {
  auto ws = WriteSession::begin(*store_);
  ASSERT_TRUE(ws.ok());
  Digest d = put("being imported");
  // GC cannot start while a writer holds the store lock.
  GcOptions nowait;
  nowait.wait = false;
  auto busy = collect_garbage(*store_, nowait);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code, Errc::busy);
  ASSERT_TRUE(ws->protect_blob(d).ok());
  ws->detach();  // lock released, lease kept: the lease alone must protect it
  auto r = collect_garbage(*store_);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(store_->content().has(d));
}

TEST_F(GcTest, ReferrersFollowTheirSubject) {
  TestImage t = make_image("localhost/signed:1", 1);
  std::string sig_blob = "signature payload";
  Digest sig_layer = put(sig_blob);
  Digest empty_cfg = put("{}");
  std::string sig = json{{"schemaVersion", 2},
                         {"mediaType", kManifest},
                         {"artifactType", "application/vnd.dev.cosign.artifact.sig.v1+json"},
                         {"config", desc("application/vnd.oci.empty.v1+json", empty_cfg, 2)},
                         {"layers", {desc("application/vnd.dev.cosign.simplesigning.v1+json", sig_layer, sig_blob.size())}},
                         {"subject", desc(kManifest, t.manifest, 1)}}
                        .dump();
  Digest sig_manifest = put(sig);
  auto r = collect_garbage(*store_);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->blobs_removed, 0u);
  EXPECT_TRUE(store_->content().has(sig_manifest));
  EXPECT_TRUE(store_->content().has(sig_layer));
  ASSERT_TRUE(store_->db().delete_image("localhost/signed:1").ok());
  r = collect_garbage(*store_);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(store_->content().has(sig_manifest));
  EXPECT_FALSE(store_->content().has(sig_layer));
  EXPECT_TRUE(store_->content().list()->empty());
}

TEST_F(GcTest, UnparsableReachableManifestStopsBeforeSweeping) {
  Digest stray = put("stray");
  Digest broken = put("{ not json");
  ASSERT_TRUE(store_->db().put_image({"localhost/broken:1", {broken, kManifest, 10}}).ok());
  auto r = collect_garbage(*store_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_input);
  EXPECT_NE(r.error().message.find(broken.str()), std::string::npos);
  EXPECT_TRUE(store_->content().has(stray));
  // The same bytes under an unknown media type are simply a leaf.
  ASSERT_TRUE(store_->db().put_image({"localhost/broken:1", {broken, "application/x-thing+json", 10}}).ok());
  r = collect_garbage(*store_);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(store_->content().has(broken));
  EXPECT_FALSE(store_->content().has(stray));
}

TEST_F(GcTest, MissingTargetsAreCountedNotFatal) {
  Digest absent = Digest::of("never stored");
  ASSERT_TRUE(store_->db().put_image({"localhost/partial:1", {absent, kIndex, 10}}).ok());
  auto r = collect_garbage(*store_);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->missing_blobs, 1u);
}

TEST_F(GcTest, ExtraRootsAndProviders) {
  TestImage a = make_image("", 1, "a");
  TestImage b = make_image("", 1, "b");
  Digest snap = Digest::of("container rootfs");
  make_snapshot(snap);
  GcOptions o;
  o.extra_roots.blobs.push_back(a.manifest);
  o.providers.push_back([&](Store&) -> Result<GcRoots> { return GcRoots{{b.config}, {snap}}; });
  auto r = collect_garbage(*store_, o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(store_->content().has(a.manifest));
  EXPECT_TRUE(store_->content().has(a.layers[0]));
  EXPECT_FALSE(store_->content().has(a.index));
  EXPECT_TRUE(store_->content().has(b.config));
  EXPECT_TRUE(snapshot_exists(b.chains[0]));  // from the config's diff_ids
  EXPECT_FALSE(store_->content().has(b.manifest));
  EXPECT_TRUE(snapshot_exists(snap));

  o.providers.push_back([](Store&) -> Result<GcRoots> { return Error(Errc::io, "engine db unavailable"); });
  auto failed = collect_garbage(*store_, o);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("engine db unavailable"), std::string::npos);
}

TEST_F(GcTest, GraceAndIngestExpiry) {
  Digest fresh = put("fresh");
  {
    auto w = store_->content().writer("abandoned-upload");
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->write("partial").ok());
  }
  {
    auto w = store_->content().writer("leased-upload");
    ASSERT_TRUE(w.ok());
  }
  ASSERT_TRUE(store_->db().create_lease("up").ok());
  ASSERT_TRUE(store_->db().add_lease_resource("up", metadata::ResourceKind::ingest, "leased-upload").ok());
  GcOptions o;
  o.grace_seconds = 3600;
  o.ingest_max_age_seconds = 0;
  auto r = collect_garbage(*store_, o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(store_->content().has(fresh));
  EXPECT_EQ(r->blobs_kept, 1u);
  EXPECT_EQ(store_->content().ingest_info("abandoned-upload").error().code, Errc::not_found);
  EXPECT_TRUE(store_->content().ingest_info("leased-upload").ok());
}

TEST_F(GcTest, MountedSnapshotIsKeptWithWarning) {
  Digest chain = Digest::of("mounted");
  make_snapshot(chain);
  Digest other = Digest::of("unmounted");
  make_snapshot(other);
  // In a child with its own mount namespace: a crash cannot leak the mount.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(77);
    std::string p = store_->snapshot_path(chain);
    if (::mount("tmpfs", p.c_str(), "tmpfs", 0, "size=1m") != 0) ::_exit(77);
    auto own = Store::open(store_->root());  // never share an SQLite connection across fork
    if (!own) ::_exit(1);
    auto r = collect_garbage(*own);
    if (!r) ::_exit(1);
    if (!snapshot_exists(chain) || snapshot_exists(other)) ::_exit(2);
    if (r->snapshots_removed != 1 || r->snapshots_kept != 1) ::_exit(3);
    if (r->warnings.size() != 1 || r->warnings[0].find(chain.str()) == std::string::npos) ::_exit(4);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "needs CAP_SYS_ADMIN for a private mount namespace";
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(snapshot_exists(chain));  // kept; the mount died with the child's namespace
}

// Writers (WriteSession: lock shared + lease, then tag) race a collector in a
// loop. Whatever got tagged must be complete; whatever was abandoned must go.
TEST_F(GcTest, ConcurrentWritersAndCollector) {
  constexpr int kWriters = 3, kEach = 12;
  int stop[2];
  ASSERT_EQ(::pipe(stop), 0);
  pid_t collector = ::fork();
  ASSERT_GE(collector, 0);
  if (collector == 0) {
    ::close(stop[1]);
    auto s = Store::open(store_->root());
    if (!s) ::_exit(1);
    int runs = 0;
    for (;;) {
      auto r = collect_garbage(*s);
      if (!r) ::_exit(2);
      runs++;
      struct pollfd p = {stop[0], POLLIN, 0};
      if (::poll(&p, 1, 0) > 0 && runs >= 2) break;
    }
    ::_exit(0);
  }
  ::close(stop[0]);
  std::vector<pid_t> writers;
  for (int w = 0; w < kWriters; w++) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = Store::open(store_->root());
      if (!s) ::_exit(1);
      for (int i = 0; i < kEach; i++) {
        auto ws = WriteSession::begin(*s);
        if (!ws) ::_exit(2);
        std::string tag = "localhost/w" + std::to_string(w) + ":" + std::to_string(i);
        std::string layer = "\x1f\x8b" + tag;
        auto ld = s->content().put(layer);
        if (!ld || !ws->protect_blob(*ld)) ::_exit(3);
        std::string m = json{{"schemaVersion", 2}, {"layers", {desc(kLayer, *ld, layer.size())}}}.dump();
        auto md = s->content().put(m);
        if (!md || !ws->protect_blob(*md)) ::_exit(4);
        if (i % 3 == 2) continue;  // abandoned: the session's destructor drops the lease
        metadata::Image img{tag, {*md, kManifest, static_cast<int64_t>(m.size())}};
        if (!ws->commit({&img, 1})) ::_exit(5);
      }
      ::_exit(0);
    }
    writers.push_back(pid);
  }
  for (pid_t p : writers) {
    int status = 0;
    ASSERT_EQ(::waitpid(p, &status, 0), p);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "writer status " << status;
  }
  ASSERT_EQ(::write(stop[1], "x", 1), 1);
  ::close(stop[1]);
  int status = 0;
  ASSERT_EQ(::waitpid(collector, &status, 0), collector);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "collector status " << status;

  auto images = store_->db().list_images();
  ASSERT_TRUE(images.ok());
  EXPECT_EQ(images->size(), static_cast<size_t>(kWriters * (kEach - kEach / 3)));
  for (auto& img : *images) {
    auto m = store_->content().read_blob(img.target.digest);
    ASSERT_TRUE(m.ok()) << img.name << ": " << m.error().str();
    auto j = json::parse(*m);
    auto layer = Digest::parse(j["layers"][0]["digest"].get<std::string>());
    ASSERT_TRUE(layer.ok());
    EXPECT_TRUE(store_->content().has(*layer)) << img.name;
  }
  auto r = collect_garbage(*store_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(store_->content().list()->size(), images->size() * 2);
  EXPECT_TRUE(store_->db().list_leases()->empty());
}
