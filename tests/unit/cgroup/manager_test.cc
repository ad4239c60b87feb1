// Real cgroups under a unique per-process subtree, removed on teardown even
// when a test fails. Skipped when not root or when the hierarchy is absent.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "cgroup/cgroup.h"
#include "cgroup/fsio.h"
#include "cgroup/impl.h"
#include "cgroup/layout.h"

namespace berth::cgroup {
namespace {

using nlohmann::json;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// A child that blocks until released, then runs `body` and exits with its
// result. Killed and reaped on destruction if still running.
class Child {
 public:
  template <class F>
  explicit Child(F body) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(p[1]);
      char c;
      if (::read(p[0], &c, 1) != 1) ::_exit(120);
      ::_exit(body());
    }
    ::close(p[0]);
    go_ = p[1];
  }
  ~Child() {
    if (go_ >= 0) ::close(go_);
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  void release() {
    (void)!::write(go_, "x", 1);
    ::close(go_);
    go_ = -1;
  }
  int wait() {
    int st = 0;
    ::waitpid(pid_, &st, 0);
    reaped_ = true;
    return st;
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
  bool reaped_ = false;
};

class CgroupManager : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    host_ = host();
    if (!host_) GTEST_SKIP() << "no cgroup filesystem";
    std::random_device rd;
    prefix_ = "/berth-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 100000);
  }

  void TearDown() override {
    if (prefix_.empty() || !host_) return;
    // Remove whatever the test left behind in every hierarchy.
    for (const auto& h : host_->v1) (void)fsio::remove_tree(h.mountpoint + prefix_);
    if (!host_->v2_mount.empty()) (void)fsio::remove_tree(host_->v2_mount + prefix_);
  }

  bool is_v1() const { return host_->layout != Layout::v2; }
  std::string v1dir(const char* controller, const std::string& leaf) const {
    const Hierarchy* h = host_->find_v1(controller);
    return h ? h->mountpoint + prefix_ + leaf : "";
  }

  std::unique_ptr<Manager> create(const std::string& leaf, const json& res) {
    auto m = Manager::create(prefix_ + leaf, "unused", res);
    EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().str());
    return m.ok() ? std::move(*m) : nullptr;
  }

  const HostLayout* host_ = nullptr;
  std::string prefix_;
};

TEST_F(CgroupManager, MemoryLimitRoundTripAndUpdate) {
  if (!is_v1() || !host_->find_v1("memory")) GTEST_SKIP() << "v1 memory hierarchy needed";
  auto m = create("/mem", json::parse(R"({"memory": {"limit": 67108864, "reservation": 33554432, "swappiness": 10}})"));
  ASSERT_TRUE(m);
  std::string d = v1dir("memory", "/mem");
  EXPECT_EQ(slurp(d + "/memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(slurp(d + "/memory.soft_limit_in_bytes"), "33554432");
  EXPECT_EQ(slurp(d + "/memory.swappiness"), "10");
  if (path_exists(d + "/memory.memsw.limit_in_bytes")) {
    // Growing both: memsw must be written first or the kernel refuses.
    ASSERT_TRUE(m->update(json::parse(R"({"memory": {"limit": 134217728, "swap": 268435456}})")).ok());
    EXPECT_EQ(slurp(d + "/memory.memsw.limit_in_bytes"), "268435456");
    // Shrinking both: the limit first.
    auto s = m->update(json::parse(R"({"memory": {"limit": 16777216, "swap": 33554432}})"));
    ASSERT_TRUE(s.ok()) << s.error().str();
    EXPECT_EQ(slurp(d + "/memory.limit_in_bytes"), "16777216");
    EXPECT_EQ(slurp(d + "/memory.memsw.limit_in_bytes"), "33554432");
  }
  ASSERT_TRUE(m->update(json::parse(R"({"memory": {"limit": 33554432}})")).ok());
  EXPECT_EQ(slurp(d + "/memory.limit_in_bytes"), "33554432");
  auto st = m->stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ((*st)["memory"]["usage"]["limit"], 33554432u);
  EXPECT_TRUE(m->destroy().ok());
  EXPECT_FALSE(path_exists(d));
}

TEST_F(CgroupManager, PidsLimitStopsForks) {
  auto m = create("/pids", json::parse(R"({"pids": {"limit": 4}})"));
  ASSERT_TRUE(m);
  // The child forks until the kernel says EAGAIN; its kids just wait.
  Child c([] {
    pid_t kids[16];
    int n = 0, err = 0;
    for (; n < 16; ++n) {
      pid_t k = ::fork();
      if (k == 0) {
        ::pause();
        ::_exit(0);
      }
      if (k < 0) {
        err = errno;
        break;
      }
      kids[n] = k;
    }
    for (int i = 0; i < n; ++i) {
      ::kill(kids[i], SIGKILL);
      ::waitpid(kids[i], nullptr, 0);
    }
    return err == EAGAIN ? n : 100;
  });
  ASSERT_TRUE(m->add_process(c.pid()).ok());
  c.release();
  int st = c.wait();
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 3);  // the child itself plus three
  EXPECT_TRUE(m->destroy().ok());
}

TEST_F(CgroupManager, FreezeAndThawASleepingChild) {
  auto m = create("/frz", json::object());
  ASSERT_TRUE(m);
  Child c([] {
    for (;;) ::pause();
    return 0;
  });
  ASSERT_TRUE(m->add_process(c.pid()).ok());
  auto s = m->freeze(true);
  ASSERT_TRUE(s.ok()) << s.error().str();
  EXPECT_TRUE(*m->frozen());
  ASSERT_TRUE(m->freeze(false).ok());
  EXPECT_FALSE(*m->frozen());
  auto pids = m->pids();
  ASSERT_TRUE(pids.ok());
  ASSERT_EQ(pids->size(), 1u);
  EXPECT_EQ((*pids)[0], c.pid());
  // A paused container can still be killed.
  ASSERT_TRUE(m->freeze(true).ok());
  ASSERT_TRUE(m->kill(SIGKILL).ok());
  int st = c.wait();
  EXPECT_TRUE(WIFSIGNALED(st));
  EXPECT_TRUE(m->destroy().ok());
}

// Opens `dev` read-only in a child placed in the cgroup; returns the errno (0 = opened).
int open_errno_in(Manager& m, const char* dev) {
  Child c([dev] {
    int fd = ::open(dev, O_RDONLY | O_CLOEXEC);
    return fd >= 0 ? 0 : errno;
  });
  if (!m.add_process(c.pid()).ok()) return -1;
  c.release();
  int st = c.wait();
  return WIFEXITED(st) ? WEXITSTATUS(st) : -2;
}

TEST_F(CgroupManager, KillKeepsAPausedContainerPausedExceptForSigkill) {
  auto m = create("/killp", json::object());
  ASSERT_TRUE(m);
  Child c([] {
    for (;;) ::pause();
    return 0;
  });
  ASSERT_TRUE(m->add_process(c.pid()).ok());
  c.release();
  ASSERT_TRUE(m->freeze(true).ok());
  ASSERT_TRUE(m->kill(SIGTERM).ok());
  EXPECT_TRUE(*m->frozen());  // still paused; the signal waits
  ASSERT_TRUE(m->freeze(false).ok());
  int st = c.wait();
  ASSERT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGTERM);
  EXPECT_TRUE(m->destroy().ok());
}

TEST_F(CgroupManager, DevicesDenyAllButDefaults) {
  auto m = create("/dev", json::parse(R"({"devices": [{"allow": false, "access": "rwm"},
                                                        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}]})"));
  ASSERT_TRUE(m);
  if (is_v1()) {
    std::string list = slurp(v1dir("devices", "/dev") + "/devices.list");
    EXPECT_EQ(list.find("a *:* rwm"), std::string::npos) << list;
    EXPECT_NE(list.find("c 1:3 rw"), std::string::npos) << list;
  }
  EXPECT_EQ(open_errno_in(*m, "/dev/null"), 0);
  EXPECT_EQ(open_errno_in(*m, "/dev/zero"), 0);  // a runc default device
  EXPECT_EQ(open_errno_in(*m, "/dev/kmsg"), EPERM);
  EXPECT_TRUE(m->destroy().ok());
}

TEST_F(CgroupManager, DevicesAreManagedEvenWithoutRulesLikeRunc) {
  auto none = create("/devnone", json::object());
  ASSERT_TRUE(none);
  EXPECT_EQ(open_errno_in(*none, "/dev/null"), 0);
  EXPECT_EQ(open_errno_in(*none, "/dev/kmsg"), EPERM);
  // Deny-by-default to deny-by-default: applied as a difference, no deny-all step.
  ASSERT_TRUE(none->update(json::parse(R"({"devices": [{"allow": false, "access": "rwm"},
                                                        {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "r"}]})")).ok());
  EXPECT_EQ(open_errno_in(*none, "/dev/kmsg"), 0);
  EXPECT_EQ(open_errno_in(*none, "/dev/null"), 0);
  ASSERT_TRUE(none->update(json::parse(R"({"devices": []})")).ok());
  EXPECT_EQ(open_errno_in(*none, "/dev/kmsg"), EPERM);
  EXPECT_TRUE(none->destroy().ok());
  auto all = create("/devall", json::parse(R"({"devices": [{"allow": true, "access": "rwm"}]})"));
  ASSERT_TRUE(all);
  EXPECT_EQ(open_errno_in(*all, "/dev/kmsg"), 0);
  // update() without devices leaves the device cgroup alone; with devices it replaces them.
  ASSERT_TRUE(all->update(json::parse(R"({"pids": {"limit": 50}})")).ok());
  EXPECT_EQ(open_errno_in(*all, "/dev/kmsg"), 0);
  ASSERT_TRUE(all->update(json::parse(R"({"devices": [{"allow": false, "access": "rwm"}]})")).ok());
  EXPECT_EQ(open_errno_in(*all, "/dev/kmsg"), EPERM);
  EXPECT_EQ(open_errno_in(*all, "/dev/null"), 0);
  EXPECT_TRUE(all->destroy().ok());
}

TEST_F(CgroupManager, CpuQuotaSharesAndCpuset) {
  auto m = create("/a/cpu", json::parse(R"({"cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"}})"));
  ASSERT_TRUE(m);
  if (is_v1()) {
    std::string d = v1dir("cpu", "/a/cpu");
    EXPECT_EQ(slurp(d + "/cpu.shares"), "512");
    EXPECT_EQ(slurp(d + "/cpu.cfs_quota_us"), "50000");
    EXPECT_EQ(slurp(d + "/cpu.cfs_period_us"), "100000");
    EXPECT_EQ(slurp(v1dir("cpuset", "/a/cpu") + "/cpuset.cpus"), "0");
    // The intermediate cpuset cgroup inherited its parent's cpus so tasks fit.
    EXPECT_FALSE(slurp(v1dir("cpuset", "/a") + "/cpuset.cpus").empty());
    ASSERT_TRUE(m->update(json::parse(R"({"cpu": {"quota": -1}})")).ok());
    EXPECT_EQ(slurp(d + "/cpu.cfs_quota_us"), "-1");
  }
  EXPECT_TRUE(m->destroy().ok());
}

TEST_F(CgroupManager, StatsInRuncShape) {
  auto m = create("/stats", json::parse(R"({"pids": {"limit": 100}, "memory": {"limit": 268435456}})"));
  ASSERT_TRUE(m);
  Child c([] {
    for (;;) ::pause();
    return 0;
  });
  ASSERT_TRUE(m->add_process(c.pid()).ok());
  c.release();
  auto st = m->stats();
  ASSERT_TRUE(st.ok()) << st.error().str();
  const json& s = *st;
  for (const char* k : {"cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"})
    EXPECT_TRUE(s.contains(k)) << k;
  EXPECT_GE(s["pids"].value("current", 0u), 1u);
  EXPECT_EQ(s["pids"].value("limit", 0u), 100u);
  EXPECT_TRUE(s["cpu"]["usage"].contains("kernel"));
  EXPECT_TRUE(s["memory"]["usage"].contains("limit"));
  EXPECT_TRUE(m->kill(SIGKILL).ok());
  c.wait();
  EXPECT_TRUE(m->destroy().ok());
}

TEST_F(CgroupManager, OpenFindsExistingAndCreateRefusesABusyOne) {
  auto m = create("/open", json::object());
  ASSERT_TRUE(m);
  auto again = Manager::open(prefix_ + "/open", "x");
  ASSERT_TRUE(again.ok()) << again.error().str();
  EXPECT_EQ((*again)->path(), prefix_ + "/open");
  EXPECT_FALSE((*again)->mounts().empty());
  auto missing = Manager::open(prefix_ + "/nope", "x");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::not_found);

  Child c([] {
    for (;;) ::pause();
    return 0;
  });
  ASSERT_TRUE(m->add_process(c.pid()).ok());
  auto dup = Manager::create(prefix_ + "/open", "x", json::object());
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, Errc::already_exists);
  // destroy refuses while a process remains, and succeeds after.
  EXPECT_FALSE(m->destroy().ok());
  ASSERT_TRUE(m->kill(SIGKILL).ok());
  c.wait();
  EXPECT_TRUE(m->destroy().ok());
}

TEST_F(CgroupManager, ProcSelfCgroupAgreesOnHybrid) {
  auto m = create("/self", json::object());
  ASSERT_TRUE(m);
  Child c([] {
    for (;;) ::pause();
    return 0;
  });
  ASSERT_TRUE(m->add_process(c.pid()).ok());
  std::string cg = slurp("/proc/" + std::to_string(c.pid()) + "/cgroup");
  if (!host_->v2_mount.empty()) {
    EXPECT_NE(cg.find("0::" + prefix_ + "/self"), std::string::npos) << cg;
  }
  if (is_v1()) {
    EXPECT_NE(cg.find(":memory:" + prefix_ + "/self"), std::string::npos) << cg;
  }
  ASSERT_TRUE(m->kill(SIGKILL).ok());
  c.wait();
  EXPECT_TRUE(m->destroy().ok());
}

TEST_F(CgroupManager, HugetlbOnTheUnifiedMountOfAHybridHost) {
  if (host_->layout != Layout::hybrid || host_->find_v1("hugetlb") || !host_->v2_has("hugetlb"))
    GTEST_SKIP() << "needs a hybrid host with hugetlb bound to cgroup2";
  auto m = create("/huge", json::parse(R"({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]})"));
  ASSERT_TRUE(m);
  EXPECT_EQ(slurp(host_->v2_mount + prefix_ + "/huge/hugetlb.2MB.max"), "4194304");
  auto st = m->stats();
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE((*st)["hugetlb"].contains("2MB"));
  EXPECT_TRUE(m->destroy().ok());
}

TEST_F(CgroupManager, FailedCreateLeavesNothingBehind) {
  auto m = Manager::create(prefix_ + "/bad", "x", json::parse(R"({"unified": {"nosuch.file": "1"}})"));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("nosuch.file"), std::string::npos) << m.error().message;
  for (const auto& h : host_->v1) EXPECT_FALSE(path_exists(h.mountpoint + prefix_)) << h.mountpoint;
  if (!host_->v2_mount.empty()) {
    EXPECT_FALSE(path_exists(host_->v2_mount + prefix_));
  }
}

TEST_F(CgroupManager, SystemdPathWithoutSystemdUsesCgroupfs) {
  std::string slice = "berthtest" + prefix_.substr(prefix_.rfind('-') + 1) + std::to_string(::getpid()) + ".slice";
  auto m = Manager::create(slice + ":berth:ctr", "x", json::object(), true);
  ASSERT_TRUE(m.ok()) << m.error().str();
  EXPECT_EQ((*m)->path(), "/" + slice + "/berth-ctr.scope");
  EXPECT_TRUE((*m)->destroy().ok());
  for (const auto& h : host_->v1) (void)fsio::rmdir_retry(h.mountpoint + "/" + slice);
  if (!host_->v2_mount.empty()) (void)fsio::rmdir_retry(host_->v2_mount + "/" + slice);
}

// The v2 manager driven against the cgroup2 mount of a hybrid host: freezing,
// cgroup.kill and the device eBPF filter are core cgroup2 features and work
// without any controller enabled there.
class CgroupV2OnUnified : public CgroupManager {
 protected:
  void SetUp() override {
    CgroupManager::SetUp();
    if (IsSkipped()) return;
    if (host_->v2_mount.empty()) GTEST_SKIP() << "no cgroup2 mount";
    v2_ = *host_;
    v2_.layout = Layout::v2;
    v2_.v1.clear();
  }
  std::unique_ptr<Manager> make(const std::string& leaf, const json& res) {
    auto r = parse_resources(res);
    EXPECT_TRUE(r.ok());
    auto m = detail::make_v2(v2_, prefix_ + leaf, true, *r);
    EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().str());
    return m.ok() ? std::move(*m) : nullptr;
  }
  HostLayout v2_;
};

TEST_F(CgroupV2OnUnified, FreezeKillAndDeviceFilter) {
  auto m = make("/v2", json::parse(R"({"devices": [{"allow": false, "access": "rwm"},
                                                   {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                                                   {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "r"}]})"));
  ASSERT_TRUE(m);
  Child checker([] {
    if (::open("/dev/null", O_RDWR | O_CLOEXEC) < 0) return 1;
    if (::open("/dev/zero", O_RDONLY | O_CLOEXEC) < 0) return 2;
    if (::open("/dev/zero", O_RDWR | O_CLOEXEC) >= 0 || errno != EPERM) return 3;  // w not granted
    if (::open("/dev/full", O_RDONLY | O_CLOEXEC) >= 0 || errno != EPERM) return 4;
    return 0;
  });
  ASSERT_TRUE(m->add_process(checker.pid()).ok());
  checker.release();
  int cst = checker.wait();
  ASSERT_TRUE(WIFEXITED(cst));
  EXPECT_EQ(WEXITSTATUS(cst), 0);

  Child c([] {
    for (;;) ::pause();
    return 0;
  });
  ASSERT_TRUE(m->add_process(c.pid()).ok());
  ASSERT_TRUE(m->freeze(true).ok());
  EXPECT_TRUE(*m->frozen());
  ASSERT_TRUE(m->freeze(false).ok());
  EXPECT_FALSE(*m->frozen());
  // Tighter rules on update replace the old program.
  auto up = m->update(json::parse(R"({"devices": [{"allow": false, "access": "rwm"}]})"));
  ASSERT_TRUE(up.ok()) << up.error().str();
  ASSERT_TRUE(m->kill(SIGKILL).ok());
  int st = c.wait();
  ASSERT_TRUE(WIFSIGNALED(st)) << "child exited with " << WEXITSTATUS(st);
  EXPECT_EQ(WTERMSIG(st), SIGKILL);
  EXPECT_TRUE(m->destroy().ok());
}

}  // namespace
}  // namespace berth::cgroup

namespace berth::cgroup {
namespace {

TEST_F(CgroupV2OnUnified, EnablesAvailableControllersAndNamesMissingOnes) {
  // hugetlb is the controller this kind of hybrid host binds to cgroup2.
  if (v2_.v2_has("hugetlb")) {
    auto m = make("/a/b", json::parse(R"({"hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}]})"));
    ASSERT_TRUE(m);
    EXPECT_EQ(slurp(v2_.v2_mount + prefix_ + "/a/b/hugetlb.2MB.max"), "2097152");
    EXPECT_NE(slurp(v2_.v2_mount + prefix_ + "/a/cgroup.subtree_control").find("hugetlb"), std::string::npos);
    EXPECT_EQ(m->mounts().size(), 1u);
    EXPECT_EQ(m->mounts()[0].first, "");
    EXPECT_TRUE(m->destroy().ok());
    RecordProperty("hugetlb_checked", 1);
  }
  if (!v2_.v2_has("memory")) {
    RecordProperty("missing_checked", 1);
    auto r = parse_resources(json::parse(R"({"memory": {"limit": 1048576}})"));
    ASSERT_TRUE(r.ok());
    auto m = detail::make_v2(v2_, prefix_ + "/nomem", true, *r);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().message.find("memory controller"), std::string::npos) << m.error().message;
    EXPECT_FALSE(path_exists(v2_.v2_mount + prefix_ + "/nomem"));
  }
}

}  // namespace
}  // namespace berth::cgroup
