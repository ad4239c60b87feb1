#include "engine/userdb.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"

namespace berth::engine {
namespace {

const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "app:x:1000:1000:App:/home/app:/bin/sh\n"
    "nohome:x:1001:1001::\n"
    "short:x:1002\n"                      // malformed: skipped
    "bad:x:notanumber:1:::\n"             // malformed: skipped
    "huge:x:99999999999:1:::\n"           // out of range: skipped
    "#comment:x:7:7:::\n"
    "+nis::::::\n"
    "1234:x:5000:5000::/home/numeric:\n";  // a user literally named "1234"

const char* kGroup =
    "root:x:0:\n"
    "wheel:x:10:root,app\n"
    "staff:x:50:app , other\n"
    "app:x:1000:\n"
    "video:x:44:someone\n"
    "broken:x\n";

std::optional<std::string> P(const char* s) { return std::string(s); }

TEST(UserDb, Parsers) {
  auto pw = parse_passwd(kPasswd);
  ASSERT_EQ(pw.size(), 5u);
  EXPECT_EQ(pw[2].name, "app");
  EXPECT_EQ(pw[2].home, "/home/app");
  EXPECT_EQ(pw[3].home, "");
  auto gr = parse_group(kGroup);
  ASSERT_EQ(gr.size(), 5u);
  EXPECT_EQ(gr[2].members, (std::vector<std::string>{"app", "other"}));
}

TEST(UserDb, Table) {
  struct {
    const char* spec;
    uint32_t uid, gid;
    const char* home;
    std::vector<uint32_t> sgids;
  } cases[] = {
      {"", 0, 0, "/root", {10}},
      {"root", 0, 0, "/root", {10}},
      {"app", 1000, 1000, "/home/app", {10, 50}},
      {"1000", 1000, 1000, "/home/app", {10, 50}},
      {"app:staff", 1000, 50, "/home/app", {}},
      {"app:44", 1000, 44, "/home/app", {}},
      {"app:4242", 1000, 4242, "/home/app", {}},  // numeric gid need not exist
      {"1000:1000", 1000, 1000, "/home/app", {}},
      {"4242", 4242, 0, "/", {}},                  // numeric uid need not exist
      {"4242:7", 4242, 7, "/", {}},
      {"4242:wheel", 4242, 10, "/", {}},
      {"nohome", 1001, 1001, "/", {}},
      {"1234", 5000, 5000, "/home/numeric", {}},  // the name matches first, as moby
      {":staff", 0, 50, "/root", {}},
  };
  for (auto& c : cases) {
    auto u = resolve_user_in(c.spec, P(kPasswd), P(kGroup));
    ASSERT_TRUE(u.ok()) << c.spec << ": " << u.error().message;
    EXPECT_EQ(u->uid, c.uid) << c.spec;
    EXPECT_EQ(u->gid, c.gid) << c.spec;
    EXPECT_EQ(u->home, c.home) << c.spec;
    EXPECT_EQ(u->additional_gids, c.sgids) << c.spec;
  }
}

TEST(UserDb, Errors) {
  auto u = resolve_user_in("ghost", P(kPasswd), P(kGroup));
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().message, "unable to find user ghost: no matching entries in passwd file");
  EXPECT_EQ(u.error().code, Errc::not_found);
  u = resolve_user_in("app:nogroup", P(kPasswd), P(kGroup));
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().message, "unable to find group nogroup: no matching entries in group file");
  EXPECT_FALSE(resolve_user_in("3000000000", P(kPasswd), P(kGroup)).ok());
  EXPECT_FALSE(resolve_user_in("app:3000000000", P(kPasswd), P(kGroup)).ok());
  u = resolve_user_in("a\nb", P(kPasswd), P(kGroup));
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().message.find('\n'), std::string::npos);
}

TEST(UserDb, MissingFiles) {
  auto u = resolve_user_in("", std::nullopt, std::nullopt);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 0u);
  EXPECT_EQ(u->home, "/");
  u = resolve_user_in("1000:1000", std::nullopt, std::nullopt);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->gid, 1000u);
  EXPECT_FALSE(resolve_user_in("app", std::nullopt, std::nullopt).ok());
}

TEST(UserDb, HostileLines) {
  std::string pw = std::string(kMaxDbLine + 10, 'x') + ":x:5:5::/evil:\napp:x:7:7::/h:\n";
  pw += std::string("nul\0user:x:8:8:::\n", 18);
  auto u = resolve_user_in("app", pw, std::nullopt);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->uid, 7u);
  EXPECT_EQ(parse_passwd(pw).size(), 1u);
  EXPECT_TRUE(parse_passwd(":::::\n::\n\n\n:x:1:1\n").empty());
}

class UserDbRootfs : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::create("/tmp", "berth-userdb-test");
    ASSERT_TRUE(d.ok());
    dir_.emplace(std::move(*d));
    root = dir_->path() + "/rootfs";
    outside = dir_->path() + "/outside";
    ASSERT_TRUE(mkdir_p(root + "/etc").ok());
    ASSERT_TRUE(mkdir_p(outside).ok());
  }
  void write(const std::string& rel, const std::string& text) {
    ASSERT_TRUE(atomic_write_file(root + "/" + rel, text).ok());
  }
  std::optional<TempDir> dir_;
  std::string root, outside;
};

TEST_F(UserDbRootfs, ReadsFiles) {
  write("etc/passwd", kPasswd);
  write("etc/group", kGroup);
  auto u = resolve_user(root, "app");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->uid, 1000u);
  EXPECT_EQ(u->additional_gids, (std::vector<uint32_t>{10, 50}));
  auto g = resolve_groups(root, {"video", "12", "staff"});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*g, (std::vector<uint32_t>{44, 12, 50}));
  EXPECT_FALSE(resolve_groups(root, {"nope"}).ok());
}

TEST_F(UserDbRootfs, MissingEtc) {
  ASSERT_EQ(::rmdir((root + "/etc").c_str()), 0);
  auto u = resolve_user(root, "0");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->uid, 0u);
  EXPECT_FALSE(resolve_user(root, "app").ok());
}

TEST_F(UserDbRootfs, SymlinkOutOfRootIsNotFollowed) {
  // The host file the hostile image points at.
  ASSERT_TRUE(atomic_write_file(outside + "/shadow", "evil:x:0:0::/:\n").ok());
  ASSERT_EQ(::symlink((outside + "/shadow").c_str(), (root + "/etc/passwd").c_str()), 0);
  auto u = resolve_user(root, "evil");
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().code, Errc::not_found);

  // A relative climb is clamped at the rootfs too.
  ASSERT_EQ(::unlink((root + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(::symlink("../../../../../../../../outside/shadow", (root + "/etc/passwd").c_str()), 0);
  EXPECT_FALSE(resolve_user(root, "evil").ok());

  // A symlinked /etc directory pointing out is resolved inside as well.
  ASSERT_EQ(::unlink((root + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(::rmdir((root + "/etc").c_str()), 0);
  ASSERT_TRUE(mkdir_p(outside + "/etc").ok());
  ASSERT_TRUE(atomic_write_file(outside + "/etc/passwd", "evil:x:0:0::/:\n").ok());
  ASSERT_EQ(::symlink(outside.c_str(), (root + "/etc").c_str()), 0);
  EXPECT_FALSE(resolve_user(root, "evil").ok());
}

TEST_F(UserDbRootfs, SymlinkInsideRootIsFollowed) {
  ASSERT_TRUE(mkdir_p(root + "/usr/lib").ok());
  write("usr/lib/passwd", "svc:x:42:42::/srv:\n");
  ASSERT_EQ(::symlink("/usr/lib/passwd", (root + "/etc/passwd").c_str()), 0);
  auto u = resolve_user(root, "svc");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->uid, 42u);
  ASSERT_EQ(::unlink((root + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(::symlink("../usr/lib/passwd", (root + "/etc/passwd").c_str()), 0);
  EXPECT_TRUE(resolve_user(root, "svc").ok());
}

TEST_F(UserDbRootfs, SymlinkLoopAndNonRegular) {
  ASSERT_EQ(::symlink("passwd", (root + "/etc/passwd").c_str()), 0);
  EXPECT_FALSE(resolve_user(root, "app").ok());
  ASSERT_EQ(::unlink((root + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(::mkfifo((root + "/etc/passwd").c_str(), 0644), 0);  // must not block
  auto u = resolve_user(root, "app");
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.error().message.find("not a regular file"), std::string::npos);
  ASSERT_EQ(::unlink((root + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(::mkdir((root + "/etc/passwd").c_str(), 0755), 0);
  EXPECT_FALSE(resolve_user(root, "app").ok());
}

TEST_F(UserDbRootfs, SizeCap) {
  std::string big(kMaxDbFile + 1, '#');
  write("etc/passwd", big);
  auto u = resolve_user(root, "app");
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().code, Errc::limit);
}

}  // namespace
}  // namespace berth::engine
