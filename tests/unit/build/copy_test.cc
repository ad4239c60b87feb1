// copy_into and write_heredoc_file: Docker's COPY/ADD rules into a rootfs.
#include "build/copy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "../layer/tar_builder.h"
#include "build/context.h"
#include "fixture.h"

namespace berth::build {
namespace {

using Strings = std::vector<std::string>;

// Serves one canned HTTP response on 127.0.0.1 (no network needed).
class OneShotHttp {
 public:
  explicit OneShotHttp(std::string response) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 1) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return;
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, response] {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;  // shut down by the destructor
      std::string req;
      char buf[4096];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      (void)!::write(c, response.data(), response.size());
      ::close(c);
    });
  }
  ~OneShotHttp() {
    ::shutdown(fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

class Copy : public testing::TmpTree {
 protected:
  void SetUp() override {
    TmpTree::SetUp();
    write("ctx/a.txt", "a", 0640);
    write("ctx/b.txt", "b");
    write("ctx/run.sh", "#!/bin/sh\n", 0755);
    write("ctx/dir/x.txt", "x");
    write("ctx/dir/sub/y.txt", "y", 0600);
    write("ctx/dir/ignored.log", "log");
    mkdirs("rootfs/etc");
  }
  Source source(const std::string& ignore = "") {
    auto m = IgnoreMatcher::parse(ignore);
    EXPECT_TRUE(m.ok());
    auto s = Source::dir(path("ctx"), std::move(*m));
    EXPECT_TRUE(s.ok());
    return std::move(*s);
  }
  Status copy(const Source& s, const Strings& patterns, const std::string& dest, const CopyOptions& o = {}) {
    Strings paths;
    for (auto& p : patterns) {
      auto m = s.match(p);
      if (!m.ok()) return std::move(m).error();
      paths.insert(paths.end(), m->begin(), m->end());
    }
    return copy_into(s, paths, path("rootfs"), dest, o);
  }
  void ok(const Status& st) { ASSERT_TRUE(st.ok()) << st.error().str(); }
};

TEST_F(Copy, FileToFileCreatesParents) {
  auto s = source();
  ok(copy(s, {"a.txt"}, "/new/deep/renamed.txt"));
  EXPECT_EQ(read("rootfs/new/deep/renamed.txt"), "a");
  auto st = lstat_of("rootfs/new/deep/renamed.txt");
  EXPECT_EQ(st.st_mode & 07777, 0640u);  // mode kept
  EXPECT_EQ(st.st_uid, 0u);
  auto parent = lstat_of("rootfs/new/deep");
  EXPECT_EQ(parent.st_mode & 07777, 0755u);
  EXPECT_EQ(parent.st_uid, 0u);
}

TEST_F(Copy, FileIntoDirectory) {
  auto s = source();
  ok(copy(s, {"a.txt"}, "/opt/"));
  EXPECT_EQ(read("rootfs/opt/a.txt"), "a");
  ok(copy(s, {"b.txt"}, "/etc"));  // an existing directory without the slash
  EXPECT_EQ(read("rootfs/etc/b.txt"), "b");
}

TEST_F(Copy, DirectoryCopiesItsContents) {
  auto s = source("dir/ignored.log\n");
  ok(copy(s, {"dir"}, "/app"));
  EXPECT_EQ(read("rootfs/app/x.txt"), "x");
  EXPECT_EQ(read("rootfs/app/sub/y.txt"), "y");
  EXPECT_EQ(lstat_of("rootfs/app/sub/y.txt").st_mode & 07777, 0600u);
  EXPECT_FALSE(exists("rootfs/app/dir"));
  EXPECT_FALSE(exists("rootfs/app/ignored.log"));
}

TEST_F(Copy, WildcardAndSeveralSourcesNeedADirectory) {
  auto s = source();
  ok(copy(s, {"*.txt"}, "/out/"));
  EXPECT_EQ(read("rootfs/out/a.txt"), "a");
  EXPECT_EQ(read("rootfs/out/b.txt"), "b");
  auto st = copy(s, {"a.txt", "b.txt"}, "/file");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("must be a directory and end with a /"), std::string::npos);
  EXPECT_FALSE(exists("rootfs/file"));
  ok(copy(s, {"a.txt", "b.txt"}, "/etc"));  // an existing directory will do
  EXPECT_EQ(read("rootfs/etc/a.txt"), "a");
}

TEST_F(Copy, RelativeDestinationUsesWorkdir) {
  auto s = source();
  CopyOptions o;
  o.workdir = "/srv/app";
  ok(copy(s, {"a.txt"}, "sub/", o));
  EXPECT_EQ(read("rootfs/srv/app/sub/a.txt"), "a");
  ok(copy(s, {"b.txt"}, ".", o));
  EXPECT_EQ(read("rootfs/srv/app/b.txt"), "b");
  ok(copy(s, {"run.sh"}, "../../../../run", o));  // clamped at the rootfs
  EXPECT_EQ(read("rootfs/run"), "#!/bin/sh\n");
}

TEST_F(Copy, ChownAppliesToCopiesAndCreatedParents) {
  auto s = source();
  CopyOptions o;
  o.uid = 1000;
  o.gid = 1001;
  ok(copy(s, {"dir"}, "/home/u/app/", o));
  for (const char* p : {"rootfs/home/u/app/x.txt", "rootfs/home/u/app/sub", "rootfs/home/u/app/sub/y.txt",
                        "rootfs/home/u/app", "rootfs/home/u", "rootfs/home"}) {
    auto st = lstat_of(p);
    EXPECT_EQ(st.st_uid, 1000u) << p;
    EXPECT_EQ(st.st_gid, 1001u) << p;
  }
  EXPECT_EQ(lstat_of("rootfs/home/u").st_mode & 07777, 0755u);
  // Existing directories keep their owner.
  EXPECT_EQ(lstat_of("rootfs").st_uid, 0u);
}

TEST_F(Copy, ChmodAppliesToFilesAndDirectories) {
  auto s = source();
  CopyOptions o;
  o.chmod = 0700;
  ok(copy(s, {"dir"}, "/m", o));
  EXPECT_EQ(lstat_of("rootfs/m/x.txt").st_mode & 07777, 0700u);
  EXPECT_EQ(lstat_of("rootfs/m/sub").st_mode & 07777, 0700u);
  // The destination COPY creates for a directory's contents takes the source
  // directory's mode, not --chmod (buildah).
  EXPECT_EQ(lstat_of("rootfs/m").st_mode & 07777, 0755u);
}

TEST_F(Copy, TimesAndXattrsKept) {
  struct timespec ts[2] = {{1234567890, 0}, {1234567890, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path("ctx/a.txt").c_str(), ts, 0), 0);
  bool xattrs = ::setxattr(path("ctx/a.txt").c_str(), "user.berth", "v", 1, 0) == 0;
  auto s = source();
  ok(copy(s, {"a.txt"}, "/t"));
  EXPECT_EQ(lstat_of("rootfs/t").st_mtim.tv_sec, 1234567890);
  if (xattrs) {
    char v[8] = {};
    EXPECT_EQ(::getxattr(path("rootfs/t").c_str(), "user.berth", v, sizeof v), 1);
    EXPECT_EQ(v[0], 'v');
  }
}

// Docker and buildah follow a source that is a symlink (inside the context)
// and copy its target under the link's name; links below a copied directory
// are copied as links.
TEST_F(Copy, SourceSymlinksFollowedInsideTheContextNestedOnesKept) {
  write("ctx/etc/passwd", "context's passwd");
  symlink("/etc/passwd", "ctx/lnk");
  symlink("a.txt", "ctx/rel-link");
  symlink("dir", "ctx/dir-link");
  symlink("../x.txt", "ctx/dir/sub/rel");
  auto s = source();
  ok(copy(s, {"lnk"}, "/l"));
  EXPECT_TRUE(S_ISREG(lstat_of("rootfs/l").st_mode));
  EXPECT_EQ(read("rootfs/l"), "context's passwd");  // never the host's /etc/passwd
  ok(copy(s, {"rel-link"}, "/into/"));
  EXPECT_EQ(read("rootfs/into/rel-link"), "a");
  EXPECT_EQ(lstat_of("rootfs/into/rel-link").st_mode & 07777, 0640u);  // the target's mode
  ok(copy(s, {"dir-link"}, "/d/"));
  EXPECT_EQ(read("rootfs/d/x.txt"), "x");
  auto st = lstat_of("rootfs/d/sub/rel");
  ASSERT_TRUE(S_ISLNK(st.st_mode));
  char buf[64] = {};
  ASSERT_GT(::readlink(path("rootfs/d/sub/rel").c_str(), buf, sizeof buf - 1), 0);
  EXPECT_STREQ(buf, "../x.txt");
  symlink("/etc/hostname", "ctx/host-only");
  EXPECT_FALSE(copy(s, {"host-only"}, "/h").ok());
  EXPECT_FALSE(exists("rootfs/h"));
}

// CVE-2019-14271-style: symlinks already in the image must not carry a COPY
// out of the rootfs, whatever they point at.
TEST_F(Copy, DestinationSymlinksNeverEscapeTheRootfs) {
  std::string host_name = "berth-copy-escape-" + std::to_string(::getpid());
  symlink("/", "rootfs/escape");
  symlink("../../../../../../tmp", "rootfs/up");
  mkdirs("rootfs/tmp");
  symlink("/" + host_name, "rootfs/target-file");
  auto s = source();
  ok(copy(s, {"a.txt"}, "/escape/" + host_name));
  EXPECT_EQ(read("rootfs/" + host_name), "a");
  EXPECT_NE(::access(("/" + host_name).c_str(), F_OK), 0);
  ::unlink(("/" + host_name).c_str());
  ok(copy(s, {"dir"}, "/up/" + host_name + "/"));
  EXPECT_EQ(read("rootfs/tmp/" + host_name + "/x.txt"), "x");
  EXPECT_NE(::access(("/tmp/" + host_name).c_str(), F_OK), 0);
  // A file destination that is a symlink is replaced, never written through.
  ok(copy(s, {"b.txt"}, "/target-file"));
  EXPECT_FALSE(S_ISLNK(lstat_of("rootfs/target-file").st_mode));
  EXPECT_EQ(read("rootfs/target-file"), "b");
  EXPECT_NE(::access(("/" + host_name).c_str(), F_OK), 0);
}

TEST_F(Copy, MergesIntoSymlinkedDirectories) {
  // Debian's merged /usr: /lib -> usr/lib.
  mkdirs("rootfs/usr/lib");
  symlink("usr/lib", "rootfs/lib");
  write("ctx/tree/lib/libx.so", "elf");
  auto s = source();
  ok(copy(s, {"tree"}, "/"));
  EXPECT_TRUE(S_ISLNK(lstat_of("rootfs/lib").st_mode));
  EXPECT_EQ(read("rootfs/usr/lib/libx.so"), "elf");
}

TEST_F(Copy, OverwritesFilesButNotDirectories) {
  write("rootfs/etc/conf", "old");
  auto s = source();
  ok(copy(s, {"a.txt"}, "/etc/conf"));
  EXPECT_EQ(read("rootfs/etc/conf"), "a");
  mkdirs("rootfs/srv/x.txt");
  auto st = copy(s, {"dir"}, "/srv");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("/srv/x.txt"), std::string::npos) << st.error().message;
}

TEST_F(Copy, ReincludedFilesKeepTheirParents) {
  write("ctx/vendor/drop.go", "d");
  write("ctx/vendor/keep/k.go", "k");
  auto s = source("vendor\n!vendor/keep\n");
  ok(copy(s, {"."}, "/all/"));
  EXPECT_EQ(read("rootfs/all/vendor/keep/k.go"), "k");
  EXPECT_FALSE(exists("rootfs/all/vendor/drop.go"));
  EXPECT_EQ(read("rootfs/all/a.txt"), "a");
}

TEST_F(Copy, AddExtractsLocalArchives) {
  write("ctx/files.tar.gz", layer::testing::TarBuilder("gzip")
                                .dir("pkg", {.mode = 0750})
                                .file("pkg/bin", "binary", {.mode = 0755, .uid = 7, .gid = 8})
                                .symlink("pkg/link", "bin")
                                .finish());
  write("ctx/plain.tar", layer::testing::TarBuilder().file("readme", "hello").finish());
  write("ctx/z.tar.zst", layer::testing::TarBuilder("zstd").file("zfile", "zz").finish());
  write("ctx/evil.tar", layer::testing::TarBuilder().file("../../outside", "x").finish());
  auto s = source();
  CopyOptions add;
  add.add = true;
  ok(copy(s, {"files.tar.gz"}, "/opt", add));
  EXPECT_EQ(read("rootfs/opt/pkg/bin"), "binary");
  EXPECT_EQ(lstat_of("rootfs/opt/pkg/bin").st_uid, 7u);
  EXPECT_EQ(lstat_of("rootfs/opt/pkg").st_mode & 07777, 0750u);
  EXPECT_TRUE(S_ISLNK(lstat_of("rootfs/opt/pkg/link").st_mode));
  ok(copy(s, {"plain.tar"}, "/docs/", add));
  EXPECT_EQ(read("rootfs/docs/readme"), "hello");
  ok(copy(s, {"z.tar.zst"}, "/docs/", add));
  EXPECT_EQ(read("rootfs/docs/zfile"), "zz");
  EXPECT_FALSE(copy(s, {"evil.tar"}, "/e/", add).ok());
  EXPECT_FALSE(exists("outside"));
  // COPY never extracts.
  ok(copy(s, {"plain.tar"}, "/copied.tar"));
  EXPECT_TRUE(S_ISREG(lstat_of("rootfs/copied.tar").st_mode));
}

TEST_F(Copy, AddCopiesNonArchivesAsTheyAre) {
  // gzip that is not a tar, and text named like an archive.
  write("ctx/notes.gz", std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20));
  write("ctx/fake.tar", "just text");
  auto s = source();
  CopyOptions add;
  add.add = true;
  ok(copy(s, {"notes.gz", "fake.tar", "a.txt"}, "/in/", add));
  EXPECT_EQ(lstat_of("rootfs/in/notes.gz").st_size, 20);
  EXPECT_EQ(read("rootfs/in/fake.tar"), "just text");
  EXPECT_EQ(read("rootfs/in/a.txt"), "a");
}

TEST_F(Copy, AddUrlUnreachableNamesTheUrl) {
  auto s = source();
  CopyOptions add;
  add.add = true;
  auto st = copy_into(s, {"http://127.0.0.1:1/file.txt"}, path("rootfs"), "/dl/", add);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::network);
  EXPECT_EQ(st.error().message.rfind("ADD http://127.0.0.1:1/file.txt: ", 0), 0u) << st.error().message;
  EXPECT_FALSE(exists("rootfs/dl/file.txt"));
  auto git = copy_into(s, {"git@github.com:moby/moby.git"}, path("rootfs"), "/src/", add);
  ASSERT_FALSE(git.ok());
  EXPECT_EQ(git.error().code, Errc::unsupported);
  auto as_copy = copy_into(s, {"http://127.0.0.1:1/x"}, path("rootfs"), "/x", CopyOptions{});
  EXPECT_FALSE(as_copy.ok());
}

TEST_F(Copy, AddUrlDownloads) {
  auto s = source();
  CopyOptions add;
  add.add = true;
  {
    OneShotHttp srv(
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nLast-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\n"
        "Connection: close\r\n\r\nhello");
    ok(copy_into(s, {srv.url("/path/file.txt?x=1#frag")}, path("rootfs"), "/dl/", add));
  }
  EXPECT_EQ(read("rootfs/dl/file.txt"), "hello");
  auto st = lstat_of("rootfs/dl/file.txt");
  EXPECT_EQ(st.st_mode & 07777, 0600u);  // Docker's mode for downloads
  EXPECT_EQ(st.st_mtim.tv_sec, 1445412480);
  {
    OneShotHttp srv("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
    ok(copy_into(s, {srv.url("/")}, path("rootfs"), "/named", add));  // a file destination needs no URL name
  }
  EXPECT_EQ(read("rootfs/named"), "hi");
  {
    OneShotHttp srv("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    auto e = copy_into(s, {srv.url("/missing.txt")}, path("rootfs"), "/dl/", add);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, Errc::network);
    EXPECT_NE(e.error().message.find("404"), std::string::npos) << e.error().message;
  }
  EXPECT_FALSE(exists("rootfs/dl/missing.txt"));
}

TEST_F(Copy, HeredocFiles) {
  ok(write_heredoc_file(path("rootfs"), "/etc/greeting", "EOF", "hello\n", {}));
  EXPECT_EQ(read("rootfs/etc/greeting"), "hello\n");
  EXPECT_EQ(lstat_of("rootfs/etc/greeting").st_mode & 07777, 0644u);
  CopyOptions o;
  o.chmod = 0755;
  o.uid = 5;
  o.gid = 6;
  o.workdir = "/app";
  ok(write_heredoc_file(path("rootfs"), "bin/", "script.sh", "#!/bin/sh\n", o));
  auto st = lstat_of("rootfs/app/bin/script.sh");
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(st.st_uid, 5u);
  EXPECT_EQ(lstat_of("rootfs/app/bin").st_uid, 5u);
  EXPECT_FALSE(write_heredoc_file(path("rootfs"), "/x/", "../evil", "x", {}).ok());
  ok(write_heredoc_file(path("rootfs"), "/etc", "motd", "hi", {}));  // an existing directory
  EXPECT_EQ(read("rootfs/etc/motd"), "hi");
}

}  // namespace
}  // namespace berth::build
