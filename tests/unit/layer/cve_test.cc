// Regression tests for the classes of tar-extraction escapes peers shipped
// CVEs for. Each crafts the hostile layer itself, applies it next to an
// "outside" sentinel tree, and asserts that nothing outside the target
// changed and that a refused layer's error names the offending entry. Every
// test runs twice: with openat2 and the file pool, and with the O_NOFOLLOW
// component walk on a single thread.
#include "layer/layer.h"
#include "tests/unit/layer/fixture.h"
#include "tests/unit/layer/tar_builder.h"

namespace berth::layer::testing {
namespace {

class CveTest : public LayerFixture, public ::testing::WithParamInterface<bool> {
 protected:
  ApplyOptions Opts(Whiteouts w = Whiteouts::flatten) {
    ApplyOptions o;
    o.whiteouts = w;
    o.label = "sha256:hostile";
    o.force_walk_resolver = GetParam();
    // The walk variant also applies everything on one thread; the openat2
    // variant uses the file pool, so both orders of execution are covered.
    o.threads = GetParam() ? 1 : 4;
    return o;
  }
  void ExpectRefused(const Result<ApplyStats>& r, const std::string& entry) {
    ASSERT_FALSE(r.ok()) << "hostile layer was accepted";
    EXPECT_NE(r.error().message.find("sha256:hostile"), std::string::npos) << r.error().str();
    EXPECT_NE(r.error().message.find("entry \"" + entry + "\""), std::string::npos) << r.error().str();
    EXPECT_EQ(r.error().str().find('\n'), std::string::npos) << "error must be one line";
  }
};

// moby CVE-2014-6407: a symlink pointing outside, then an entry written through it.
TEST_P(CveTest, CVE_2014_6407_WriteThroughAbsoluteSymlink) {
  auto r = Apply(TarBuilder().symlink("escape", outside_).file("escape/passwd", "pwned").finish(), Opts());
  // Resolved as if target were "/", the symlink dangles: refused, nothing written.
  ExpectOutsideUntouched();
  ExpectRefused(r, "escape/passwd");
}

TEST_P(CveTest, CVE_2014_6407_WriteThroughRelativeSymlink) {
  auto r = Apply(TarBuilder().symlink("escape", "../outside").file("escape/passwd", "pwned").finish(), Opts());
  ExpectOutsideUntouched();
  ExpectRefused(r, "escape/passwd");
}

TEST_P(CveTest, CVE_2014_6407_HardlinkToSymlinkThenWrite) {
  // A hard link to an escaping symlink is a hard link to the symlink itself;
  // writing "h" afterwards replaces h, never the symlink's target.
  auto r = Apply(TarBuilder()
                     .symlink("s", outside_ + "/passwd")
                     .hardlink("h", "s")
                     .file("h", "pwned", {.mode = 0777})
                     .file("s", "replaced")
                     .finish(),
                 Opts());
  ASSERT_TRUE(r.ok()) << r.error().str();
  ExpectOutsideUntouched();
  EXPECT_EQ(Slurp(T("h")), "pwned");
}

TEST_P(CveTest, CVE_2014_6407_SymlinkDirectoryThenFile) {
  auto r = Apply(TarBuilder().symlink("etc", "/../../../..").file("etc/x", "pwned").finish(), Opts());
  // ".." is clamped at the root: the file lands in the root itself.
  ASSERT_TRUE(r.ok()) << r.error().str();
  ExpectOutsideUntouched();
  EXPECT_EQ(Slurp(T("x")), "pwned");
}

// moby CVE-2014-9356: a symlink in a path component used by a *later* entry,
// after a directory of the same name existed.
TEST_P(CveTest, CVE_2014_9356_SymlinkReplacesDirectoryMidLayer) {
  auto r = Apply(TarBuilder()
                     .dir("d/")
                     .file("d/a", "a")  // primes the parent-dir cache with "d"
                     .symlink("d", outside_)
                     .file("d/passwd", "pwned")
                     .file("d/dir/keep", "pwned")
                     .finish(),
                 Opts());
  ExpectOutsideUntouched();
  ExpectRefused(r, "d/passwd");
}

TEST_P(CveTest, CVE_2014_9356_SymlinkChainInComponents) {
  auto r = Apply(TarBuilder()
                     .dir("a/")
                     .symlink("a/b", "../c")
                     .symlink("c", "../../../../" + outside_)
                     .file("a/b/passwd", "pwned")
                     .finish(),
                 Opts());
  ExpectOutsideUntouched();
  ExpectRefused(r, "a/b/passwd");
}

// containerd CVE-2021-32760: chmod applied through a symlink to its target.
TEST_P(CveTest, CVE_2021_32760_NoChmodThroughSymlink) {
  std::string target = outside_ + "/passwd";
  auto r = Apply(TarBuilder()
                     .symlink("s", target, {.mode = 0777})
                     .hardlink("h", "s", {.mode = 06777})
                     .symlink("s2", target, {.mode = 04777, .uid = 1234, .gid = 1234, .mtime = 1})
                     .finish(),
                 Opts());
  ASSERT_TRUE(r.ok()) << r.error().str();
  ExpectOutsideUntouched();
}

TEST_P(CveTest, CVE_2021_32760_NoChmodThroughSymlinkedDirectory) {
  // "s/" names the symlink itself (trailing slash is not resolution): it is
  // replaced by a real directory, the symlink's target is never touched.
  auto r = Apply(TarBuilder().symlink("s", outside_).dir("s/", {.mode = 0777, .mtime = 5}).finish(), Opts());
  ASSERT_TRUE(r.ok()) << r.error().str();
  ExpectOutsideUntouched();
  EXPECT_TRUE(S_ISDIR(Lstat(T("s")).st_mode));
  EXPECT_EQ(Lstat(T("s")).st_mode & 07777, 0777u);
}

TEST_P(CveTest, BareWhiteoutRefused) {
  ExpectRefused(Apply(TarBuilder().file(".wh.", "").finish(), Opts()), ".wh.");
  ExpectRefused(Apply(TarBuilder().file("dir/.wh.", "").finish(), Opts(Whiteouts::overlay)), "dir/.wh.");
  ExpectOutsideUntouched();
}

TEST_P(CveTest, WhiteoutOfDotDotRefused) {
  ExpectRefused(Apply(TarBuilder().file("sub/.wh..", "").finish(), Opts()), "sub/.wh..");
  // ".wh..." is the whiteout of ".." (with the prefix ".wh." removed).
  ExpectRefused(Apply(TarBuilder().file("sub/.wh...", "").finish(), Opts()), "sub/.wh...");
  ExpectOutsideUntouched();
}

TEST_P(CveTest, WhiteoutThroughSymlinkedParentStaysInside) {
  auto r = Apply(TarBuilder()
                     .symlink("s", outside_)
                     .file("s/.wh.passwd", "")
                     .file("s/.wh.dir", "")
                     .symlink("t", "../outside")
                     .file("t/.wh..wh..opq", "")
                     .finish(),
                 Opts());
  ASSERT_TRUE(r.ok()) << r.error().str();
  ExpectOutsideUntouched();
}

TEST_P(CveTest, OpaqueThroughSymlinkedParentStaysInside) {
  auto r = Apply(TarBuilder().symlink("s", outside_).file("s/.wh..wh..opq", "").finish(), Opts());
  ASSERT_TRUE(r.ok()) << r.error().str();
  ExpectOutsideUntouched();
}

// Absolute names are rooted at the target (Docker and containerd do the same;
// umoci writes "/" for the root entry): they land inside, never on the host.
TEST_P(CveTest, AbsoluteNamesStayInside) {
  auto r = Apply(TarBuilder().dir("/").file(outside_ + "/passwd", "pwned").file("/etc/passwd", "inside").finish(), Opts());
  ASSERT_TRUE(r.ok()) << r.error().str();
  ExpectOutsideUntouched();
  struct stat st;
  EXPECT_EQ(::lstat(T("etc/passwd").c_str(), &st), 0);
  EXPECT_EQ(::lstat(T(outside_.substr(1) + "/passwd").c_str(), &st), 0);
}

TEST_P(CveTest, DotDotRefused) {
  ExpectRefused(Apply(TarBuilder().file("../outside/passwd", "pwned").finish(), Opts()), "../outside/passwd");
  ExpectRefused(Apply(TarBuilder().file("a/../../outside/passwd", "pwned").finish(), Opts()), "a/../../outside/passwd");
  ExpectRefused(Apply(TarBuilder().dir("ok/").file("ok/..", "x").finish(), Opts()), "ok/..");
  ExpectRefused(Apply(TarBuilder().symlink("../outside/link", "/x").finish(), Opts()), "../outside/link");
  ExpectOutsideUntouched();
}

TEST_P(CveTest, HardlinkToOutsideRefused) {
  ExpectRefused(Apply(TarBuilder().hardlink("h", "../outside/passwd").finish(), Opts()), "h");
  ExpectRefused(Apply(TarBuilder().hardlink("h", outside_ + "/passwd").finish(), Opts()), "h");
  // Through a symlinked parent the target is looked up inside the root: not found.
  ExpectRefused(Apply(TarBuilder().symlink("s", outside_).hardlink("h", "s/passwd").finish(), Opts()), "h");
  ExpectRefused(Apply(TarBuilder().symlink("s", "../outside").hardlink("h2", "s/passwd").finish(), Opts()), "h2");
  ExpectOutsideUntouched();
  EXPECT_EQ(Lstat(outside_ + "/passwd").st_nlink, 1u);
}

TEST_P(CveTest, HardlinkToDirectoryOrItselfRefused) {
  ExpectRefused(Apply(TarBuilder().dir("d/").hardlink("h", "d").finish(), Opts()), "h");
  ExpectRefused(Apply(TarBuilder().file("f", "x").hardlink("f", "f").finish(), Opts()), "f");
}

TEST_P(CveTest, DevicesNotCreatedWhenRootless) {
  auto o = Opts();
  o.rootless = true;
  auto r = Apply(TarBuilder().chardev("mem", 1, 1).chardev("sda", 8, 0).finish(), o);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_FALSE(Exists(T("mem")));
  EXPECT_EQ(r->skipped, 2u);
}

TEST_P(CveTest, AbsurdSizesRefused) {
  auto o = Opts();
  o.max_file_size = 1 << 20;
  ExpectRefused(Apply(lying_tar("huge", 1ull << 40, ""), o), "huge");
  // A header promising more data than the stream has.
  auto r = Apply(lying_tar("short", 1 << 16, "abc"), Opts());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("short"), std::string::npos) << r.error().str();
  // Decompression bombs are cut off at the stream limit.
  auto o2 = Opts();
  o2.max_uncompressed_size = 1 << 20;
  auto bomb = Apply(TarBuilder("gzip").file("zeros", std::string(4 << 20, '\0')).finish(), o2);
  ASSERT_FALSE(bomb.ok());
  EXPECT_EQ(bomb.error().code, Errc::limit) << bomb.error().str();
  auto o3 = Opts();
  o3.max_path = 64;
  ExpectRefused(Apply(TarBuilder().file("f", "x").symlink("l", std::string(100, 'a')).finish(), o3), "l");
  auto o4 = Opts();
  o4.max_entries = 2;
  EXPECT_FALSE(Apply(TarBuilder().file("a", "").file("b", "").file("c", "").finish(), o4).ok());
  ExpectOutsideUntouched();
}

TEST_P(CveTest, RootEntryMustBeADirectory) {
  ExpectRefused(Apply(TarBuilder().symlink("./", outside_).finish(), Opts()), "./");
  ExpectOutsideUntouched();
}

INSTANTIATE_TEST_SUITE_P(Resolvers, CveTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "walk" : "openat2"; });

}  // namespace
}  // namespace berth::layer::testing
