#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "helpers.h"
#include "network/network.h"

using namespace berth;
using namespace berth::network;

namespace {

ino_t netns_inode(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_ino;
}

bool lo_up(const std::string& ns) {
  bool up = false;
  auto st = in_netns(ns, [&]() -> Status {
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return sys_error("SIOCGIFFLAGS");
    up = ifr.ifr_flags & IFF_UP;
    return {};
  });
  EXPECT_TRUE(st.ok());
  return up;
}

}  // namespace

TEST(Netns, CreateRemove) {
  if (!nettest::is_root()) GTEST_SKIP() << "needs root";
  nettest::Scratch s;
  ino_t own = netns_inode("/proc/self/ns/net");
  std::string ns = s.netns("a");
  ASSERT_FALSE(ns.empty());
  EXPECT_EQ(ns, s.netns_dir() + "/a");
  ino_t created = netns_inode(ns);
  EXPECT_NE(created, 0u);
  EXPECT_NE(created, own);
  EXPECT_EQ(netns_inode("/proc/self/ns/net"), own) << "the caller's namespace changed";
  // A second one is a different namespace; the same name is refused.
  std::string ns2 = s.netns("b");
  EXPECT_NE(netns_inode(ns2), created);
  auto again = create_netns(s.netns_dir(), "a");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::already_exists);
  EXPECT_FALSE(create_netns(s.netns_dir(), "../x").ok());

  // in_netns runs inside it and leaves the caller alone.
  ino_t seen = 0;
  ASSERT_TRUE(in_netns(ns, [&]() -> Status {
                seen = netns_inode("/proc/thread-self/ns/net");
                return {};
              }).ok());
  EXPECT_EQ(seen, created);
  EXPECT_EQ(netns_inode("/proc/self/ns/net"), own);

  ASSERT_TRUE(remove_netns(ns).ok());
  EXPECT_FALSE(path_exists(ns));
  EXPECT_TRUE(remove_netns(ns).ok()) << "removing twice is fine";
  EXPECT_FALSE(in_netns(ns, [] { return Status(); }).ok());
}

TEST(Netns, LoopbackUp) {
  if (!nettest::is_root()) GTEST_SKIP() << "needs root";
  nettest::Scratch s;
  std::string ns = s.netns("lo");
  ASSERT_FALSE(ns.empty());
  EXPECT_FALSE(lo_up(ns)) << "a new namespace starts with lo down";
  ASSERT_TRUE(bring_up_loopback(ns).ok());
  EXPECT_TRUE(lo_up(ns));
  ASSERT_TRUE(bring_up_loopback(ns).ok()) << "idempotent";
  // With lo up, a server on 127.0.0.1 inside is reachable from inside.
  UniqueFd l = nettest::listen_in(ns, 0);
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(l.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
  ::testing::AssertionResult r = ::testing::AssertionFailure();
  ASSERT_TRUE(in_netns(ns, [&]() -> Status {
                r = nettest::reaches("127.0.0.1", ntohs(a.sin_port), l.get());
                return {};
              }).ok());
  EXPECT_TRUE(r);
}
