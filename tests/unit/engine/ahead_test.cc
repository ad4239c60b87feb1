// engine::Ahead: a foreground run's network namespace and cgroup, made on a
// second thread. Real namespaces and cgroups (under /berth/<id>, as the
// engine's); skipped when not real root.
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/userns.h"
#include "engine/ahead.h"
#include "engine/options.h"

namespace berth::engine {
namespace {

bool real_root() { return ::geteuid() == 0 && !in_user_namespace(); }

ino_t ns_inode(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

ino_t own_netns() {
  struct stat st {};
  return ::stat("/proc/thread-self/ns/net", &st) == 0 ? st.st_ino : 0;
}

// In a child: join the namespace, report 1 when lo is up and it is the only
// interface (index 2 absent).
int lo_up_alone_in(int ns_fd) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setns(ns_fd, CLONE_NEWNET) != 0) ::_exit(2);
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr {};
    std::memcpy(ifr.ifr_name, "lo", 3);
    if (s < 0 || ::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) ::_exit(3);
    if (!(ifr.ifr_flags & IFF_UP)) ::_exit(4);
    char name[IF_NAMESIZE];
    ::_exit(if_indextoname(2, name) == nullptr ? 0 : 5);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

RunOptions foreground(const std::string& network) {
  RunOptions o;
  o.run_here = true;
  o.network = network;
  return o;
}

TEST(Ahead, OnlyForForegroundRuns) {
  RunOptions o = foreground("none");
  o.run_here = false;
  EXPECT_EQ(Ahead::start(o), nullptr);
}

TEST(Ahead, MakesNetnsWithLoUpAndTheCgroupThenRemovesWhatWasNotTaken) {
  if (!real_root()) GTEST_SKIP() << "needs real root";
  RunOptions o = foreground("none");
  o.memory = 64 << 20;
  auto a = Ahead::start(o);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->id().size(), 64u);
  const ino_t before = own_netns();
  runtime::Prepared* p = a->take();
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->netns) << "no network namespace made";
  EXPECT_NE(ns_inode(p->netns.get()), before) << "not a new namespace";
  EXPECT_EQ(own_netns(), before) << "the calling thread moved";
  EXPECT_EQ(lo_up_alone_in(p->netns.get()), 0);
  ASSERT_NE(p->cgroup, nullptr) << "no cgroup made";
  auto dirs = p->cgroup->mounts();
  ASSERT_FALSE(dirs.empty());
  for (const auto& [ctrl, dir] : dirs) {
    EXPECT_TRUE(path_exists(dir)) << dir;
    EXPECT_NE(dir.find("/berth/" + a->id()), std::string::npos) << dir;
    if (ctrl == "memory") {
      std::ifstream in(dir + "/memory.limit_in_bytes");
      long long v = 0;
      in >> v;
      EXPECT_EQ(v, 64ll << 20) << "the spec's resources were not applied";
    }
  }
  a.reset();  // nobody took the cgroup: it goes with the Ahead
  for (const auto& [ctrl, dir] : dirs) EXPECT_FALSE(path_exists(dir)) << dir << " left behind";
}

TEST(Ahead, BridgeGetsNoNamespaceFromIt) {
  if (!real_root()) GTEST_SKIP() << "needs real root";
  auto a = Ahead::start(foreground("bridge"));
  ASSERT_NE(a, nullptr);
  runtime::Prepared* p = a->take();
  EXPECT_FALSE(p->netns);
  EXPECT_NE(p->cgroup, nullptr);
}

TEST(Ahead, TakenCgroupIsNotRemoved) {
  if (!real_root()) GTEST_SKIP() << "needs real root";
  auto a = Ahead::start(foreground("none"));
  ASSERT_NE(a, nullptr);
  std::unique_ptr<cgroup::Manager> cg = std::move(a->take()->cgroup);
  ASSERT_NE(cg, nullptr);
  auto dirs = cg->mounts();
  a.reset();
  for (const auto& [ctrl, dir] : dirs) EXPECT_TRUE(path_exists(dir)) << dir;
  EXPECT_TRUE(cg->destroy().ok());
}

}  // namespace
}  // namespace berth::engine
