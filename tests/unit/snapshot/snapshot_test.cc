#include "snapshot/snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <atomic>
#include <map>
#include <thread>

#include "base/fs.h"
#include "tests/unit/layer/tar_builder.h"

namespace berth::snapshot {
namespace {

using layer::testing::TarBuilder;

// A fake blob store: digest -> file, counting opens.
class Blobs {
 public:
  explicit Blobs(std::string dir) : dir_(std::move(dir)) {}
  // Returns the layer (blob digest, diff_id) for a tar built by `b`.
  Layer add(const std::string& plain, const std::string& compressed) {
    Digest blob = Digest::of(compressed);
    EXPECT_TRUE(atomic_write_file(dir_ + "/" + blob.hex(), compressed).ok());
    return {blob, Digest::of(plain)};
  }
  BlobOpener opener() {
    return [this](const Digest& d) -> Result<UniqueFd> {
      opens++;
      int fd = ::open((dir_ + "/" + d.hex()).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return sys_error("open blob " + d.str());
      return UniqueFd(fd);
    };
  }
  std::atomic<int> opens{0};

 private:
  std::string dir_;
};

template <class F>
Layer make_layer(Blobs& blobs, F build) {
  TarBuilder plain("none"), gz("gzip");
  build(plain);
  build(gz);
  return blobs.add(plain.finish(), gz.finish());
}

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::create("/tmp", "berth-snapshot-test");
    ASSERT_TRUE(t.ok());
    tmp_ = std::make_unique<TempDir>(std::move(*t));
    ASSERT_TRUE(mkdir_p(tmp_->path() + "/blobs").ok());
    blobs_ = std::make_unique<Blobs>(tmp_->path() + "/blobs");
    base_ = make_layer(*blobs_, [](TarBuilder& b) {
      b.dir("etc/").file("etc/os-release", "base\n").file("etc/gone", "x").dir("opt/").file("opt/old", "o");
    });
    top_ = make_layer(*blobs_, [](TarBuilder& b) {
      b.file("etc/.wh.gone", "").dir("opt/").file("opt/.wh..wh..opq", "").file("opt/new", "n").file("top", "t");
    });
  }
  std::string root() const { return tmp_->path() + "/root"; }

  std::unique_ptr<TempDir> tmp_;
  std::unique_ptr<Blobs> blobs_;
  Layer base_, top_;
};

TEST(ChainId, FollowsImageSpec) {
  Digest a = Digest::of("a"), b = Digest::of("b"), c = Digest::of("c");
  auto ids = chain_ids({a, b, c});
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], a);
  EXPECT_EQ(ids[1], Digest::of(a.str() + " " + b.str()));
  EXPECT_EQ(ids[2], Digest::of(ids[1].str() + " " + c.str()));
}

TEST_F(SnapshotTest, PrepareUnpacksEachChainOnceAndOrdersLowerdirs) {
  auto sn = Snapshotter::open(root());
  ASSERT_TRUE(sn.ok()) << sn.error().str();
  auto lower = sn->prepare({base_, top_}, blobs_->opener());
  ASSERT_TRUE(lower.ok()) << lower.error().str();
  auto chains = chain_ids({base_.diff_id, top_.diff_id});
  ASSERT_EQ(lower->size(), 2u);
  EXPECT_EQ((*lower)[0], root() + "/snapshots/sha256/" + chains[1].hex() + "/fs");
  EXPECT_EQ((*lower)[1], root() + "/snapshots/sha256/" + chains[0].hex() + "/fs");
  EXPECT_EQ(blobs_->opens, 2);

  auto again = sn->prepare({base_, top_}, blobs_->opener());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *lower);
  EXPECT_EQ(blobs_->opens, 2) << "an existing chain must not be unpacked again";

  auto info = sn->info(chains[1]);
  ASSERT_TRUE(info.ok()) << info.error().str();
  EXPECT_EQ(info->chain_id, chains[1]);
  ASSERT_TRUE(info->parent.has_value());
  EXPECT_EQ(*info->parent, chains[0]);
  EXPECT_EQ(info->diff_id, top_.diff_id);
  EXPECT_EQ(info->blob, top_.blob);
  EXPECT_GT(info->size, 0u);
  EXPECT_FALSE(sn->info(chains[0])->parent.has_value());
  auto all = sn->list();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
}

TEST_F(SnapshotTest, SnapshotsHoldOverlayWhiteouts) {
  if (::geteuid() != 0) GTEST_SKIP() << "overlay whiteouts need root";
  auto sn = Snapshotter::open(root());
  ASSERT_TRUE(sn.ok());
  auto lower = sn->prepare({base_, top_}, blobs_->opener());
  ASSERT_TRUE(lower.ok()) << lower.error().str();
  struct stat st;
  ASSERT_EQ(::lstat(((*lower)[0] + "/etc/gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  char v[8];
  EXPECT_EQ(::getxattr(((*lower)[0] + "/opt").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);

  // The kernel agrees: an overlay mount of the lowerdirs shows the merged view.
  std::string mnt = tmp_->path() + "/mnt";
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);
  std::string opts = "lowerdir=" + (*lower)[0] + ":" + (*lower)[1];
  if (::mount("overlay", mnt.c_str(), "overlay", MS_RDONLY, opts.c_str()) != 0)
    GTEST_SKIP() << "overlay mount not permitted here: " << std::strerror(errno);
  bool gone = !path_exists(mnt + "/etc/gone");
  bool kept = path_exists(mnt + "/etc/os-release");
  bool opq = !path_exists(mnt + "/opt/old") && path_exists(mnt + "/opt/new");
  ::umount2(mnt.c_str(), MNT_DETACH);
  EXPECT_TRUE(gone);
  EXPECT_TRUE(kept);
  EXPECT_TRUE(opq);
}

TEST_F(SnapshotTest, DiffIdMismatchLeavesNoSnapshot) {
  auto sn = Snapshotter::open(root());
  ASSERT_TRUE(sn.ok());
  Layer bad = top_;
  bad.diff_id = Digest::of("not this");
  auto r = sn->prepare({base_, bad}, blobs_->opener());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::digest_mismatch);
  EXPECT_NE(r.error().message.find(top_.blob.str()), std::string::npos) << r.error().message;
  auto chains = chain_ids({base_.diff_id, bad.diff_id});
  EXPECT_TRUE(sn->has(chains[0]));
  EXPECT_FALSE(path_exists(sn->dir(chains[1])));
  auto tmp_entries = 0;
  DIR* d = ::opendir((root() + "/snapshots/tmp").c_str());
  while (auto* e = ::readdir(d)) tmp_entries += e->d_name[0] != '.';
  ::closedir(d);
  EXPECT_EQ(tmp_entries, 0);
}

TEST_F(SnapshotTest, ConcurrentPreparesAgree) {
  std::vector<std::thread> ts;
  std::vector<Result<std::vector<std::string>>> results(4, Error(Errc::internal, "not run"));
  for (int i = 0; i < 4; i++)
    ts.emplace_back([&, i] {
      auto sn = Snapshotter::open(root());
      if (!sn) {
        results[i] = sn.error();
        return;
      }
      results[i] = sn->prepare({base_, top_}, blobs_->opener());
    });
  for (auto& t : ts) t.join();
  for (auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.error().str();
    EXPECT_EQ(*r, *results[0]);
  }
  EXPECT_TRUE(path_exists((*results[0])[0] + "/top"));
}

TEST_F(SnapshotTest, RemoveAndExpireTmp) {
  auto sn = Snapshotter::open(root());
  ASSERT_TRUE(sn.ok());
  ASSERT_TRUE(sn->prepare({base_, top_}, blobs_->opener()).ok());
  auto chains = chain_ids({base_.diff_id, top_.diff_id});
  ASSERT_TRUE(sn->remove(chains[1]).ok());
  EXPECT_FALSE(path_exists(sn->dir(chains[1])));
  EXPECT_TRUE(sn->has(chains[0]));
  EXPECT_TRUE(sn->remove(chains[1]).ok()) << "removing a missing snapshot is fine";
  // A crashed unpack's leftovers go once old enough, and only then.
  std::string stale = root() + "/snapshots/tmp/unpack.crashed";
  ASSERT_TRUE(mkdir_p(stale + "/fs/etc").ok());
  ASSERT_TRUE(sn->expire_tmp(3600).ok());
  EXPECT_TRUE(path_exists(stale));
  struct timespec old[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, stale.c_str(), old, 0), 0);
  ASSERT_TRUE(sn->expire_tmp(3600).ok());
  EXPECT_FALSE(path_exists(stale));
  // And prepare brings the removed chain back.
  auto again = sn->prepare({base_, top_}, blobs_->opener());
  ASSERT_TRUE(again.ok()) << again.error().str();
  EXPECT_TRUE(sn->has(chains[1]));
}

TEST_F(SnapshotTest, UnpackFlatAppliesWhiteouts) {
  std::string out = tmp_->path() + "/rootfs";
  auto s = unpack_flat({base_, top_}, blobs_->opener(), out);
  ASSERT_TRUE(s.ok()) << s.error().str();
  EXPECT_TRUE(path_exists(out + "/etc/os-release"));
  EXPECT_FALSE(path_exists(out + "/etc/gone"));
  EXPECT_FALSE(path_exists(out + "/opt/old"));
  EXPECT_TRUE(path_exists(out + "/opt/new"));
  EXPECT_TRUE(path_exists(out + "/top"));
  EXPECT_FALSE(unpack_flat({base_}, blobs_->opener(), out).ok()) << "must refuse an existing dir";
}

TEST_F(SnapshotTest, UnpackFlatFailureLeavesNothing) {
  std::string out = tmp_->path() + "/rootfs";
  Layer hostile = make_layer(*blobs_, [](TarBuilder& b) { b.file("ok", "1").file("../escape", "x"); });
  auto s = unpack_flat({base_, hostile}, blobs_->opener(), out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("../escape"), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find(hostile.blob.str()), std::string::npos) << s.error().message;
  EXPECT_FALSE(path_exists(out));
  DIR* d = ::opendir(tmp_->path().c_str());
  int leftovers = 0;
  while (auto* e = ::readdir(d)) leftovers += std::string(e->d_name).find("unpack") != std::string::npos;
  ::closedir(d);
  EXPECT_EQ(leftovers, 0);
}

}  // namespace
}  // namespace berth::snapshot
