// `exec`: a new process in a running container's namespaces and cgroup, with
// the same hardening (caps, no_new_privs, seccomp, fd hygiene) as its init.
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/userns.h"
#include "cgroup/cgroup.h"
#include "runtime/container.h"
#include "runtime/init.h"
#include "runtime/log.h"
#include "runtime/spawn.h"

namespace berth::runtime {

using nlohmann::json;

namespace {

Status parse_user_flag(const std::string& u, User& out) {
  auto num = [&](const std::string& s, uint32_t& v) -> bool {
    if (s.empty() || s.size() > 10) return false;
    uint64_t x = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      x = x * 10 + static_cast<uint64_t>(c - '0');
    }
    if (x > UINT32_MAX) return false;
    v = static_cast<uint32_t>(x);
    return true;
  };
  auto colon = u.find(':');
  std::string uid = u.substr(0, colon);
  if (!num(uid, out.uid)) return Error(Errc::invalid_argument, "--user " + u + ": expected uid[:gid]");
  if (colon != std::string::npos) {
    if (!num(u.substr(colon + 1), out.gid)) return Error(Errc::invalid_argument, "--user " + u + ": expected uid[:gid]");
  } else {
    out.gid = 0;
  }
  return Status{};
}

Result<Process> build_process(const Spec& spec, const ExecOptions& o) {
  if (!o.process_file.empty()) {
    TRY_ASSIGN(std::string text, read_file(o.process_file, 4u << 20));
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) return Error(Errc::invalid_input, o.process_file + ": not valid JSON");
    auto p = parse_process(j, "process");
    if (!p) return std::move(p).error().wrap(o.process_file);
    for (const auto& w : p->warnings) log_message("warning", o.process_file + ": " + w);
    return p;
  }
  if (o.args.empty()) return Error(Errc::invalid_argument, "exec needs a command or --process");
  Process p = spec.process ? *spec.process : Process{};
  p.args = o.args;
  p.terminal = o.tty;
  for (const auto& e : o.env) {
    auto eq = e.find('=');
    if (eq == std::string::npos || eq == 0) return Error(Errc::invalid_argument, "--env " + e + ": expected KEY=value");
    std::string key = e.substr(0, eq + 1);
    bool replaced = false;
    for (auto& cur : p.env)
      if (cur.rfind(key, 0) == 0) cur = e, replaced = true;
    if (!replaced) p.env.push_back(e);
  }
  if (!o.cwd.empty()) p.cwd = o.cwd;
  if (!o.user.empty()) {
    p.user.additional_gids.clear();
    TRY(parse_user_flag(o.user, p.user));
  }
  for (uint32_t g : o.additional_gids) p.user.additional_gids.push_back(g);
  for (const auto& c : o.caps) {
    int v = cap_from_name(c);
    if (v < 0) return Error(Errc::invalid_argument, "--cap " + c + ": unknown capability");
    for (auto* set : {&p.caps.bounding, &p.caps.effective, &p.caps.permitted}) set->push_back(v);
  }
  if (o.no_new_privs) p.no_new_privileges = true;
  if (!o.apparmor.empty()) p.apparmor_profile = o.apparmor;
  return p;
}

bool same_ns(pid_t pid, const char* name) {
  struct stat a, b;
  std::string mine = std::string("/proc/self/ns/") + name;
  std::string theirs = "/proc/" + std::to_string(pid) + "/ns/" + name;
  if (::stat(mine.c_str(), &a) != 0 || ::stat(theirs.c_str(), &b) != 0) return true;
  return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

}  // namespace

Result<int> exec(const GlobalOptions& g, const ExecOptions& o) {
  TRY_ASSIGN(ContainerState st, load_state(g.root, o.id));
  CStatus s = container_status(g.root, st);
  if (s != CStatus::running && s != CStatus::created && !(s == CStatus::paused && o.ignore_paused))
    return Error(Errc::invalid_argument, std::string("cannot exec in container ") + o.id + " in status " + status_name(s));
  TRY_ASSIGN(Spec spec, saved_spec(g, o.id));
  TRY_ASSIGN(Process proc, build_process(spec, o));
  if (proc.terminal && o.console_socket.empty())
    return Error(Errc::invalid_argument, "a terminal was requested but no --console-socket was given");

  InitConfig cfg;
  cfg.spec = &spec;
  cfg.process = &proc;
  cfg.preserve_fds = o.preserve_fds;
  cfg.cap_last_cap = read_cap_last_cap();
  const int min_fd = 3 + o.preserve_fds;
  std::vector<UniqueFd> owned;
  auto own = [&](int fd) {
    fd = move_fd_above(fd, min_fd);
    owned.emplace_back(fd);
    return fd;
  };
  if (!spec.linux.seccomp.is_null()) {
    TRY_ASSIGN(cfg.seccomp, seccomp::compile(spec.linux.seccomp, seccomp_cache_dir(g.root)));
    cfg.has_seccomp = true;
  }
  if (proc.terminal) {
    TRY_ASSIGN(auto con, connect_console_socket(o.console_socket));
    cfg.console_fd = own(con.release());
  }
  // Open every namespace while the pid is verified to be the container's.
  UniqueFd pid_ns;
  cfg.userns = in_user_namespace();  // rootless berth: the container shares our user namespace
  static constexpr NsType kOrder[] = {NsType::user, NsType::ipc, NsType::uts, NsType::network,
                                      NsType::cgroup, NsType::mount};
  for (NsType t : kOrder) {
    if (same_ns(st.pid, ns_proc_name(t))) continue;
    std::string p = "/proc/" + std::to_string(st.pid) + "/ns/" + ns_proc_name(t);
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sys_error("open " + p);
    cfg.join_ns.emplace_back(t, own(fd));
    if (t == NsType::user) cfg.userns = true;
  }
  if (!same_ns(st.pid, "pid")) {
    std::string p = "/proc/" + std::to_string(st.pid) + "/ns/pid";
    pid_ns.reset(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!pid_ns) return sys_error("open " + p);
  }
  if (pid_ns && ::geteuid() != 0) {
    // Unprivileged, we hold no CAP_SYS_ADMIN over the container's pid
    // namespace until we are in its user namespace (runc's nsexec joins that
    // first too). This process never needs its own user namespace back.
    for (auto it = cfg.join_ns.begin(); it != cfg.join_ns.end(); ++it) {
      if (it->first != NsType::user) continue;
      if (::setns(it->second, CLONE_NEWUSER) != 0) return sys_error("join the user namespace of " + o.id);
      cfg.join_ns.erase(it);
      break;
    }
  }
  if (!process_alive(st.pid, st.pid_start)) return Error(Errc::not_found, "container " + o.id + " is not running");
  auto cg = cgroup::Manager::open(st.cgroups_path, st.id, st.systemd_cgroup);
  int cgroup_fd = -1;  // see cgroup::Manager::Entry: no cgroup.procs write on the fast path
  if (cg.ok()) {
    TRY_ASSIGN(auto entry, (*cg)->entry());
    for (auto& fd : entry.tasks) cfg.cgroup_tasks.push_back(own(fd.release()));
    if (entry.clone_into) cgroup_fd = own(entry.clone_into.release());
  }

  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) return sys_error("socketpair");
  UniqueFd parent_end(move_fd_above(sp[0], min_fd));
  int child_end = own(sp[1]);

  sigset_t fwd, old;
  sigfillset(&fwd);
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE}) sigdelset(&fwd, sig);
  if (!o.detach) ::sigprocmask(SIG_BLOCK, &fwd, &old);
  auto restore = [&] {
    if (!o.detach) ::sigprocmask(SIG_SETMASK, &old, nullptr);
  };

  UniqueFd own_pid_ns;
  if (pid_ns) {
    own_pid_ns.reset(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
    if (::setns(pid_ns.get(), CLONE_NEWPID) != 0) {
      restore();
      return sys_error("join the pid namespace of " + o.id);
    }
  }
  int pidfd = -1;
  struct clone_args args = {};
  args.flags = CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  bool procs_write = false;
  long pid;
  {
    NotDumpableAround guard(!cfg.userns);
    pid = clone3_into_cgroup(args, cgroup_fd, &procs_write);
  }
  if (pid == 0) {
    parent_end.reset();
    cfg.sync_fd = child_end;
    exec_init(cfg);
  }
  int err = errno;
  if (own_pid_ns) ::setns(own_pid_ns.get(), CLONE_NEWPID);
  if (pid < 0) {
    restore();
    return sys_error("clone exec process", err);
  }
  UniqueFd pfd(pidfd);
  owned.clear();
  auto fail = [&](Error e) -> Result<int> {
    ::kill(static_cast<pid_t>(pid), SIGKILL);
    ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
    restore();
    return e.wrap("exec in container " + o.id);
  };
  if (procs_write) {
    if (auto a = (*cg)->add_process(static_cast<pid_t>(pid)); !a.ok()) return fail(a.error());
  }
  if (auto r = sync_send(parent_end.get(), kSyncGo); !r.ok()) return fail(r.error());
  auto ready = await_ready(parent_end.get(), pfd.get(), cfg.has_seccomp ? &cfg.seccomp : nullptr, static_cast<pid_t>(pid),
                           [&] { return state_json(st, s).dump(); });
  if (!ready.ok()) return fail(ready.error());
  // After Ready, EOF means execve succeeded (the socket is close-on-exec).
  char buf[4096];
  ssize_t n;
  do n = ::recv(parent_end.get(), buf, sizeof buf, 0);
  while (n < 0 && errno == EINTR);
  if (n > 0 && buf[0] == kSyncError) {
    int status;
    ::waitpid(static_cast<pid_t>(pid), &status, 0);
    restore();
    return Error(Errc::io, std::string(buf + 1, static_cast<size_t>(n - 1)));
  }
  if (!o.pid_file.empty()) {
    TRY_ASSIGN(std::string pf, absolute_for_write(o.pid_file));
    if (auto w = atomic_write_file(pf, std::to_string(pid), 0644); !w.ok()) return fail(w.error());
  }
  if (o.detach) return 0;
  int code = wait_forwarding(static_cast<pid_t>(pid), fwd);
  restore();
  return code;
}

}  // namespace berth::runtime
