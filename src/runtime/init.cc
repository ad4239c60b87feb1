// The child side of create/run and exec: everything between clone and execve.
#include "runtime/init.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>

#include "base/fs.h"
#include "base/trace.h"
#include "cgroup/cgroup.h"
#include "runtime/hooks.h"
#include "runtime/sysctl.h"

namespace berth::runtime {

namespace {

void reset_signals() {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s = 1; s < NSIG; ++s)
    if (s != SIGKILL && s != SIGSTOP) ::signal(s, SIG_DFL);
}

// After the sync socket is gone the only channel left is stderr.
[[noreturn]] void late_fail(const Error& e) {
  std::string m = "berth-runtime: " + e.str() + "\n";
  (void)!::write(2, m.data(), m.size());
  ::_exit(127);
}

Status join_namespaces(const InitConfig& cfg) {
  // The user namespace first: it decides what the other setns calls may do.
  for (int pass = 0; pass < 2; ++pass)
    for (const auto& [type, fd] : cfg.join_ns) {
      if ((type == NsType::user) != (pass == 0)) continue;
      if (::setns(fd, ns_clone_flag(type)) != 0)
        return sys_error(std::string("join ") + ns_type_name(type) + " namespace");
      ::close(fd);
    }
  return Status{};
}

// Before any namespace is joined: the fds were opened in the runtime's view.
Status join_cgroups(const InitConfig& cfg) {
  TRY(cgroup::Manager::enter_self(cfg.cgroup_tasks.data(), cfg.cgroup_tasks.size()));
  for (int fd : cfg.cgroup_tasks) ::close(fd);
  return Status{};
}

Status become_root_in_userns(const InitConfig& cfg) {
  if (!cfg.userns) return Status{};
  if (::setresgid(0, 0, 0) != 0) return sys_error("setgid 0 in the user namespace");
  if (::setresuid(0, 0, 0) != 0) return sys_error("setuid 0 in the user namespace");
  return Status{};
}

Status run_start_hooks(const InitConfig& cfg, const std::string& state) {
  if (!cfg.spec || cfg.spec->hooks.start_container.empty()) return Status{};
  return run_hooks(cfg.spec->hooks.start_container, state, "startContainer");
}

}  // namespace

Status apply_apparmor(const std::string& profile) {
  if (profile.empty()) return Status{};
  auto enabled = read_file("/sys/module/apparmor/parameters/enabled", 16);
  if (!enabled.ok() || enabled->empty() || (*enabled)[0] != 'Y') return Status{};
  std::string cmd = "exec " + profile;
  for (const char* p : {"/proc/self/attr/apparmor/exec", "/proc/self/attr/exec"}) {
    UniqueFd fd(::open(p, O_WRONLY | O_CLOEXEC));
    if (!fd) continue;
    if (::write(fd.get(), cmd.data(), cmd.size()) < 0) return sys_error("apply AppArmor profile " + profile);
    return Status{};
  }
  return Status{};
}

void container_init(InitConfig& cfg) {
  reset_signals();
  const int sync = cfg.sync_fd;
  auto check = [&](Status st) {
    if (!st.ok()) child_fail(sync, st.error());
  };
  auto tag = sync_recv(sync);
  if (!tag.ok() || *tag != kSyncGo) ::_exit(1);
  check(join_cgroups(cfg));
  trace_mark("init: cgroups joined");
  check(join_namespaces(cfg));
  check(become_root_in_userns(cfg));
  if (cfg.unshare_flags && ::unshare(cfg.unshare_flags) != 0) check(sys_error("unshare cgroup namespace"));
  const Spec& s = *cfg.spec;
  if (const Namespace* n = s.linux.ns(NsType::network); n && n->path.empty() && !cfg.netns_ready) check(loopback_up());
  trace_mark("init: lo up");
  if (s.linux.ns(NsType::uts)) {
    if (!s.hostname.empty() && ::sethostname(s.hostname.data(), s.hostname.size()) != 0)
      check(sys_error("sethostname"));
    if (!s.domainname.empty() && ::setdomainname(s.domainname.data(), s.domainname.size()) != 0)
      check(sys_error("setdomainname"));
  }
  check(prepare_rootfs(cfg));
  trace_mark("init: rootfs prepared");
  check(sync_send(sync, kSyncMounted));
  std::string state;
  tag = sync_recv(sync, &state);
  if (!tag.ok() || *tag != kSyncHooksDone) ::_exit(1);
  // The spec wants createContainer hooks in the container's namespaces but
  // with their path resolved in the runtime's: here, before pivot_root, both
  // hold.
  check(run_hooks(s.hooks.create_container, state, "createContainer"));
  check(finish_rootfs(cfg));
  trace_mark("init: rootfs finished");
  if (cfg.process->terminal) check(setup_console(cfg));
  if (cfg.console_fd >= 0) ::close(cfg.console_fd);
  check(setup_process(cfg));
  trace_mark("init: process set up");
  auto exe = find_executable(*cfg.process);
  if (!exe.ok()) child_fail(sync, exe.error());
  check(apply_apparmor(cfg.process->apparmor_profile));
  // When the privileges go and the filter is loaded:
  //  - before Ready with a NOTIFY profile: its listener must reach the agent
  //    before `create` reports the container created (startContainer hooks
  //    then run as the container user, under the filter);
  //  - otherwise right after Ready, before the wait for start, as runc does:
  //    the work overlaps the runtime recording the state, start is the exec;
  //  - after start when there are startContainer hooks, which berth runs as root.
  enum class Drop { before_ready, after_ready, after_start };
  const Drop drop = cfg.has_seccomp && cfg.seccomp.notify ? Drop::before_ready
                    : s.hooks.start_container.empty()     ? Drop::after_ready
                                                          : Drop::after_start;
  if (drop == Drop::before_ready) {
    close_fds_from(3 + cfg.preserve_fds, {cfg.fifo_fd, sync});
    check(drop_privileges(cfg));
  }
  check(sync_write(sync, kSyncReady));
  ::close(sync);
  cfg.sync_fd = -1;
  if (drop == Drop::after_ready) {
    close_fds_from(3 + cfg.preserve_fds, {cfg.fifo_fd});
    if (auto st = drop_privileges(cfg); !st.ok()) late_fail(st.error());
    trace_mark("init: privileges dropped");
  }
  if (cfg.fifo_fd >= 0) {
    // Blocks until `start` writes a byte: the container stays "created".
    char c;
    ssize_t n;
    do n = ::read(cfg.fifo_fd, &c, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) ::_exit(1);
    // Left open on purpose: its close at execve tells `start` we are running.
  }
  trace_mark("init: started");
  if (auto st = run_start_hooks(cfg, state); !st.ok()) late_fail(st.error());
  // CVE-2024-21626: nothing of ours survives into the container process.
  close_fds_from(3 + cfg.preserve_fds, {cfg.fifo_fd});
  if (drop == Drop::after_start) {
    if (auto st = drop_privileges(cfg); !st.ok()) late_fail(st.error());
    trace_mark("init: privileges dropped");
  }
  late_fail(exec_process(*cfg.process, *exe));
}

void exec_init(InitConfig& cfg) {
  reset_signals();
  const int sync = cfg.sync_fd;
  auto check = [&](Status st) {
    if (!st.ok()) child_fail(sync, st.error());
  };
  auto tag = sync_recv(sync);
  if (!tag.ok() || *tag != kSyncGo) ::_exit(1);
  check(join_cgroups(cfg));
  check(join_namespaces(cfg));
  check(become_root_in_userns(cfg));
  if (::chdir("/") != 0) check(sys_error("chdir /"));
  if (cfg.process->terminal) check(setup_console(cfg));
  if (cfg.console_fd >= 0) ::close(cfg.console_fd);
  check(setup_process(cfg));
  auto exe = find_executable(*cfg.process);
  if (!exe.ok()) child_fail(sync, exe.error());
  check(apply_apparmor(cfg.process->apparmor_profile));
  close_fds_from(3 + cfg.preserve_fds, {sync});
  check(drop_privileges(cfg));  // a notify listener goes to the parent here
  // The last message: exec closes the socket (O_CLOEXEC), which the parent
  // reads as success; an exec failure is reported after it.
  check(sync_write(sync, kSyncReady));
  Error e = exec_process(*cfg.process, *exe);
  (void)sync_write(sync, kSyncError, e.str());
  ::_exit(127);
}

}  // namespace berth::runtime
