#include "seccomp/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include <sys/socket.h>
#include <sys/un.h>

#include "base/fs.h"

#include <gtest/gtest.h>

namespace berth::seccomp {
namespace {

using nlohmann::json;

// Runs body in a forked child after loading p; the child's exit code is
// body's return value. Returns the raw wait status.
int run_filtered(const Program& p, const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(100);
    int rc = load(p);
    if (rc < -1) ::_exit(101);
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

Program must_compile(const json& j) {
  auto r = compile(j);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().str());
  return r.ok() ? *r : Program{};
}

json rule(std::vector<std::string> names, const char* action, json extra = json::object()) {
  json r{{"names", names}, {"action", action}};
  r.update(extra);
  return r;
}

TEST(Seccomp, ErrnoRetForBlockedSyscall) {
  auto p = must_compile({{"defaultAction", "SCMP_ACT_ALLOW"},
                         {"syscalls", {rule({"uname"}, "SCMP_ACT_ERRNO", {{"errnoRet", 42}})}}});
  ASSERT_FALSE(p.filter.empty());
  int st = run_filtered(p, [] {
    struct utsname u;
    if (::uname(&u) != -1 || errno != 42) return 1;
    return ::getpid() > 0 ? 0 : 2;
  });
  EXPECT_EQ(exit_code(st), 0);
}

TEST(Seccomp, DefaultErrnoRetAppliesToUnlisted) {
  auto p = must_compile({{"defaultAction", "SCMP_ACT_ERRNO"},
                         {"defaultErrnoRet", 13},
                         {"syscalls", {rule({"exit", "exit_group", "getpid"}, "SCMP_ACT_ALLOW")}}});
  int st = run_filtered(p, [] {
    if (::getpid() <= 0) return 1;
    return (::syscall(SYS_getppid) == -1 && errno == 13) ? 0 : 2;
  });
  EXPECT_EQ(exit_code(st), 0);
}

TEST(Seccomp, SyscallsNewerThanTheProfileGetEnosys) {
  // The profile's highest syscall on x86_64 is exit_group (231); 1000 is
  // beyond it and beyond any kernel's table, getppid (110) is below it.
  auto p = must_compile({{"defaultAction", "SCMP_ACT_ERRNO"},
                         {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
                         {"syscalls", {rule({"exit", "exit_group", "getpid", "rt_sigreturn"}, "SCMP_ACT_ALLOW")}}});
  int st = run_filtered(p, [] {
    if (::syscall(1000) != -1 || errno != ENOSYS) return 1;
    if (::syscall(SYS_getppid) != -1 || errno != EPERM) return 2;
    if (::getpid() <= 0) return 3;
    return 0;
  });
  EXPECT_EQ(exit_code(st), 0);
  // Permissive defaults need no stub: the same call just runs (and fails ENOSYS in the kernel).
  auto allow = must_compile({{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", {rule({"uname"}, "SCMP_ACT_ERRNO")}}});
  EXPECT_LT(allow.filter.size(), p.filter.size() + 20);
}

TEST(Seccomp, ErrnoWithoutRetDefaultsToEperm) {
  auto p = must_compile({{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", {rule({"uname"}, "SCMP_ACT_ERRNO")}}});
  int st = run_filtered(p, [] {
    struct utsname u;
    return (::uname(&u) == -1 && errno == EPERM) ? 0 : 1;
  });
  EXPECT_EQ(exit_code(st), 0);
}

TEST(Seccomp, ArgConditionsInOneRuleAreAnded) {
  json args = json::array({{{"index", 0}, {"value", PRIO_PROCESS}, {"op", "SCMP_CMP_EQ"}},
                           {{"index", 1}, {"value", 4242}, {"op", "SCMP_CMP_EQ"}}});
  auto p = must_compile({{"defaultAction", "SCMP_ACT_ALLOW"},
                         {"syscalls", {rule({"getpriority"}, "SCMP_ACT_ERRNO", {{"errnoRet", 77}, {"args", args}})}}});
  int st = run_filtered(p, [] {
    errno = 0;
    if (::syscall(SYS_getpriority, PRIO_PROCESS, 4242) != -1 || errno != 77) return 1;
    errno = 0;
    if (::syscall(SYS_getpriority, PRIO_PROCESS, 0) == -1) return 2;  // only one condition holds
    errno = 0;
    if (::syscall(SYS_getpriority, PRIO_PGRP, 4242) == -1 && errno == 77) return 3;
    return 0;
  });
  EXPECT_EQ(exit_code(st), 0);
}

TEST(Seccomp, RepeatedArgIndexBecomesAlternatives) {
  // Same index twice cannot be ANDed by libseccomp; runc splits it into ORed rules.
  json args = json::array({{{"index", 0}, {"value", 11111}, {"op", "SCMP_CMP_EQ"}},
                           {{"index", 0}, {"value", 22222}, {"op", "SCMP_CMP_EQ"}}});
  auto p = must_compile({{"defaultAction", "SCMP_ACT_ALLOW"},
                         {"syscalls", {rule({"getpgid"}, "SCMP_ACT_ERRNO", {{"errnoRet", 55}, {"args", args}})}}});
  int st = run_filtered(p, [] {
    if (::syscall(SYS_getpgid, 11111) != -1 || errno != 55) return 1;
    if (::syscall(SYS_getpgid, 22222) != -1 || errno != 55) return 2;
    if (::syscall(SYS_getpgid, 0) == -1) return 3;
    return 0;
  });
  EXPECT_EQ(exit_code(st), 0);
}

TEST(Seccomp, MaskedEqCompares_ArgAndMaskWithValueTwo) {
  json args = json::array({{{"index", 0}, {"value", 0xf0}, {"valueTwo", 0x30}, {"op", "SCMP_CMP_MASKED_EQ"}}});
  auto p = must_compile({{"defaultAction", "SCMP_ACT_ALLOW"},
                         {"syscalls", {rule({"getpgid"}, "SCMP_ACT_ERRNO", {{"errnoRet", 66}, {"args", args}})}}});
  int st = run_filtered(p, [] {
    if (::syscall(SYS_getpgid, 0x1234531) != -1 || errno != 66) return 1;  // low byte 0x31 & 0xf0 == 0x30
    if (::syscall(SYS_getpgid, 0) == -1) return 2;
    return 0;
  });
  EXPECT_EQ(exit_code(st), 0);
}

TEST(Seccomp, KillProcessKills) {
  auto p = must_compile({{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", {rule({"uname"}, "SCMP_ACT_KILL_PROCESS")}}});
  int st = run_filtered(p, [] {
    struct utsname u;
    ::uname(&u);
    return 0;
  });
  ASSERT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGSYS);
}

TEST(Seccomp, TrapRaisesSigsys) {
  auto p = must_compile({{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", {rule({"uname"}, "SCMP_ACT_TRAP")}}});
  int st = run_filtered(p, [] {
    struct utsname u;
    ::uname(&u);
    return 0;
  });
  ASSERT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGSYS);
}

TEST(Seccomp, UnknownSyscallNamesAreSkippedAndReported) {
  auto p = must_compile({{"defaultAction", "SCMP_ACT_ALLOW"},
                         {"syscalls", {rule({"no_such_syscall_xyz", "uname"}, "SCMP_ACT_ERRNO")}}});
  ASSERT_EQ(p.skipped_syscalls.size(), 1u);
  EXPECT_EQ(p.skipped_syscalls[0], "no_such_syscall_xyz");
  int st = run_filtered(p, [] {
    struct utsname u;
    return (::uname(&u) == -1 && errno == EPERM) ? 0 : 1;
  });
  EXPECT_EQ(exit_code(st), 0);
}

TEST(Seccomp, ForeignArchSyscallsAndArchitecturesCompile) {
  // socketcall only exists on x86 (32-bit); with the compat arches it must compile.
  auto p = must_compile({{"defaultAction", "SCMP_ACT_ERRNO"},
                         {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
                         {"syscalls", {rule({"socketcall", "read", "write", "exit_group"}, "SCMP_ACT_ALLOW")}}});
  EXPECT_GT(p.filter.size(), 10u);
}

TEST(Seccomp, FlagsAndNotify) {
  auto p = must_compile({{"defaultAction", "SCMP_ACT_ALLOW"},
                         {"flags", {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"}},
                         {"listenerPath", "/run/x.sock"},
                         {"listenerMetadata", "meta"},
                         {"syscalls", {rule({"mkdirat"}, "SCMP_ACT_NOTIFY")}}});
  EXPECT_TRUE(p.notify);
  EXPECT_EQ(p.listener_path, "/run/x.sock");
  EXPECT_EQ(p.listener_metadata, "meta");
  EXPECT_TRUE(p.flags & SECCOMP_FILTER_FLAG_LOG);
  EXPECT_TRUE(p.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER);
  // load() hands back the listener fd.
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    int fd = load(p);
    ::_exit(fd >= 0 ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(exit_code(status), 0);
}

TEST(Seccomp, LoadFailureIsNeverMinusOne) {
  // Without no_new_privs and without CAP_SYS_ADMIN the kernel refuses; the
  // result must not be confused with "loaded, no listener" (-1).
  Program empty;
  pid_t pid = ::fork();
  if (pid == 0) {
    int rc = load(empty);  // zero-length program: EINVAL
    ::_exit(rc < -1 ? 0 : 1);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  EXPECT_EQ(exit_code(st), 0);
}

TEST(Seccomp, SendListenerDeliversFdAndState) {
  auto dir = TempDir::create("/tmp", "berth-seccomp-test");
  ASSERT_TRUE(dir.ok());
  Program p;
  p.listener_path = dir->path() + "/agent.sock";
  p.listener_metadata = "MKNOD=/dev/null";
  int srv = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, p.listener_path.c_str());
  ASSERT_EQ(::bind(srv, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(srv, 1), 0);
  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);

  Status sent;
  std::thread t([&] { sent = send_listener(p, pipefd[0], 4242, json{{"ociVersion", "1.2.0"}, {"id", "c1"}}); });
  int conn = ::accept4(srv, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(conn, 0);
  std::string body;
  int got_fd = -1;
  char buf[4096];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  for (;;) {
    iovec iov{buf, sizeof buf};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
    if (n <= 0) break;
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
      if (c->cmsg_type == SCM_RIGHTS) std::memcpy(&got_fd, CMSG_DATA(c), sizeof(int));
    body.append(buf, static_cast<size_t>(n));
  }
  t.join();
  ASSERT_TRUE(sent.ok()) << sent.error().str();
  auto msg = json::parse(body);
  EXPECT_EQ(msg["fds"], json::array({"seccompFd"}));
  EXPECT_EQ(msg["pid"], 4242);
  EXPECT_EQ(msg["metadata"], "MKNOD=/dev/null");
  EXPECT_EQ(msg["ociVersion"], "1.2.0");
  EXPECT_EQ(msg["state"]["id"], "c1");
  ASSERT_GE(got_fd, 0);
  ASSERT_EQ(::write(pipefd[1], "z", 1), 1);
  char c = 0;
  EXPECT_EQ(::read(got_fd, &c, 1), 1);
  EXPECT_EQ(c, 'z');
  for (int fd : {srv, conn, pipefd[0], pipefd[1], got_fd}) ::close(fd);

  Program none;
  EXPECT_FALSE(send_listener(none, 0, 1, json::object()).ok());
}

void expect_error(const json& j, const std::string& needle) {
  auto r = compile(j);
  ASSERT_FALSE(r.ok()) << "accepted: " << j.dump();
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
}

TEST(Seccomp, BadInputErrorsNameTheValue) {
  expect_error(json::array(), "expected an object");
  expect_error(json::object(), "defaultAction: required");
  expect_error({{"defaultAction", "SCMP_ACT_NOPE"}}, "SCMP_ACT_NOPE");
  expect_error({{"defaultAction", 3}}, "defaultAction: expected a string");
  expect_error({{"defaultAction", "SCMP_ACT_NOTIFY"}}, "cannot be the default");
  expect_error({{"defaultAction", "SCMP_ACT_ALLOW"}, {"architectures", {"SCMP_ARCH_VAX"}}}, "SCMP_ARCH_VAX");
  expect_error({{"defaultAction", "SCMP_ACT_ALLOW"}, {"flags", {"SECCOMP_FILTER_FLAG_BOGUS"}}},
               "SECCOMP_FILTER_FLAG_BOGUS");
  expect_error({{"defaultAction", "SCMP_ACT_ALLOW"},
                {"syscalls", {rule({"read"}, "SCMP_ACT_ERRNO",
                                   {{"args", {{{"index", 0}, {"value", 1}, {"op", "SCMP_CMP_FOO"}}}}})}}},
               "SCMP_CMP_FOO");
  expect_error({{"defaultAction", "SCMP_ACT_ALLOW"},
                {"syscalls", {rule({"read"}, "SCMP_ACT_ERRNO",
                                   {{"args", {{{"index", 6}, {"value", 1}, {"op", "SCMP_CMP_EQ"}}}}})}}},
               "syscalls[0].args[0].index");
  expect_error({{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", {rule({"read"}, "SCMP_ACT_NOTIFY")}}},
               "listenerPath");
  expect_error({{"defaultAction", "SCMP_ACT_ALLOW"},
                {"listenerPath", "/x"},
                {"syscalls", {rule({"write"}, "SCMP_ACT_NOTIFY")}}},
               "write");
  expect_error({{"defaultAction", "SCMP_ACT_ERRNO"}, {"syscalls", {rule({"read"}, "SCMP_ACT_ALLOW", {{"errnoRet", 1}})}}},
               "errnoRet");
  expect_error({{"defaultAction", "SCMP_ACT_ERRNO"}, {"defaultErrnoRet", -1}}, "defaultErrnoRet");
  expect_error({{"defaultAction", "SCMP_ACT_ALLOW"}, {"flags", {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}}},
               "needs an SCMP_ACT_NOTIFY");
  expect_error({{"defaultAction", "SCMP_ACT_ERRNO"}, {"syscalls", {{{"names", json::array()}, {"action", "SCMP_ACT_ALLOW"}}}}},
               "names");
}

TEST(DefaultProfile, BlocksUserNamespacesWithoutSysAdmin) {
  json prof = default_profile({"CAP_CHOWN", "CAP_KILL"});
  EXPECT_EQ(prof["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(prof["defaultErrnoRet"], 1);
  auto p = must_compile(prof);
  int st = run_filtered(p, [] {
    if (::getpid() <= 0) return 1;
    if (::unshare(CLONE_NEWUSER) != -1 || errno != EPERM) return 2;
    if (::syscall(SYS_clone3, nullptr, 0) != -1 || errno != ENOSYS) return 3;  // so libc falls back to clone
    // Plain fork still works: the clone flag filter only refuses namespace flags.
    pid_t c = ::fork();
    if (c < 0) return 4;
    if (c == 0) ::_exit(0);
    int s;
    ::waitpid(c, &s, 0);
    if (::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0) != -1 || errno != EPERM) return 5;
    return 0;
  });
  EXPECT_EQ(exit_code(st), 0);
}

TEST(DefaultProfile, SysAdminUnlocksNamespaceCalls) {
  json prof = default_profile({"CAP_SYS_ADMIN"});
  bool has_unshare = false;
  for (const auto& r : prof["syscalls"])
    for (const auto& n : r["names"]) has_unshare |= n == "unshare";
  EXPECT_TRUE(has_unshare);
  auto p = must_compile(prof);
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to unshare a UTS namespace";
  int st = run_filtered(p, [] { return ::unshare(CLONE_NEWUTS) == 0 ? 0 : 1; });
  EXPECT_EQ(exit_code(st), 0);
}

TEST(DefaultProfile, CapabilityNamesAreNormalised) {
  auto count_names = [](const json& prof) {
    size_t n = 0;
    for (const auto& r : prof["syscalls"]) n += r["names"].size();
    return n;
  };
  EXPECT_EQ(count_names(default_profile({"sys_admin"})), count_names(default_profile({"CAP_SYS_ADMIN"})));
  EXPECT_GT(count_names(default_profile({"CAP_SYS_ADMIN"})), count_names(default_profile({})));
}

TEST(Features, ListsWhatIsSupported) {
  json f = features();
  EXPECT_EQ(f["enabled"], true);
  EXPECT_NE(std::find(f["actions"].begin(), f["actions"].end(), "SCMP_ACT_KILL_PROCESS"), f["actions"].end());
  EXPECT_NE(std::find(f["operators"].begin(), f["operators"].end(), "SCMP_CMP_MASKED_EQ"), f["operators"].end());
  EXPECT_NE(std::find(f["archs"].begin(), f["archs"].end(), "SCMP_ARCH_X86_64"), f["archs"].end());
  EXPECT_NE(std::find(f["supportedFlags"].begin(), f["supportedFlags"].end(), "SECCOMP_FILTER_FLAG_LOG"),
            f["supportedFlags"].end());
}

}  // namespace
}  // namespace berth::seccomp
