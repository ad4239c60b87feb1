// Entry types, metadata, whiteouts (both modes), compression and digests.
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include <cstdio>

#include "layer/layer.h"
#include "tests/unit/layer/fixture.h"
#include "tests/unit/layer/tar_builder.h"

namespace berth::layer::testing {
namespace {

class ApplyTest : public LayerFixture {};

bool IsRoot() { return ::geteuid() == 0; }

TEST_F(ApplyTest, RegularFileDataModeOwnerTimes) {
  TarBuilder b;
  b.dir("etc/", {.mode = 0755, .mtime = 1600000000});
  b.file("etc/hello", "hello world\n", {.mode = 0640, .uid = 1234, .gid = 5678, .mtime = 1650000000});
  auto r = Apply(b.finish());
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(Slurp(T("etc/hello")), "hello world\n");
  auto st = Lstat(T("etc/hello"));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1650000000);
  if (IsRoot()) {
    EXPECT_EQ(st.st_uid, 1234u);
    EXPECT_EQ(st.st_gid, 5678u);
  }
  // The directory's mtime is its own, not bumped by the file written into it.
  EXPECT_EQ(Lstat(T("etc")).st_mtim.tv_sec, 1600000000);
  EXPECT_EQ(r->entries, 2u);
}

TEST_F(ApplyTest, SetuidSurvivesChown) {
  if (!IsRoot()) GTEST_SKIP() << "needs root for chown";
  TarBuilder b;
  b.file("su", "#!", {.mode = 04755, .uid = 0, .gid = 0});
  b.file("sg", "#!", {.mode = 02755, .uid = 1000, .gid = 1000});
  b.dir("sticky/", {.mode = 01777});
  ASSERT_TRUE(Apply(b.finish()).ok());
  EXPECT_EQ(Lstat(T("su")).st_mode & 07777, 04755u);
  EXPECT_EQ(Lstat(T("sg")).st_mode & 07777, 02755u);
  EXPECT_EQ(Lstat(T("sticky")).st_mode & 07777, 01777u);
}

TEST_F(ApplyTest, OwnersAndModesDespiteSetgidParentAndUmask) {
  if (!IsRoot()) GTEST_SKIP() << "needs root for chown";
  // A lower layer's setgid directory must not leak its group into new files,
  // and the process umask must not strip modes from the tar.
  ASSERT_TRUE(Apply(TarBuilder().dir("shared/", {.mode = 02775, .gid = 50}).finish()).ok());
  mode_t old = ::umask(077);
  auto r = Apply(TarBuilder().file("shared/f", "x", {.mode = 0664}).dir("shared/d/", {.mode = 0755}).finish());
  ::umask(old);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(Lstat(T("shared/f")).st_gid, 0u);
  EXPECT_EQ(Lstat(T("shared/f")).st_mode & 07777, 0664u);
  EXPECT_EQ(Lstat(T("shared/d")).st_gid, 0u);
  EXPECT_EQ(Lstat(T("shared/d")).st_mode & 07777, 0755u);
}

TEST_F(ApplyTest, DirModeAppliedAfterContents) {
  TarBuilder b;
  b.dir("ro/", {.mode = 0555});
  b.file("ro/f", "x");
  auto r = Apply(b.finish(), {.rootless = true});  // even unprivileged the 0555 dir can be filled
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(Lstat(T("ro")).st_mode & 07777, 0555u);
  EXPECT_EQ(Slurp(T("ro/f")), "x");
}

TEST_F(ApplyTest, RootlessWritesIntoReadOnlyLowerDirectories) {
  if (!IsRoot()) GTEST_SKIP() << "needs root to switch to an unprivileged uid";
  // As an unprivileged user (nobody), a lower layer's 0555 directory must
  // still receive the upper layer's files and keep its mode afterwards.
  ASSERT_EQ(::chown(target_.c_str(), 65534, 65534), 0);
  ASSERT_EQ(::chmod(base_.c_str(), 0755), 0);
  std::string lower = base_ + "/lower.tar", upper = base_ + "/upper.tar";
  ASSERT_TRUE(atomic_write_file(lower, TarBuilder().dir("ro/", {.mode = 0555}).file("ro/a", "a").finish()).ok());
  ASSERT_TRUE(atomic_write_file(upper, TarBuilder().file("ro/b", "b").file("ro/.wh.a", "").finish()).ok());
  ::chmod(lower.c_str(), 0644);
  ::chmod(upper.c_str(), 0644);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(10);
    ApplyOptions o{.label = "rootless"};
    if (!apply_layer(lower, target_, o).ok()) ::_exit(11);
    auto r = apply_layer(upper, target_, o);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.error().str().c_str());
      ::_exit(12);
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(Slurp(T("ro/b")), "b");
  EXPECT_FALSE(Exists(T("ro/a")));
  EXPECT_EQ(Lstat(T("ro")).st_mode & 07777, 0555u);
}

TEST_F(ApplyTest, SymlinkKeptVerbatim) {
  TarBuilder b;
  b.symlink("abs", "/etc/passwd", {.mode = 0777, .mtime = 1500000000});
  b.symlink("rel", "../../x");
  ASSERT_TRUE(Apply(b.finish()).ok());
  auto st = Lstat(T("abs"));
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(st.st_mtim.tv_sec, 1500000000);
  char buf[64];
  ssize_t n = ::readlink(T("rel").c_str(), buf, sizeof buf);
  EXPECT_EQ(std::string(buf, n), "../../x");
}

TEST_F(ApplyTest, HardlinkSharesInode) {
  TarBuilder b;
  b.file("a", "data");
  b.hardlink("b", "a");
  b.hardlink("./c", "./a");
  ASSERT_TRUE(Apply(b.finish()).ok());
  EXPECT_EQ(Lstat(T("a")).st_ino, Lstat(T("b")).st_ino);
  EXPECT_EQ(Lstat(T("a")).st_ino, Lstat(T("c")).st_ino);
  EXPECT_EQ(Lstat(T("a")).st_nlink, 3u);
}

TEST_F(ApplyTest, FifoAndDevices) {
  TarBuilder b;
  b.fifo("fifo", {.mode = 0620});
  b.chardev("null", 1, 3);
  auto r = Apply(b.finish());
  ASSERT_TRUE(r.ok()) << r.error().str();
  auto st = Lstat(T("fifo"));
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0620u);
  if (IsRoot()) {
    auto d = Lstat(T("null"));
    EXPECT_TRUE(S_ISCHR(d.st_mode));
    EXPECT_EQ(major(d.st_rdev), 1u);
    EXPECT_EQ(minor(d.st_rdev), 3u);
    EXPECT_EQ(d.st_mode & 07777, 0666u);
  }
}

TEST_F(ApplyTest, DevicesSkippedWhenRootless) {
  TarBuilder b;
  b.chardev("null", 1, 3);
  b.file("f", "x");
  auto r = Apply(b.finish(), {.rootless = true});
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_FALSE(Exists(T("null")));
  EXPECT_EQ(r->skipped, 1u);
}

TEST_F(ApplyTest, XattrsIncludingFileCapability) {
  if (!IsRoot()) GTEST_SKIP() << "needs CAP_SETFCAP";
  // VFS_CAP_REVISION_2, cap_net_raw (13) permitted+effective.
  std::string cap("\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
  TarBuilder b;
  b.file("ping", "elf", {.mode = 0755, .uid = 0, .gid = 0, .xattrs = {{"security.capability", cap}, {"user.note", "hi"}}});
  b.dir("d/", {.mode = 0755, .xattrs = {{"user.dir", "yes"}}});
  b.file("ovl", "x", {.xattrs = {{"trusted.overlay.opaque", "y"}}});
  auto r = Apply(b.finish());
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(Xattr(T("ping"), "security.capability"), cap);
  EXPECT_EQ(Xattr(T("ping"), "user.note"), "hi");
  EXPECT_EQ(Xattr(T("d"), "user.dir"), "yes");
  // Overlay metadata from a layer is never applied: it could forge whiteouts.
  EXPECT_EQ(Xattr(T("ovl"), "trusted.overlay.opaque"), "<none>");
}

TEST_F(ApplyTest, ImplicitParentsAndReplacement) {
  TarBuilder b;
  b.file("a/b/c/file", "1");
  b.file("x", "file first");
  b.dir("x/");           // a dir replaces a file
  b.file("x/inner", "2");
  b.dir("y/");
  b.file("y/z", "3");
  b.file("y", "file replaces dir");
  ASSERT_TRUE(Apply(b.finish()).ok());
  EXPECT_EQ(Slurp(T("a/b/c/file")), "1");
  EXPECT_EQ(Slurp(T("x/inner")), "2");
  EXPECT_EQ(Slurp(T("y")), "file replaces dir");
}

TEST_F(ApplyTest, ExistingDirectoryIsMerged) {
  ASSERT_TRUE(Apply(TarBuilder().dir("d/").file("d/lower", "l").finish()).ok());
  ASSERT_TRUE(Apply(TarBuilder().dir("d/", {.mode = 0700}).file("d/upper", "u").finish()).ok());
  EXPECT_EQ(Slurp(T("d/lower")), "l");
  EXPECT_EQ(Slurp(T("d/upper")), "u");
  EXPECT_EQ(Lstat(T("d")).st_mode & 07777, 0700u);
}

TEST_F(ApplyTest, FlattenWhiteoutsDelete) {
  ASSERT_TRUE(Apply(TarBuilder()
                        .dir("etc/")
                        .file("etc/gone", "x")
                        .file("etc/kept", "k")
                        .dir("var/")
                        .dir("var/tree/")
                        .file("var/tree/a", "a")
                        .finish())
                  .ok());
  auto r = Apply(TarBuilder().file("etc/.wh.gone", "").file("var/.wh.tree", "").file(".wh.never-existed", "").finish());
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_FALSE(Exists(T("etc/gone")));
  EXPECT_TRUE(Exists(T("etc/kept")));
  EXPECT_FALSE(Exists(T("var/tree")));
  EXPECT_FALSE(Exists(T("etc/.wh.gone")));
}

TEST_F(ApplyTest, FlattenOpaqueKeepsOnlyThisLayer) {
  ASSERT_TRUE(Apply(TarBuilder().dir("d/").file("d/old", "o").dir("d/sub/").file("d/sub/old", "o").finish()).ok());
  // The opaque marker may come after this layer's own entries in the directory.
  auto r = Apply(TarBuilder().dir("d/").dir("d/sub/").file("d/sub/new", "n").file("d/.wh..wh..opq", "").finish());
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_FALSE(Exists(T("d/old")));
  EXPECT_FALSE(Exists(T("d/sub/old")));
  EXPECT_EQ(Slurp(T("d/sub/new")), "n");
  EXPECT_FALSE(Exists(T("d/.wh..wh..opq")));
}

TEST_F(ApplyTest, WhiteoutNeverHidesSameLayerEntry) {
  auto r = Apply(TarBuilder().file("f", "same layer").file(".wh.f", "").finish());
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(Slurp(T("f")), "same layer");
}

TEST_F(ApplyTest, OverlayWhiteoutsAreDevicesAndXattrs) {
  if (!IsRoot()) GTEST_SKIP() << "overlay whiteouts need mknod and trusted.* xattrs";
  auto r = Apply(TarBuilder()
                     .dir("etc/")
                     .file("etc/.wh.gone", "")
                     .dir("opq/")
                     .file("opq/.wh..wh..opq", "")
                     .file("opq/new", "n")
                     .file("implicit/.wh.x", "")
                     .finish(),
                 {.whiteouts = Whiteouts::overlay});
  ASSERT_TRUE(r.ok()) << r.error().str();
  auto st = Lstat(T("etc/gone"));
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(Xattr(T("opq"), "trusted.overlay.opaque"), "y");
  EXPECT_EQ(Slurp(T("opq/new")), "n");
  EXPECT_TRUE(S_ISCHR(Lstat(T("implicit/x")).st_mode));
}

TEST_F(ApplyTest, AufsMetadataSkipped) {
  auto r = Apply(TarBuilder().file(".wh..wh.plnk/123.456", "x").file("f", "y").finish());
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_FALSE(Exists(T(".wh..wh.plnk")));
}

class CompressionTest : public LayerFixture, public ::testing::WithParamInterface<std::string> {};

TEST_P(CompressionTest, DetectsByMagicAndHashesBothStreams) {
  std::string big(3 << 20, 'z');  // spans several pipeline chunks
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>(i / 4096);
  std::string plain = TarBuilder("none").file("big", big).file("small", "s").finish();
  std::string blob = TarBuilder(GetParam()).file("big", big).file("small", "s").finish();
  auto r = Apply(blob, {.expected_diff_id = Digest::of(plain)});
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(compression_name(r->compression), GetParam());
  EXPECT_EQ(r->diff_id, Digest::of(plain));
  EXPECT_EQ(r->blob_digest, Digest::of(blob));
  EXPECT_EQ(r->compressed_size, blob.size());
  EXPECT_EQ(r->uncompressed_size, plain.size());
  EXPECT_EQ(Slurp(T("big")), big);
}

INSTANTIATE_TEST_SUITE_P(All, CompressionTest, ::testing::Values("none", "gzip", "zstd"));

TEST_F(ApplyTest, MultiMemberGzip) {
  // Two gzip members concatenated are one valid gzip stream (pigz -i, cat a.gz b.gz).
  std::string plain = TarBuilder().file("f", std::string(100000, 'q')).finish();
  std::string part1 = plain.substr(0, 5000), part2 = plain.substr(5000);
  auto gz = [](const std::string& s) {
    struct archive* a = archive_write_new();
    archive_write_set_format_raw(a);
    archive_write_add_filter_gzip(a);
    std::string out;
    archive_write_open(a, &out, nullptr,
                       [](struct archive*, void* ud, const void* b, size_t n) -> la_ssize_t {
                         static_cast<std::string*>(ud)->append(static_cast<const char*>(b), n);
                         return static_cast<la_ssize_t>(n);
                       },
                       nullptr);
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_filetype(e, AE_IFREG);
    archive_write_header(a, e);
    archive_write_data(a, s.data(), s.size());
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    return out;
  };
  auto r = Apply(gz(part1) + gz(part2), {.expected_diff_id = Digest::of(plain)});
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(Slurp(T("f")), std::string(100000, 'q'));
}

TEST_F(ApplyTest, DiffIdMismatchIsAnError) {
  auto r = Apply(TarBuilder("gzip").file("f", "x").finish(), {.label = "sha256:feed", .expected_diff_id = Digest::of("other")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::digest_mismatch);
  EXPECT_NE(r.error().message.find("sha256:feed"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("diff_id"), std::string::npos) << r.error().message;
}

TEST_F(ApplyTest, CorruptCompressedStreamsAreErrors) {
  std::string gz = TarBuilder("gzip").file("f", std::string(50000, 'x')).finish();
  auto r1 = Apply(gz.substr(0, gz.size() / 2));
  ASSERT_FALSE(r1.ok());
  EXPECT_NE(r1.error().message.find("gzip"), std::string::npos) << r1.error().message;
  std::string zs = TarBuilder("zstd").file("f", std::string(50000, 'x')).finish();
  zs[zs.size() / 2] ^= 0x55;
  zs[zs.size() / 2 + 1] ^= 0x55;
  EXPECT_FALSE(Apply(zs).ok());
  EXPECT_FALSE(Apply("this is not a tar stream at all, not even close; 512 bytes are needed....").ok());
}

TEST_F(ApplyTest, EmptyLayer) {
  auto r = Apply(TarBuilder().finish());
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->entries, 0u);
}

}  // namespace
}  // namespace berth::layer::testing

namespace berth::layer::testing {
namespace {

// The file pool must give exactly the single-threaded result, whatever the
// collisions between queued files and later entries.
TEST_F(ApplyTest, PooledFilesKeepTarOrderSemantics) {
  auto build = [] {
    TarBuilder b;
    for (int d = 0; d < 20; d++)
      for (int f = 0; f < 30; f++)
        b.file("d" + std::to_string(d) + "/f" + std::to_string(f), std::string(f * 100, 'a' + d % 26),
               {.mode = 0600u + f % 2, .uid = static_cast<int64_t>(f), .mtime = 1000 + f});
    b.file("dup", "first").file("dup", "second");              // same name queued twice
    b.dir("d3/f1/").file("d3/f1/below", "file becomes a directory");  // a queued file is replaced
    b.file("d4", "directory becomes a file");                    // a queued file is below
    b.file("x", "x").dir("x/").file("x/y", "y");                 // replaced by a dir, synchronously
    b.file("big", std::string(3 << 20, 'B'));                    // above the pooled size
    b.file(".wh.d5", "");                                        // same-layer whiteout: ignored
    return b.finish();
  };
  std::string single = base_ + "/single";
  ASSERT_EQ(::mkdir(single.c_str(), 0755), 0);
  auto r1 = ApplyTo(single, build(), {.threads = 1});
  ASSERT_TRUE(r1.ok()) << r1.error().str();
  auto r4 = Apply(build(), {.threads = 4});
  ASSERT_TRUE(r4.ok()) << r4.error().str();
  std::map<std::string, std::string> a, b;
  describe_tree(single, "", a);
  describe_tree(target_, "", b);
  // Implicitly created directories carry the time of the run; compare the rest.
  auto strip_dirs = [](std::map<std::string, std::string>& m) {
    for (auto& [k, v] : m)
      if (S_ISDIR(std::stoul(v))) v = "dir";
  };
  strip_dirs(a);
  strip_dirs(b);
  EXPECT_EQ(a, b);
  EXPECT_EQ(Slurp(T("dup")), "second");
  EXPECT_EQ(Slurp(T("d3/f1/below")), "file becomes a directory");
  EXPECT_EQ(Slurp(T("d4")), "directory becomes a file");
  EXPECT_EQ(Slurp(T("x/y")), "y");
  EXPECT_TRUE(Exists(T("d5/f0")));
}

TEST_F(ApplyTest, PooledFileErrorNamesItsEntry) {
  if (!IsRoot()) GTEST_SKIP() << "needs root to reach the kernel's capability check";
  TarBuilder b;
  for (int i = 0; i < 50; i++) b.file("ok" + std::to_string(i), "x");
  b.file("badcap", "x", {.xattrs = {{"security.capability", "garbage"}}});
  for (int i = 0; i < 50; i++) b.file("later" + std::to_string(i), "x");
  auto r = Apply(b.finish(), {.label = "sha256:cafe", .threads = 3});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("sha256:cafe"), std::string::npos) << r.error().str();
  EXPECT_NE(r.error().message.find("entry \"badcap\""), std::string::npos) << r.error().str();
  EXPECT_EQ(r.error().message.find("entry \"later"), std::string::npos) << r.error().str();
}

}  // namespace
}  // namespace berth::layer::testing
