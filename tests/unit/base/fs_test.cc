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
