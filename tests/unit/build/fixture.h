// Test helpers for the build context and COPY tests: a temp dir removed even
// when the test fails, and small file helpers.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "base/fs.h"

namespace berth::build::testing {

class TmpTree : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::create("/tmp", "berth-build-test");
    ASSERT_TRUE(t.ok()) << t.error().str();
    dir_ = t->release();
  }
  void TearDown() override {
    if (!dir_.empty()) (void)remove_all(dir_);
  }
  std::string path(const std::string& rel) const { return dir_ + "/" + rel; }

  void mkdirs(const std::string& rel, mode_t mode = 0755) {
    ASSERT_TRUE(mkdir_p(path(rel), mode).ok()) << rel;
  }
  void write(const std::string& rel, const std::string& data, mode_t mode = 0644) {
    auto slash = rel.rfind('/');
    if (slash != std::string::npos) mkdirs(rel.substr(0, slash));
    std::string p = path(rel);
    ::unlink(p.c_str());
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    ASSERT_GE(fd, 0) << p;
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ::fchmod(fd, mode);
    ::close(fd);
  }
  void symlink(const std::string& target, const std::string& rel) {
    ASSERT_EQ(::symlink(target.c_str(), path(rel).c_str()), 0) << rel;
  }
  std::string read(const std::string& rel) const {
    auto r = read_file(path(rel));
    return r.ok() ? *r : std::string("<missing>");
  }
  struct stat lstat_of(const std::string& rel) const {
    struct stat st {};
    if (::lstat(path(rel).c_str(), &st) != 0) st.st_mode = 0;
    return st;
  }
  bool exists(const std::string& rel) const { return lstat_of(rel).st_mode != 0; }

  std::string dir_;
};

}  // namespace berth::build::testing
