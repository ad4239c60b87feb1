// The container process's own attributes, set in the child just before exec.
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "base/fdpass.h"
#include "base/fs.h"
#include "runtime/init.h"
#include "runtime/safe_path.h"

namespace berth::runtime {

Status sync_send(int fd, char tag, std::string_view msg) {
  std::string buf(1, tag);
  buf.append(msg.substr(0, 4000));
  for (;;) {
    ssize_t n = ::send(fd, buf.data(), buf.size(), MSG_NOSIGNAL);
    if (n >= 0) return Status{};
    if (errno != EINTR) return sys_error("sync with the container process");
  }
}

Status sync_write(int fd, char tag, std::string_view msg) {
  std::string buf(1, tag);
  buf.append(msg.substr(0, 4000));
  for (;;) {
    ssize_t n = ::write(fd, buf.data(), buf.size());
    if (n >= 0) return Status{};
    if (errno != EINTR) return sys_error("sync with the runtime");
  }
}

Result<char> sync_recv(int fd, std::string* msg) {
  char buf[4096];
  for (;;) {
    // read(2), not recv: the child may be under a filter that notifies
    // recvfrom (runc's sync uses read/write too).
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("sync with the container process");
    if (n == 0) return Error(Errc::io, "the container process exited during setup");
    if (msg) msg->assign(buf + 1, static_cast<size_t>(n - 1));
    return buf[0];
  }
}

void child_fail(int sync_fd, const Error& e) {
  (void)sync_send(sync_fd, kSyncError, e.str());
  ::_exit(1);
}

namespace {
// The fallback hand-over of the notify listener: one message with the fd as
// SCM_RIGHTS (used only when pidfd_getfd is refused, see await_ready).
Status send_fd(int sock, char tag, int fd) {
  TRY(send_with_fd(sock, &tag, 1, fd, "seccomp: sending the notify listener to the runtime"));
  return Status{};
}

Result<UniqueFd> recv_fd(int sock, char want) {
  char data[4096];
  // The child sends it after reading our request; if the profile notifies
  // read or sendmsg it never can (only it holds the listener): fail, not hang.
  pollfd pfd{sock, POLLIN, 0};
  int ready;
  do ready = ::poll(&pfd, 1, 10000);
  while (ready < 0 && errno == EINTR);
  if (ready == 0)
    return Error(Errc::io, "seccomp: the container process did not send its notify listener within 10 s "
                           "(a profile that notifies read or sendmsg cannot work for an unprivileged runtime "
                           "whose process changes uid)");
  UniqueFd fd;
  TRY_ASSIGN(size_t n, recv_with_fd(sock, data, sizeof data, &fd, "sync with the container process"));
  if (n == 0) return Error(Errc::io, "the container process exited during setup");
  if (data[0] == kSyncError) return Error(Errc::io, std::string(data + 1, n - 1));
  if (data[0] != want || !fd) return Error(Errc::internal, "unexpected message from the container process");
  return fd;
}
}  // namespace

Status await_ready(int sync_fd, int pidfd, const seccomp::Program* prog, pid_t pid,
                   const std::function<std::string()>& state_json) {
  for (;;) {
    std::string msg;
    TRY_ASSIGN(char t, sync_recv(sync_fd, &msg));
    if (t == kSyncReady) return Status{};
    if (t == kSyncError) return Error(Errc::io, msg);
    if (t != kSyncSeccomp || !prog || !prog->notify || msg.empty() || msg.size() > 9 ||
        msg.find_first_not_of("0123456789") != std::string::npos)
      return Error(Errc::internal, "unexpected message from the container process");
    // Copied out of the child (it keeps its own until our answer), so the
    // child needs no sendmsg under a filter that may notify it.
    UniqueFd listener(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, std::stoi(msg), 0)));
    if (!listener) {
      // pidfd_getfd needs ptrace rights over the child, which an unprivileged
      // runtime loses once the child changed uid (no longer dumpable): then
      // the child sends it (so read and sendmsg must not be notified then).
      int err = errno;
      if (err != EPERM && err != EACCES)
        return sys_error("seccomp: copying the notify listener out of pid " + std::to_string(pid), err);
      TRY(sync_send(sync_fd, kSyncSeccompPass));
      TRY_ASSIGN(listener, recv_fd(sync_fd, kSyncSeccomp));
    }
    auto state = nlohmann::json::parse(state_json(), nullptr, false);
    if (state.is_discarded()) return Error(Errc::internal, "seccomp listener: the container state is not JSON");
    TRY(seccomp::send_listener(*prog, listener.get(), pid, state));
    listener.reset();
    TRY(sync_send(sync_fd, kSyncSeccompDone));
  }
}

void close_fds_from(int first, const std::vector<int>& keep_in) {
  std::vector<int> keep = keep_in;
  std::sort(keep.begin(), keep.end());
  int lo = first;
  for (int k : keep) {
    if (k < lo) continue;
    if (k > lo) ::syscall(SYS_close_range, lo, k - 1, 0);
    lo = k + 1;
  }
  ::syscall(SYS_close_range, lo, ~0U, 0);
}

Status setup_console(const InitConfig& cfg) {
  UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) return sys_error("open /dev/ptmx");
  int unlock = 0;
  if (::ioctl(master.get(), TIOCSPTLCK, &unlock) != 0) return sys_error("unlock pty");
  unsigned ptn = 0;
  if (::ioctl(master.get(), TIOCGPTN, &ptn) != 0) return sys_error("get pty number");
  // TIOCGPTPEER opens the peer without a path lookup in the container's /dev.
  UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) return sys_error("open pty peer");
  const Process& p = *cfg.process;
  if (p.console_height || p.console_width) {
    struct winsize ws = {};
    ws.ws_row = static_cast<unsigned short>(p.console_height);
    ws.ws_col = static_cast<unsigned short>(p.console_width);
    ::ioctl(slave.get(), TIOCSWINSZ, &ws);
  }
  std::string name = "/dev/pts/" + std::to_string(ptn);
  // runc's protocol: the pty name as data, the master as SCM_RIGHTS.
  TRY(send_with_fd(cfg.console_fd, name.data(), name.size(), master.get(), "send pty master to the console socket"));
  master.reset();
  // /dev/console is the container's terminal too (runc binds the pty there).
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (auto con = mkpath_in_root(root.get(), "/dev/console", true); con.ok())
    (void)bind_fd_onto(slave.get(), con->get(), false, 0, "/dev/console");
  if (::setsid() < 0) return sys_error("setsid");
  if (::ioctl(slave.get(), TIOCSCTTY, 0) != 0) return sys_error("set controlling terminal");
  for (int i = 0; i < 3; ++i)
    if (::dup2(slave.get(), i) < 0) return sys_error("dup pty to stdio");
  ::fchown(0, p.user.uid, p.user.gid);
  return Status{};
}

Status setup_process(const InitConfig& cfg) {
  const Process& p = *cfg.process;
  if (::chdir(p.cwd.c_str()) != 0) return sys_error("chdir to process.cwd " + p.cwd);
  // CVE-2024-21626: a cwd reached through a leaked host fd shows up as
  // "(unreachable)/..." or fails; the process must start inside its root.
  char buf[4096];
  if (!::getcwd(buf, sizeof buf) || buf[0] != '/')
    return Error(Errc::permission, "process.cwd " + p.cwd + " is outside the container root");
  for (const auto& r : p.rlimits) {
    struct rlimit rl = {r.soft, r.hard};
    if (::setrlimit(r.resource, &rl) != 0) return sys_error("setrlimit " + std::to_string(r.resource));
  }
  if (p.oom_score_adj) {
    UniqueFd fd(::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC));
    std::string v = std::to_string(*p.oom_score_adj);
    if (!fd || ::write(fd.get(), v.data(), v.size()) < 0) return sys_error("write oom_score_adj");
  }
  if (cfg.spec && cfg.spec->linux.personality && ::personality(*cfg.spec->linux.personality) < 0)
    return sys_error("personality");
  return Status{};
}

namespace {
bool has(const std::vector<int>& v, int c) { return std::find(v.begin(), v.end(), c) != v.end(); }

Status set_caps(const InitConfig& cfg) {
  const Capabilities& caps = cfg.process->caps;
  cap_t c = ::cap_init();
  if (!c) return sys_error("cap_init");
  auto set = [&](cap_flag_t flag, const std::vector<int>& list) {
    std::vector<cap_value_t> v(list.begin(), list.end());
    return v.empty() ? 0 : ::cap_set_flag(c, flag, static_cast<int>(v.size()), v.data(), CAP_SET);
  };
  int rc = set(CAP_EFFECTIVE, caps.effective) | set(CAP_PERMITTED, caps.permitted) |
           set(CAP_INHERITABLE, caps.inheritable);
  if (rc == 0) rc = ::cap_set_proc(c);
  int err = errno;
  ::cap_free(c);
  if (rc != 0) return sys_error("set capabilities", err);
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return sys_error("clear ambient capabilities");
  for (int a : caps.ambient)
    // Like runc, an ambient cap outside inheritable/permitted is skipped.
    if (has(caps.inheritable, a) && has(caps.permitted, a))
      if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, a, 0, 0) != 0)
        return sys_error("raise ambient capability " + cap_to_name(a));
  return Status{};
}

Status load_seccomp(const InitConfig& cfg) {
  int rc = seccomp::load(cfg.seccomp);
  if (rc < 0 && rc != -1) return sys_error("load seccomp filter", -rc);
  if (rc < 0) return Status{};
  // The filter is live and nobody else holds the listener yet: a notified
  // syscall now would wait forever. So, as runc does, only write(2) (which
  // compile() refuses to NOTIFY) tells the parent the fd number; it copies
  // the fd with pidfd_getfd and hands it to the agent, after which anything
  // notified (our read, close) just waits for the agent.
  UniqueFd listener(rc);
  if (cfg.sync_fd < 0) return Error(Errc::internal, "seccomp notify listener with no runtime to hand it to");
  TRY(sync_write(cfg.sync_fd, kSyncSeccomp, std::to_string(rc)));
  TRY_ASSIGN(char t, sync_recv(cfg.sync_fd));
  if (t == kSyncSeccompPass) {
    TRY(send_fd(cfg.sync_fd, kSyncSeccomp, rc));
    TRY_ASSIGN(t, sync_recv(cfg.sync_fd));
  }
  if (t != kSyncSeccompDone) return Error(Errc::io, "seccomp listener: the runtime did not confirm the hand-over");
  return Status{};
}
}  // namespace

Status drop_privileges(const InitConfig& cfg) {
  const Process& p = *cfg.process;
  // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, so it goes
  // in while we still hold it (runc's order).
  if (cfg.has_seccomp && !p.no_new_privileges) TRY(load_seccomp(cfg));
  for (int c = 0; c <= cfg.cap_last_cap; ++c)
    if (!has(p.caps.bounding, c) && ::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL)
      return sys_error("drop bounding capability " + std::to_string(c));
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return sys_error("PR_SET_KEEPCAPS");
  std::vector<gid_t> groups(p.user.additional_gids.begin(), p.user.additional_gids.end());
  if (::setgroups(groups.size(), groups.data()) != 0 && !(cfg.userns && errno == EPERM && groups.empty()))
    return sys_error("setgroups");
  if (::setresgid(p.user.gid, p.user.gid, p.user.gid) != 0) return sys_error("setgid " + std::to_string(p.user.gid));
  if (::setresuid(p.user.uid, p.user.uid, p.user.uid) != 0) return sys_error("setuid " + std::to_string(p.user.uid));
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return sys_error("PR_SET_KEEPCAPS");
  TRY(set_caps(cfg));
  if (p.user.umask) ::umask(*p.user.umask);
  else ::umask(022);
  if (p.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return sys_error("PR_SET_NO_NEW_PRIVS");
  if (cfg.has_seccomp && p.no_new_privileges) TRY(load_seccomp(cfg));
  return Status{};
}

namespace {
std::string home_of(uint32_t uid) {
  auto text = read_file("/etc/passwd", 4u << 20);
  if (!text) return "/";
  size_t i = 0;
  while (i < text->size()) {
    size_t j = text->find('\n', i);
    if (j == std::string::npos) j = text->size();
    std::string line = text->substr(i, j - i);
    i = j + 1;
    std::vector<std::string> f;
    size_t a = 0;
    for (;;) {
      size_t b = line.find(':', a);
      f.push_back(line.substr(a, b == std::string::npos ? std::string::npos : b - a));
      if (b == std::string::npos) break;
      a = b + 1;
    }
    if (f.size() >= 6 && f[2] == std::to_string(uid) && !f[5].empty()) return f[5];
  }
  return "/";
}
}  // namespace

namespace {
std::string env_path(const Process& p) {
  for (const auto& e : p.env)
    if (e.rfind("PATH=", 0) == 0) return e.substr(5);
  return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}
}  // namespace

Result<std::string> find_executable(const Process& p) {
  const std::string& prog = p.args[0];
  auto check = [](const std::string& c) -> int {
    struct stat st;
    if (::stat(c.c_str(), &st) != 0) return errno;
    if (S_ISDIR(st.st_mode)) return EISDIR;
    if (::access(c.c_str(), X_OK) != 0) return errno;
    return 0;
  };
  if (prog.find('/') != std::string::npos) {
    int err = check(prog);
    if (err) return sys_error("exec \"" + prog + "\"", err);
    return prog;
  }
  std::string path = env_path(p);
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find(':', i);
    if (j == std::string::npos) j = path.size();
    std::string dir = path.substr(i, j - i);
    i = j + 1;
    if (dir.empty()) dir = ".";
    std::string cand = dir + "/" + prog;
    if (check(cand) == 0) return cand;
  }
  return Error(Errc::not_found, "exec: \"" + prog + "\": executable file not found in $PATH");
}

Error exec_process(const Process& p, const std::string& path) {
  std::vector<std::string> env = p.env;
  bool have_home = false;
  for (const auto& e : env) have_home |= e.rfind("HOME=", 0) == 0;
  if (!have_home) env.push_back("HOME=" + home_of(p.user.uid));
  std::vector<char*> argv, envp;
  for (const auto& a : p.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  ::execve(path.c_str(), argv.data(), envp.data());
  return sys_error("exec " + path);
}

}  // namespace berth::runtime
