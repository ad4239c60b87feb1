#include "base/fs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

using namespace berth;

TEST(Fs, AtomicWriteAndRead) {
  auto td = TempDir::create("/tmp", "berth-fs-test");
  ASSERT_TRUE(td.ok());
  std::string p = td->path() + "/a/b/file";
  ASSERT_TRUE(mkdir_p(dirname_of(p)).ok());
  ASSERT_TRUE(atomic_write_file(p, "hello", 0600).ok());
  auto r = read_file(p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "hello");
  struct stat st;
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(read_file(p, 3).error().code, Errc::limit);
}

TEST(Fs, RemoveAllDoesNotFollowSymlinks) {
  auto outside = TempDir::create("/tmp", "berth-fs-outside");
  auto td = TempDir::create("/tmp", "berth-fs-test");
  ASSERT_TRUE(outside.ok() && td.ok());
  ASSERT_TRUE(atomic_write_file(outside->path() + "/keep", "x").ok());
  ASSERT_EQ(::symlink(outside->path().c_str(), (td->path() + "/link").c_str()), 0);
  ASSERT_TRUE(mkdir_p(td->path() + "/d/e").ok());
  ::chmod((td->path() + "/d").c_str(), 0);
  ASSERT_TRUE(remove_all(td->path()).ok());
  EXPECT_FALSE(path_exists(td->path()));
  EXPECT_TRUE(path_exists(outside->path() + "/keep"));
}

TEST(Fs, MkdirPCreatesMissingParentsAndChecksWhatExists) {
  auto td = TempDir::create("/tmp", "berth-fs-test");
  ASSERT_TRUE(td.ok());
  std::string deep = td->path() + "/x/y/z/";
  ASSERT_TRUE(mkdir_p(deep, 0750).ok());
  struct stat st;
  ASSERT_EQ(::stat((td->path() + "/x/y/z").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_TRUE(mkdir_p(deep).ok());  // exists: fine
  ASSERT_TRUE(atomic_write_file(td->path() + "/x/file", "f").ok());
  auto e = mkdir_p(td->path() + "/x/file");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().str().find("not a directory"), std::string::npos) << e.error().str();
  EXPECT_FALSE(mkdir_p(td->path() + "/x/file/sub").ok());  // a file as a parent
  EXPECT_TRUE(mkdir_p("/").ok());
}

TEST(Fs, RemoveAllRemovesFilesLinksAndUnwritableDirs) {
  auto td = TempDir::create("/tmp", "berth-fs-test");
  ASSERT_TRUE(td.ok());
  std::string r = td->path() + "/tree";
  ASSERT_TRUE(mkdir_p(r + "/a/b").ok());
  ASSERT_TRUE(atomic_write_file(r + "/f", "1").ok());
  ASSERT_TRUE(atomic_write_file(r + "/a/b/g", "2").ok());
  ASSERT_EQ(::symlink("/nonexistent", (r + "/a/dangling").c_str()), 0);
  ASSERT_EQ(::mkfifo((r + "/a/fifo").c_str(), 0600), 0);
  ::chmod((r + "/a/b").c_str(), 0);  // like overlayfs' work/work
  ::chmod((r + "/a").c_str(), 0500);
  ASSERT_TRUE(remove_all(r).ok());
  EXPECT_FALSE(path_exists(r));
  EXPECT_TRUE(remove_all(r).ok());  // already gone: fine
}

TEST(Errors, TryPropagates) {
  auto f = []() -> Result<int> { return Error(Errc::not_found, "blob sha256:x: not found"); };
  auto g = [&]() -> Result<int> {
    TRY_ASSIGN(int v, f());
    return v + 1;
  };
  auto r = g();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::not_found);
}

// Go's filepath.Clean table (path/filepath/path_test.go), slash paths only.
TEST(PathClean, MatchesGoClean) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "."},          {"abc", "abc"},       {"abc/def", "abc/def"}, {"a/b/c", "a/b/c"},
      {".", "."},         {"..", ".."},         {"../..", "../.."},     {"../../abc", "../../abc"},
      {"/abc", "/abc"},   {"/", "/"},           {"abc/", "abc"},        {"/abc/", "/abc"},
      {"abc//def//ghi", "abc/def/ghi"},         {"//abc", "/abc"},      {"abc//", "abc"},
      {"abc/./def", "abc/def"},                 {"/./abc/def", "/abc/def"}, {"abc/.", "abc"},
      {"abc/def/ghi/../jkl", "abc/def/jkl"},    {"abc/def/../ghi/../jkl", "abc/jkl"},
      {"abc/def/..", "abc"},                    {"abc/def/../..", "."}, {"/abc/def/../..", "/"},
      {"abc/def/../../..", ".."},               {"/abc/def/../../..", "/"},
      {"abc/def/../../../ghi/jkl/../../../mno", "../../mno"}, {"/../abc", "/abc"},
      {"abc/./../def", "def"},                  {"abc//./../def", "def"}, {"abc/../../././../def", "../../def"},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(berth::path_clean(in), want) << in;
}
