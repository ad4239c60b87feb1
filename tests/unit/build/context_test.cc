// Source::match, Source::checksum and extract_context_tar.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdio>
#include <string>
#include <vector>

#include "../layer/tar_builder.h"
#include "build/context.h"
#include "fixture.h"

namespace berth::build {
namespace {

using Strings = std::vector<std::string>;

class Context : public testing::TmpTree {
 protected:
  void SetUp() override {
    TmpTree::SetUp();
    write("ctx/a.txt", "a");
    write("ctx/b.txt", "b");
    write("ctx/c.md", "c");
    write("ctx/dir/x.txt", "x");
    write("ctx/dir/sub/y.txt", "y");
    write("ctx/dir2/x.txt", "x2");
    write("ctx/secret.key", "k");
    write("ctx/vendor/lib.go", "lib");
    write("ctx/vendor/keep/k.go", "keep");
  }
  Source source(const std::string& ignore = "") {
    auto m = IgnoreMatcher::parse(ignore);
    EXPECT_TRUE(m.ok());
    auto s = Source::dir(path("ctx"), std::move(*m));
    EXPECT_TRUE(s.ok()) << s.error().str();
    return std::move(*s);
  }
  Strings match(const Source& s, const std::string& p) {
    auto r = s.match(p);
    EXPECT_TRUE(r.ok()) << p << ": " << r.error().str();
    return r.ok() ? *r : Strings{};
  }
  Digest sum(const Source& s, const Strings& paths, const std::string& cache = "") {
    auto d = s.checksum(paths, cache);
    EXPECT_TRUE(d.ok()) << d.error().str();
    return d.ok() ? *d : Digest();
  }
};

TEST_F(Context, ExactPathsAreCleanedInsideTheRoot) {
  auto s = source();
  EXPECT_EQ(match(s, "a.txt"), Strings{"a.txt"});
  EXPECT_EQ(match(s, "./a.txt"), Strings{"a.txt"});
  EXPECT_EQ(match(s, "/a.txt"), Strings{"a.txt"});
  EXPECT_EQ(match(s, "../../a.txt"), Strings{"a.txt"});  // clamped at the context root
  EXPECT_EQ(match(s, "dir/sub/../x.txt"), Strings{"dir/x.txt"});
  EXPECT_EQ(match(s, "dir/"), Strings{"dir"});
  EXPECT_EQ(match(s, "."), Strings{"."});
  EXPECT_EQ(match(s, "/"), Strings{"."});
}

TEST_F(Context, MissingOrExcludedIsAnErrorNamingThePath) {
  auto s = source("*.key\nvendor\n");
  auto missing = s.match("nope.txt");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);
  EXPECT_EQ(missing.error().message, "file not found in build context or excluded by .dockerignore: nope.txt");
  EXPECT_FALSE(s.match("secret.key").ok());
  EXPECT_FALSE(s.match("vendor/lib.go").ok());
  EXPECT_FALSE(s.match("vendor").ok());
  EXPECT_FALSE(s.match("a.txt/below").ok());  // a file as a directory
}

TEST_F(Context, WildcardsPerComponentSortedAndFiltered) {
  auto s = source("b.txt\n");
  EXPECT_EQ(match(s, "*.txt"), Strings{"a.txt"});
  EXPECT_EQ(match(s, "dir*/x.txt"), (Strings{"dir/x.txt", "dir2/x.txt"}));
  EXPECT_EQ(match(s, "dir*"), (Strings{"dir", "dir2"}));
  EXPECT_EQ(match(s, "?.md"), Strings{"c.md"});
  EXPECT_EQ(match(s, "[ab].txt"), Strings{"a.txt"});
  EXPECT_EQ(match(s, "dir/*/y.txt"), Strings{"dir/sub/y.txt"});
  auto none = s.match("*.nothing");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, Errc::not_found);
  EXPECT_NE(none.error().message.find("no source files were specified"), std::string::npos);
  auto only_excluded = s.match("b*");
  EXPECT_FALSE(only_excluded.ok());
  EXPECT_FALSE(s.match("[").ok());  // malformed pattern
}

TEST_F(Context, SymlinksResolveInsideTheRoot) {
  write("ctx/etc/passwd", "inside");
  symlink("/etc", "ctx/abs");
  symlink("../../../../etc", "ctx/rel");
  symlink("/etc/passwd", "ctx/final");
  auto s = source();
  // Through a directory link: the context's own etc/, never the host's.
  EXPECT_EQ(match(s, "abs/passwd"), Strings{"etc/passwd"});
  EXPECT_EQ(match(s, "rel/passwd"), Strings{"etc/passwd"});
  EXPECT_EQ(match(s, "abs/*"), Strings{"etc/passwd"});
  // A source that is a link keeps its name (COPY follows it when copying)...
  EXPECT_EQ(match(s, "final"), Strings{"final"});
  // ...so one leading nowhere inside the root is not found, even if the host has it.
  symlink("/nowhere/at/all", "ctx/dangling");
  symlink("/etc/hostname", "ctx/host-only");
  EXPECT_FALSE(s.match("dangling").ok());
  EXPECT_FALSE(s.match("host-only").ok());
  EXPECT_FALSE(s.match("dangling/x").ok());
  EXPECT_EQ(match(s, "*"), (Strings{"a.txt", "abs", "b.txt", "c.md", "dir", "dir2", "etc", "final", "rel",
                                     "secret.key", "vendor"}));  // wildcards skip the dead links
  // A link into an excluded directory does not reveal it.
  auto ig = source("etc\n");
  EXPECT_FALSE(ig.match("abs/passwd").ok());
}

TEST_F(Context, ReincludedFilesUnderExcludedDirectories) {
  auto s = source("vendor\n!vendor/keep\n");
  EXPECT_EQ(match(s, "vendor/keep/k.go"), Strings{"vendor/keep/k.go"});
  EXPECT_EQ(match(s, "vendor"), Strings{"vendor"});  // present as the parent of kept files
  EXPECT_FALSE(s.match("vendor/lib.go").ok());
}

TEST_F(Context, ChecksumIgnoresTimesButNotContentOrMode) {
  auto s = source();
  Digest d0 = sum(s, {"dir"});
  struct timespec ts[2] = {{1000, 0}, {1000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path("ctx/dir/x.txt").c_str(), ts, 0), 0);
  EXPECT_EQ(sum(s, {"dir"}), d0);
  write("ctx/dir/x.txt", "X");
  Digest d1 = sum(s, {"dir"});
  EXPECT_NE(d1, d0);
  ASSERT_EQ(::chmod(path("ctx/dir/x.txt").c_str(), 0600), 0);
  Digest d2 = sum(s, {"dir"});
  EXPECT_NE(d2, d1);
  write("ctx/dir/new.txt", "");
  EXPECT_NE(sum(s, {"dir"}), d2);
}

TEST_F(Context, ChecksumOnlySeesWhatSourcesReach) {
  auto s = source("dir/sub/ignored.txt\n");
  Digest d0 = sum(s, {"dir"});
  write("ctx/dir/sub/ignored.txt", "not in the context");
  write("ctx/elsewhere.txt", "not reached");
  EXPECT_EQ(sum(s, {"dir"}), d0);
  EXPECT_NE(sum(s, {"dir2"}), d0);
  EXPECT_NE(sum(s, {"dir", "dir2"}), sum(s, {"dir2", "dir"}));  // order is the copy order
  // The same bytes under another source name are another source.
  EXPECT_NE(sum(s, {"a.txt"}), sum(s, {"b.txt"}));
  symlink("a.txt", "ctx/link");
  Digest l0 = sum(s, {"link"});
  ASSERT_EQ(::unlink(path("ctx/link").c_str()), 0);
  symlink("b.txt", "ctx/link");
  EXPECT_NE(sum(s, {"link"}), l0);  // a source link is followed: what it points to
  EXPECT_FALSE(s.checksum({"missing"}).ok());
}

TEST_F(Context, ChecksumMemo) {
  mkdirs("cache");
  auto s = source();
  Digest plain = sum(s, {"."});
  Digest memo1 = sum(s, {"."}, path("cache"));
  EXPECT_EQ(memo1, plain);
  EXPECT_TRUE(exists("cache/files.json"));
  std::string memo_text = read("cache/files.json");
  EXPECT_NE(memo_text.find("\"version\":1"), std::string::npos);
  EXPECT_EQ(sum(s, {"."}, path("cache")), plain);
  write("ctx/a.txt", "changed");  // new ctime and content: the memo must not answer
  Digest changed = sum(s, {"."}, path("cache"));
  EXPECT_NE(changed, plain);
  EXPECT_EQ(changed, sum(s, {"."}));
  write("cache/files.json", "{corrupt");
  EXPECT_EQ(sum(s, {"."}, path("cache")), changed);
  // The memo really answers: a planted digest for a.txt's (dev, ino, size,
  // mtime, ctime) key changes the sum, so the file was not re-read.
  struct stat st;
  ASSERT_EQ(::stat(path("ctx/a.txt").c_str(), &st), 0);
  char key[160];
  std::snprintf(key, sizeof key, "%u:%u:%llu:%lld:%lld.%09ld:%lld.%09ld", major(st.st_dev), minor(st.st_dev),
                static_cast<unsigned long long>(st.st_ino), static_cast<long long>(st.st_size),
                static_cast<long long>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec,
                static_cast<long long>(st.st_ctim.tv_sec), st.st_ctim.tv_nsec);
  mkdirs("planted");
  write("planted/files.json", std::string("{\"version\":1,\"files\":{\"") + key + "\":\"" + std::string(64, '0') + "\"}}");
  EXPECT_NE(sum(s, {"a.txt"}, path("planted")), sum(s, {"a.txt"}));
  // A cache dir that does not exist yet is created.
  EXPECT_EQ(sum(s, {"."}, path("cache/new")), changed);
  EXPECT_TRUE(exists("cache/new/files.json"));
}

TEST_F(Context, ExtractContextTar) {
  mkdirs("out");
  std::string tar = layer::testing::TarBuilder("gzip")
                        .dir("src", {.mode = 0755})
                        .file("src/main.c", "int main(){}", {.mode = 0644})
                        .file("Dockerfile", "FROM scratch\n")
                        .symlink("src/link", "/etc/passwd")
                        .finish();
  write("ctx.tar.gz", tar);
  int fd = ::open(path("ctx.tar.gz").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto st = extract_context_tar(fd, path("out"));
  ASSERT_TRUE(st.ok()) << st.error().str();
  EXPECT_EQ(::fcntl(fd, F_GETFD), FD_CLOEXEC);  // the caller's fd is left open
  ::close(fd);
  EXPECT_EQ(read("out/src/main.c"), "int main(){}");
  EXPECT_EQ(read("out/Dockerfile"), "FROM scratch\n");
  EXPECT_TRUE(S_ISLNK(lstat_of("out/src/link").st_mode));
  // Not into a non-empty directory.
  fd = ::open(path("ctx.tar.gz").c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_FALSE(extract_context_tar(fd, path("out")).ok());
  ::close(fd);
}

TEST_F(Context, ExtractContextTarRefusesEscapes) {
  mkdirs("out2");
  write("evil.tar", layer::testing::TarBuilder().file("../escaped", "x").finish());
  int fd = ::open(path("evil.tar").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto st = extract_context_tar(fd, path("out2"));
  ::close(fd);
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(exists("escaped"));
}

}  // namespace
}  // namespace berth::build
