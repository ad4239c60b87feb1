// write_layer: round trip through apply_layer, determinism, overlay upper dirs.
#include <archive.h>
#include <archive_entry.h>
#include <sys/sysmacros.h>

#include <vector>

#include "layer/layer.h"
#include "tests/unit/layer/fixture.h"

namespace berth::layer::testing {
namespace {

class WriteTest : public LayerFixture {
 protected:
  std::string src() const { return base_ + "/src"; }
  void MakeTree() {
    ASSERT_EQ(::mkdir(src().c_str(), 0755), 0);
    ASSERT_TRUE(mkdir_p(src() + "/usr/bin").ok());
    ASSERT_TRUE(atomic_write_file(src() + "/usr/bin/tool", "#!/bin/sh\necho hi\n", 04755).ok());
    ASSERT_EQ(::chmod((src() + "/usr/bin/tool").c_str(), 04755), 0);
    ASSERT_EQ(::link((src() + "/usr/bin/tool").c_str(), (src() + "/usr/bin/tool2").c_str()), 0);
    ASSERT_EQ(::symlink("usr/bin", (src() + "/bin").c_str()), 0);
    ASSERT_EQ(::mkfifo((src() + "/fifo").c_str(), 0600), 0);
    ASSERT_TRUE(atomic_write_file(src() + "/big", std::string(3 << 20, 'b')).ok());
    ASSERT_EQ(::setxattr((src() + "/big").c_str(), "user.k", "v", 1, 0), 0);
    if (::geteuid() == 0) {
      ASSERT_EQ(::lchown((src() + "/fifo").c_str(), 123, 456), 0);
      std::string cap("\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
      ASSERT_EQ(::setxattr((src() + "/usr/bin/tool").c_str(), "security.capability", cap.data(), cap.size(), 0), 0);
      ASSERT_EQ(::mknod((src() + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    }
    ASSERT_TRUE(mkdir_p(src() + "/empty").ok());
  }
  std::string WriteToFile(const WriteOptions& o, WriteStats* stats = nullptr) {
    std::string p = base_ + "/out" + std::to_string(counter_++);
    UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    EXPECT_TRUE(fd.valid());
    auto r = write_layer(src(), fd.get(), o);
    EXPECT_TRUE(r.ok()) << r.error().str();
    if (r && stats) *stats = *r;
    fd.reset();
    auto data = read_file(p, 1ull << 30);
    ::unlink(p.c_str());
    return data ? *data : "";
  }
  std::vector<std::string> Names(const std::string& tar) {
    std::vector<std::string> out;
    struct archive* a = archive_read_new();
    archive_read_support_format_tar(a);
    archive_read_support_filter_all(a);
    archive_read_open_memory(a, tar.data(), tar.size());
    struct archive_entry* e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) out.push_back(archive_entry_pathname(e));
    archive_read_free(a);
    return out;
  }
  int counter_ = 0;
};

TEST_F(WriteTest, RoundTripPreservesTheTree) {
  MakeTree();
  for (auto c : {Compression::none, Compression::gzip, Compression::zstd}) {
    WriteStats ws;
    std::string blob = WriteToFile({.compression = c}, &ws);
    EXPECT_EQ(ws.blob_digest, Digest::of(blob));
    EXPECT_EQ(ws.compressed_size, blob.size());
    std::string dest = base_ + "/dest-" + compression_name(c);
    ASSERT_EQ(::mkdir(dest.c_str(), 0755), 0);
    auto r = ApplyTo(dest, blob, {.expected_diff_id = ws.diff_id});
    ASSERT_TRUE(r.ok()) << r.error().str();
    EXPECT_EQ(r->compression, c);
    std::map<std::string, std::string> a, b;
    describe_tree(src(), "", a);
    describe_tree(dest, "", b);
    a.erase(".");
    b.erase(".");
    EXPECT_EQ(a, b) << compression_name(c);
    EXPECT_EQ(Xattr(dest + "/big", "user.k"), "v");
    if (::geteuid() == 0) {
      EXPECT_EQ(Xattr(dest + "/usr/bin/tool", "security.capability").size(), 20u);
    }
    EXPECT_EQ(Lstat(dest + "/usr/bin/tool").st_ino, Lstat(dest + "/usr/bin/tool2").st_ino);
  }
}

TEST_F(WriteTest, DeterministicWithFixedMtime) {
  MakeTree();
  WriteOptions o{.compression = Compression::gzip, .fixed_mtime = 0};
  std::string one = WriteToFile(o);
  ASSERT_EQ(::utimensat(AT_FDCWD, (src() + "/big").c_str(), nullptr, 0), 0);  // touch
  std::string two = WriteToFile(o);
  EXPECT_EQ(Digest::of(one), Digest::of(two));
  auto names = Names(one);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.begin() + 2));
  EXPECT_EQ(names.front(), "big");
}

TEST_F(WriteTest, OverlayUpperBecomesOciWhiteouts) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs mknod and trusted.* xattrs";
  ASSERT_EQ(::mkdir(src().c_str(), 0755), 0);
  ASSERT_EQ(::mknod((src() + "/deleted").c_str(), S_IFCHR, makedev(0, 0)), 0);
  ASSERT_EQ(::mkdir((src() + "/opq").c_str(), 0755), 0);
  ASSERT_EQ(::setxattr((src() + "/opq").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
  ASSERT_TRUE(atomic_write_file(src() + "/opq/new", "n").ok());
  std::string tar = WriteToFile({.compression = Compression::none, .overlay_upper = true});
  auto names = Names(tar);
  std::vector<std::string> want = {".wh.deleted", "opq/", "opq/.wh..wh..opq", "opq/new"};
  EXPECT_EQ(names, want);
  // Applying it in overlay mode reproduces the upper dir.
  auto r = Apply(tar, {.whiteouts = Whiteouts::overlay});
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(S_ISCHR(Lstat(T("deleted")).st_mode));
  EXPECT_EQ(Xattr(T("opq"), "trusted.overlay.opaque"), "y");
}

// Rootless berth (a user namespace, overlay mounted with userxattr): the
// opaque marker is user.overlay.opaque, both ways; trusted.* means nothing.
TEST_F(WriteTest, UserNamespaceOpaqueMarkerRoundTrip) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs trusted.* xattrs for the contrast";
  ASSERT_EQ(::mkdir(src().c_str(), 0755), 0);
  ASSERT_EQ(::mknod((src() + "/deleted").c_str(), S_IFCHR, makedev(0, 0)), 0);
  ASSERT_EQ(::mkdir((src() + "/opq").c_str(), 0755), 0);
  ASSERT_EQ(::setxattr((src() + "/opq").c_str(), "user.overlay.opaque", "y", 1, 0), 0);
  ASSERT_TRUE(atomic_write_file(src() + "/opq/new", "n").ok());
  ASSERT_EQ(::mkdir((src() + "/plain").c_str(), 0755), 0);
  ASSERT_EQ(::setxattr((src() + "/plain").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
  std::string tar = WriteToFile({.compression = Compression::none, .overlay_upper = true, .userns = true});
  std::vector<std::string> want = {".wh.deleted", "opq/", "opq/.wh..wh..opq", "opq/new", "plain/"};
  EXPECT_EQ(Names(tar), want);
  auto r = Apply(tar, {.whiteouts = Whiteouts::overlay, .userns = true});
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(S_ISCHR(Lstat(T("deleted")).st_mode));
  EXPECT_EQ(Xattr(T("opq"), "user.overlay.opaque"), "y");
  EXPECT_EQ(Xattr(T("opq"), "trusted.overlay.opaque"), "<none>");
}

}  // namespace
}  // namespace berth::layer::testing

namespace berth::layer::testing {
namespace {

TEST_F(WriteTest, ParallelGzipIsValidAndIndependentOfThreads) {
  ASSERT_EQ(::mkdir(src().c_str(), 0755), 0);
  // Compressible and incompressible data across many 128 KiB blocks, and an
  // empty tree edge case below.
  std::string text;
  for (uint64_t i = 0; text.size() < (5u << 20); i++) text += "line " + std::to_string(i * 7919 % 100003) + "\n";
  ASSERT_TRUE(atomic_write_file(src() + "/text", text).ok());
  std::string noise(700000, '\0');
  uint32_t x = 12345;
  for (auto& c : noise) c = static_cast<char>((x = x * 1103515245 + 12345) >> 24);
  ASSERT_TRUE(atomic_write_file(src() + "/noise", noise).ok());
  WriteStats s1, s4;
  std::string one = WriteToFile({.compression = Compression::gzip, .fixed_mtime = 0, .threads = 1}, &s1);
  std::string four = WriteToFile({.compression = Compression::gzip, .fixed_mtime = 0, .threads = 4}, &s4);
  EXPECT_EQ(Digest::of(one), Digest::of(four));
  EXPECT_EQ(s1.diff_id, s4.diff_id);
  EXPECT_LT(one.size(), text.size() / 2) << "text should compress";
  // isa-l (our reader) and libarchive's zlib reader both accept it.
  auto r = Apply(four, {.expected_diff_id = s4.diff_id});
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(Slurp(T("text")), text);
  EXPECT_EQ(Slurp(T("noise")), noise);
  EXPECT_EQ(Names(four), (std::vector<std::string>{"noise", "text"}));
  // gzip -t agrees (when installed).
  std::string path = base_ + "/check.gz";
  ASSERT_TRUE(atomic_write_file(path, four).ok());
  if (::system("command -v gzip >/dev/null") == 0) {
    EXPECT_EQ(::system(("gzip -t " + path).c_str()), 0);
  }
}

TEST_F(WriteTest, EmptyTreeGzip) {
  ASSERT_EQ(::mkdir(src().c_str(), 0755), 0);
  WriteStats ws;
  std::string gz = WriteToFile({.compression = Compression::gzip}, &ws);
  auto r = Apply(gz, {.expected_diff_id = ws.diff_id});
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->entries, 0u);
}

}  // namespace
}  // namespace berth::layer::testing
