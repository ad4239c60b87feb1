#include "runtime/spawn.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <unistd.h>

#include <cstring>

#include "base/fs.h"
#include "base/trace.h"
#include "base/userns.h"
#include "cgroup/cgroup.h"
#include "runtime/init.h"
#include "runtime/log.h"

namespace berth::runtime {

namespace {
Status write_map(pid_t pid, const char* file, const std::vector<IdMapping>& maps) {
  std::string text;
  for (const auto& m : maps)
    text += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " + std::to_string(m.size) + "\n";
  std::string path = "/proc/" + std::to_string(pid) + "/" + file;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return sys_error("open " + path);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return sys_error("write " + path);
  return Status{};
}

// Unprivileged callers can only map themselves unless newuidmap/newgidmap
// (setuid helpers reading /etc/subuid) do it for them.
Status run_idmap_helper(const char* helper, pid_t pid, const std::vector<IdMapping>& maps) {
  std::vector<std::string> args = {helper, std::to_string(pid)};
  for (const auto& m : maps) {
    args.push_back(std::to_string(m.container_id));
    args.push_back(std::to_string(m.host_id));
    args.push_back(std::to_string(m.size));
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t c = ::fork();
  if (c < 0) return sys_error(std::string("fork ") + helper);
  if (c == 0) {
    ::execvp(helper, argv.data());
    ::_exit(127);
  }
  int st = 0;
  while (::waitpid(c, &st, 0) < 0)
    if (errno != EINTR) return sys_error(std::string("wait ") + helper);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return Error(Errc::permission, std::string(helper) + " failed for pid " + std::to_string(pid));
  return Status{};
}

// The runtime's own namespaces while it is in a container's: entered before
// the clone, left (in reverse) right after it or on any error path.
class JoinedAround {
 public:
  JoinedAround() = default;
  JoinedAround(const JoinedAround&) = delete;
  JoinedAround& operator=(const JoinedAround&) = delete;
  ~JoinedAround() { leave(); }

  Status enter(const std::vector<std::pair<NsType, int>>& targets) {
    // setns into a mount namespace resets the cwd; relative paths given to
    // the runtime (--pid-file) must keep their meaning.
    cwd_.reset(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!cwd_) return sys_error("open the runtime's working directory");
    for (const auto& [type, fd] : targets) {
      std::string mine = std::string("/proc/self/ns/") + ns_proc_name(type);
      UniqueFd own(::open(mine.c_str(), O_RDONLY | O_CLOEXEC));
      if (!own) return sys_error("open " + mine);
      if (::setns(fd, ns_clone_flag(type)) != 0)
        return sys_error(std::string("join ") + ns_type_name(type) + " namespace (before the new user namespace)");
      saved_.emplace_back(ns_clone_flag(type), std::move(own));
    }
    return Status{};
  }

  void leave() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it)
      if (::setns(it->second.get(), it->first) != 0) {
        // Going on in a container's namespace would let it steer the
        // runtime's later file writes: stop here.
        log_error(std::string("cannot return to the runtime's own namespace: ") + std::strerror(errno));
        ::_exit(125);
      }
    if (!saved_.empty() && cwd_) (void)!::fchdir(cwd_.get());
    saved_.clear();
  }

 private:
  std::vector<std::pair<int, UniqueFd>> saved_;
  UniqueFd cwd_;
};

}  // namespace

Status write_id_maps_for(pid_t pid, const Linux& l) {
  bool self_only = l.uid_mappings.size() == 1 && l.gid_mappings.size() == 1 && l.uid_mappings[0].size == 1 &&
                   l.gid_mappings[0].size == 1 && l.uid_mappings[0].host_id == ::geteuid() &&
                   l.gid_mappings[0].host_id == ::getegid();
  if (::geteuid() == 0 || self_only) {
    if (::geteuid() != 0) {
      std::string p = "/proc/" + std::to_string(pid) + "/setgroups";
      UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd || ::write(fd.get(), "deny", 4) != 4) return sys_error("write " + p);
    }
    TRY(write_map(pid, "uid_map", l.uid_mappings));
    return write_map(pid, "gid_map", l.gid_mappings);
  }
  TRY(run_idmap_helper("newuidmap", pid, l.uid_mappings));
  return run_idmap_helper("newgidmap", pid, l.gid_mappings);
}


void log_warning(const std::string& msg) { log_message("warning", msg); }

int move_fd_above(int fd, int min) {
  if (fd < 0 || fd >= min) return fd;
  int n = ::fcntl(fd, F_DUPFD_CLOEXEC, min);
  ::close(fd);
  return n;
}

Result<std::string> absolute_for_write(const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  char buf[4096];
  if (!::getcwd(buf, sizeof buf)) return sys_error("getcwd");
  return path_join(buf, p);
}

int read_cap_last_cap() {
  auto t = read_file("/proc/sys/kernel/cap_last_cap", 64);
  if (!t.ok()) return 40;
  int v = std::atoi(t->c_str());
  return v > 0 && v < 64 ? v : 40;
}

Result<UniqueFd> connect_console_socket(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return sys_error("socket");
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return Error(Errc::invalid_argument, "console socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return sys_error("connect to console socket " + path);
  return fd;
}

Result<UniqueFd> open_dev_null_verified() {
  UniqueFd fd(::open("/dev/null", O_PATH | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return sys_error("open /dev/null");
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return sys_error("stat /dev/null");
  if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3)
    return Error(Errc::permission, "/dev/null is not the 1:3 character device");
  return fd;
}

Result<Child> spawn_init(SpawnPlan& plan, pid_t* pid_out) {
  const Spec& spec = *plan.spec;
  InitConfig cfg;
  cfg.spec = plan.spec;
  cfg.process = plan.process;
  cfg.rootfs = plan.rootfs;
  cfg.bundle = plan.bundle;
  cfg.preserve_fds = plan.preserve_fds;
  cfg.no_pivot = plan.no_pivot;
  cfg.cap_last_cap = read_cap_last_cap();
  const int min_fd = 3 + plan.preserve_fds;
  std::vector<UniqueFd> owned;  // closed in the parent when we return
  auto own = [&](int fd) {
    fd = move_fd_above(fd, min_fd);
    owned.emplace_back(fd);
    return fd;
  };
  if (!spec.linux.seccomp.is_null()) {
    TRY_ASSIGN(cfg.seccomp, seccomp::compile(spec.linux.seccomp, plan.seccomp_cache_dir));
    cfg.has_seccomp = true;
  }
  TRY_ASSIGN(auto null_fd, open_dev_null_verified());
  cfg.null_fd = own(null_fd.release());
  cfg.fifo_fd = plan.fifo_fd >= 0 ? own(::fcntl(plan.fifo_fd, F_DUPFD_CLOEXEC, min_fd)) : -1;
  if (plan.process->terminal) {
    TRY_ASSIGN(auto con, connect_console_socket(plan.console_socket));
    cfg.console_fd = own(con.release());
  }
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) return sys_error("socketpair");
  UniqueFd parent_end(move_fd_above(sp[0], min_fd));
  int child_end = own(sp[1]);

  uint64_t flags = 0;
  UniqueFd pid_ns;
  bool joins_other = false;
  for (const auto& n : spec.linux.namespaces) {
    if (n.path.empty() && n.type == NsType::network && plan.netns_fd >= 0) {
      int fd = ::fcntl(plan.netns_fd, F_DUPFD_CLOEXEC, min_fd);
      if (fd < 0) return sys_error("duplicate the prepared network namespace");
      cfg.join_ns.emplace_back(n.type, own(fd));
      cfg.netns_ready = true;
      continue;
    }
    if (n.path.empty()) {
      if (n.type == NsType::cgroup) cfg.unshare_flags |= CLONE_NEWCGROUP;  // after joining the cgroup
      else flags |= static_cast<uint64_t>(ns_clone_flag(n.type));
      continue;
    }
    int fd = ::open(n.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sys_error(std::string("open ") + ns_type_name(n.type) + " namespace " + n.path);
    if (n.type == NsType::pid) {
      pid_ns.reset(fd);
    } else {
      cfg.join_ns.emplace_back(n.type, own(fd));
      joins_other |= n.type != NsType::user;
    }
  }
  // Rootless berth's own namespace counts too: mknod and fresh sysfs are refused there as well.
  cfg.userns = spec.linux.ns(NsType::user) != nullptr || in_user_namespace();
  int cgroup_fd = -1;
  if (plan.cgroup) {
    cfg.cgroup_mounts = plan.cgroup->mounts();
    TRY_ASSIGN(auto entry, plan.cgroup->entry());
    for (auto& fd : entry.tasks) cfg.cgroup_tasks.push_back(own(fd.release()));
    if (entry.clone_into) cgroup_fd = own(entry.clone_into.release());
  }

  // A child in a new user namespace holds no capability over namespaces owned
  // by ours, so it could not join them. runc's nsexec joins the by-path
  // namespaces first and unshares the user namespace after; here the runtime
  // (single-threaded) joins them itself around the clone, the child inherits
  // them, and the runtime goes back to its own right after. (After the cgroup
  // is opened: its paths are the runtime's view.)
  JoinedAround joined;
  if ((flags & CLONE_NEWUSER) && joins_other) {
    TRY(joined.enter(cfg.join_ns));
    cfg.join_ns.clear();
  }

  // linux.timeOffsets: offsets can only be written while no process is in
  // the new time namespace, so it is made here with unshare (which moves only
  // our future children into it), the offsets written, and the init cloned
  // into it; our own children-namespace is put back right after the clone.
  UniqueFd own_time_ns;
  if ((flags & CLONE_NEWTIME) && !spec.linux.time_offsets.empty()) {
    own_time_ns.reset(::open("/proc/self/ns/time", O_RDONLY | O_CLOEXEC));
    if (!own_time_ns) return sys_error("open /proc/self/ns/time");
    if (::unshare(CLONE_NEWTIME) != 0) return sys_error("unshare the time namespace");
    std::string text;
    for (const auto& [clock, off] : spec.linux.time_offsets)
      text += clock + " " + std::to_string(off.first) + " " + std::to_string(off.second) + "\n";
    UniqueFd tf(::open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC));
    Status wrote = tf ? write_all(tf.get(), text.data(), text.size()) : Status(sys_error("open /proc/self/timens_offsets"));
    if (!wrote) {
      ::setns(own_time_ns.get(), CLONE_NEWTIME);
      return std::move(wrote).error().wrap("linux.timeOffsets");
    }
    flags &= ~static_cast<uint64_t>(CLONE_NEWTIME);
  }
  UniqueFd own_pid_ns;
  if (pid_ns) {
    own_pid_ns.reset(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
    if (::setns(pid_ns.get(), CLONE_NEWPID) != 0) return sys_error("join pid namespace");
  }
  trace_mark("spawn: prepared");
  int pidfd = -1;
  struct clone_args args = {};
  args.flags = flags | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  bool procs_write = false;
  long pid;
  {
    NotDumpableAround guard(spec.linux.ns(NsType::user) == nullptr);
    pid = clone3_into_cgroup(args, cgroup_fd, &procs_write);
  }
  if (pid == 0) {
    parent_end.reset();
    cfg.sync_fd = child_end;
    container_init(cfg);
  }
  int clone_err = errno;
  joined.leave();
  if (own_pid_ns) ::setns(own_pid_ns.get(), CLONE_NEWPID);
  if (own_time_ns) ::setns(own_time_ns.get(), CLONE_NEWTIME);
  if (pid < 0) return sys_error("clone the container init", clone_err);
  trace_mark("spawn: cloned");
  *pid_out = static_cast<pid_t>(pid);
  Child child;
  child.pid = static_cast<pid_t>(pid);
  child.pidfd.reset(pidfd);
  owned.clear();  // closes the child's ends in the parent

  auto expect = [&](char want) -> Status {
    std::string msg;
    TRY_ASSIGN(char t, sync_recv(parent_end.get(), &msg));
    if (t == kSyncError) return Error(Errc::io, msg);
    if (t != want) return Error(Errc::internal, "unexpected message from the container init");
    return Status{};
  };
  if (flags & CLONE_NEWUSER) TRY(write_id_maps_for(child.pid, spec.linux));
  if (procs_write) TRY(plan.cgroup->add_process(child.pid));
  TRY(sync_send(parent_end.get(), kSyncGo));
  TRY(expect(kSyncMounted));
  trace_mark("spawn: child mounted");
  if (plan.before_hooks) TRY(plan.before_hooks(child.pid));
  TRY(sync_send(parent_end.get(), kSyncHooksDone, plan.state_for_child ? plan.state_for_child() : std::string()));
  // A NOTIFY profile's listener arrives before Ready and goes to the agent.
  TRY(await_ready(parent_end.get(), child.pidfd.get(), cfg.has_seccomp ? &cfg.seccomp : nullptr, child.pid,
                  plan.state_for_child ? plan.state_for_child : [] { return std::string("{}"); }));
  return child;
}

NotDumpableAround::NotDumpableAround(bool wanted) {
  if (!wanted || ::geteuid() != 0 || in_user_namespace()) return;
  owner_ = ::getpid();
  restore_ = ::prctl(PR_GET_DUMPABLE) == 1 && ::prctl(PR_SET_DUMPABLE, 0) == 0;
}

NotDumpableAround::~NotDumpableAround() {
  if (restore_ && ::getpid() == owner_) ::prctl(PR_SET_DUMPABLE, 1);
}

long clone3_into_cgroup(struct clone_args& args, int cgroup_fd, bool* procs_write) {
  *procs_write = false;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid >= 0 || cgroup_fd < 0) return pid;
  // A kernel before 5.7, or a cgroup it will not clone into: the slow way,
  // the parent writes cgroup.procs.
  args.flags &= ~static_cast<uint64_t>(CLONE_INTO_CGROUP);
  args.cgroup = 0;
  *procs_write = true;
  return ::syscall(SYS_clone3, &args, sizeof args);
}

int wait_forwarding(pid_t pid, const sigset_t& sigs) {
  UniqueFd sfd(::signalfd(-1, &sigs, SFD_CLOEXEC));
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      continue;
    }
    if (r < 0 && errno != EINTR) return 255;
    struct signalfd_siginfo si;
    ssize_t n = ::read(sfd.get(), &si, sizeof si);
    if (n != sizeof si) continue;
    if (si.ssi_signo == SIGCHLD) continue;
    ::kill(pid, static_cast<int>(si.ssi_signo));
  }
}

}  // namespace berth::runtime
