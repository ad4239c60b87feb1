// Test helper: a scratch area with a target dir and an "outside" sentinel tree
// that hostile layers try to reach.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <map>
#include <string>

#include "base/fs.h"
#include "digest/digest.h"
#include "layer/layer.h"

namespace berth::layer::testing {

// path -> "type mode uid gid size mtime content-digest/link-target"
inline void describe_tree(const std::string& root, const std::string& rel, std::map<std::string, std::string>& out) {
  std::string p = rel.empty() ? root : root + "/" + rel;
  struct stat st;
  if (::lstat(p.c_str(), &st) != 0) return;
  std::string d = std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) +
                  " " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + " " +
                  std::to_string(st.st_nlink);
  if (S_ISREG(st.st_mode)) {
    auto data = read_file(p);
    d += " " + (data ? Digest::of(*data).hex() : "?");
  } else if (S_ISLNK(st.st_mode)) {
    char buf[4096];
    ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
    d += " -> " + std::string(buf, n > 0 ? n : 0);
  }
  out[rel.empty() ? "." : rel] = d;
  if (S_ISDIR(st.st_mode)) {
    DIR* dir = ::opendir(p.c_str());
    if (!dir) return;
    while (auto* e = ::readdir(dir)) {
      std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      describe_tree(root, rel.empty() ? n : rel + "/" + n, out);
    }
    ::closedir(dir);
  }
}

class LayerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::create("/tmp", "berth-layer-test");
    ASSERT_TRUE(t.ok()) << t.error().str();
    tmp_ = std::make_unique<TempDir>(std::move(*t));
    base_ = tmp_->path();
    target_ = base_ + "/target";
    outside_ = base_ + "/outside";
    ASSERT_EQ(::mkdir(target_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(outside_.c_str(), 0755), 0);
    ASSERT_TRUE(atomic_write_file(outside_ + "/passwd", "root:x:0:0\n", 0644).ok());
    ASSERT_EQ(::mkdir((outside_ + "/dir").c_str(), 0755), 0);
    ASSERT_TRUE(atomic_write_file(outside_ + "/dir/keep", "keep\n", 0600).ok());
    describe_tree(outside_, "", before_);
  }

  // Asserts nothing under outside/ changed (and nothing new appeared beside target).
  void ExpectOutsideUntouched() {
    std::map<std::string, std::string> now;
    describe_tree(outside_, "", now);
    EXPECT_EQ(before_, now);
    DIR* d = ::opendir(base_.c_str());
    ASSERT_NE(d, nullptr);
    int n = 0;
    while (auto* e = ::readdir(d)) n += std::string(e->d_name) != "." && std::string(e->d_name) != "..";
    ::closedir(d);
    EXPECT_LE(n, 3) << "something was created beside the target";  // target, outside, blob
  }

  Result<ApplyStats> Apply(const std::string& blob, ApplyOptions o = {}) {
    std::string path = base_ + "/blob";
    EXPECT_TRUE(atomic_write_file(path, blob).ok());
    if (o.label.empty()) o.label = "test";
    return apply_layer(path, target_, o);
  }
  Result<ApplyStats> ApplyTo(const std::string& dir, const std::string& blob, ApplyOptions o = {}) {
    std::string path = base_ + "/blob";
    EXPECT_TRUE(atomic_write_file(path, blob).ok());
    if (o.label.empty()) o.label = "test";
    return apply_layer(path, dir, o);
  }

  std::string T(const std::string& rel) const { return target_ + "/" + rel; }
  static bool Exists(const std::string& p) {
    struct stat st;
    return ::lstat(p.c_str(), &st) == 0;
  }
  static struct stat Lstat(const std::string& p) {
    struct stat st{};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st;
  }
  static std::string Slurp(const std::string& p) {
    auto r = read_file(p);
    return r ? *r : std::string("<missing>");
  }
  static std::string Xattr(const std::string& p, const char* name) {
    char buf[1024];
    ssize_t n = ::lgetxattr(p.c_str(), name, buf, sizeof buf);
    return n < 0 ? std::string("<none>") : std::string(buf, n);
  }

  std::unique_ptr<TempDir> tmp_;
  std::string base_, target_, outside_;
  std::map<std::string, std::string> before_;
};

}  // namespace berth::layer::testing
