// Shared helpers for the journal tests: a private temp dir per test.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <string>

#include "base/fs.h"

namespace journal_test {

class TmpDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = berth::TempDir::create("/tmp", "berth-journal-test");
    ASSERT_TRUE(d.ok()) << d.error().str();
    dir_.emplace(std::move(*d));
  }
  std::string path(const std::string& name) const { return dir_->path() + "/" + name; }
  static void write_raw(const std::string& p, const std::string& data, bool append = false) {
    std::ofstream f(p, append ? std::ios::binary | std::ios::app : std::ios::binary | std::ios::trunc);
    f << data;
  }
  static std::string slurp(const std::string& p) {
    auto r = berth::read_file(p);
    return r.ok() ? *r : std::string();
  }
  std::optional<berth::TempDir> dir_;
};

}  // namespace journal_test
