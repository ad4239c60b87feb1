// Bringing a prepared container up: in this process (foreground run) or under
// a detached berth-monitor. Both go through launch(), which creates the
// container with the runtime library so the init is the caller's child.
#include "base/trace.h"
#include "engine/launch.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "base/fdpass.h"
#include "base/fs.h"
#include "runtime/container.h"
#include "runtime/state.h"

namespace berth::engine {

namespace {

}  // namespace

Result<UniqueFd> listen_console_socket(const std::string& path) {
  ::unlink(path.c_str());
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return sys_error("console socket");
  struct sockaddr_un a = {};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) return Error(Errc::invalid_argument, "console socket path too long: " + path);
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  if (::bind(s.get(), reinterpret_cast<struct sockaddr*>(&a), sizeof a) != 0) return sys_error("bind " + path);
  if (::listen(s.get(), 1) != 0) return sys_error("listen " + path);
  return s;
}

// runc's console protocol: the pty name as data, the master as SCM_RIGHTS.
Result<UniqueFd> receive_console(int listen_fd, const std::string& path) {
  UniqueFd c(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (!c) return sys_error("accept on " + path);
  char data[256];
  UniqueFd fd;
  std::string what = "receive the terminal on " + path;
  TRY(recv_with_fd(c.get(), data, sizeof data, &fd, what.c_str()));
  if (fd) return fd;
  return Error(Errc::io, "no terminal received on " + path);
}

namespace {

struct SavedStdio {
  int saved[3] = {-1, -1, -1};
  void save() {
    for (int i = 0; i < 3; i++) saved[i] = ::fcntl(i, F_DUPFD_CLOEXEC, 3);
  }
  void restore() {
    for (int i = 0; i < 3; i++)
      if (saved[i] >= 0) {
        ::dup2(saved[i], i);
        ::close(saved[i]);
        saved[i] = -1;
      }
  }
};

}  // namespace

Result<Launched> launch(const Paths& paths, const std::string& id, const LaunchIo& io) {
  Launched l;
  runtime::GlobalOptions g;
  g.root = paths.runtime_root();
  runtime::CreateOptions co;
  co.id = id;
  co.bundle = path_exists(paths.legacy_bundle(id) + "/config.json") ? paths.legacy_bundle(id) : paths.bundle(id);
  co.config_text = io.config_text;
  co.prepared = io.prepared;
  // Started below in this call: the init waits on a pipe, not on a fifo.
  int start_fd = -1;
  co.start_fd = &start_fd;

  UniqueFd listen;
  int child_fds[3] = {-1, -1, -1};
  UniqueFd child_in, child_out, child_err;
  std::string sock;
  if (io.tty) {
    sock = paths.console_socket(id);
    TRY(mkdir_p(paths.run, 0700));
    TRY_ASSIGN(listen, listen_console_socket(sock));
    co.console_socket = sock;
  } else {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return sys_error("stdout pipe");
    l.out = UniqueFd(p[0]);
    child_out = UniqueFd(p[1]);
    if (::pipe2(p, O_CLOEXEC) != 0) return sys_error("stderr pipe");
    l.err = UniqueFd(p[0]);
    child_err = UniqueFd(p[1]);
    child_fds[1] = child_out.get();
    child_fds[2] = child_err.get();
  }
  if (io.stdin_mode == StdinMode::pipe && !io.tty) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return sys_error("stdin pipe");
    child_in = UniqueFd(p[0]);
    l.in = UniqueFd(p[1]);
    child_fds[0] = child_in.get();
  } else if (io.stdin_mode == StdinMode::null || io.tty) {
    child_in = UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    child_fds[0] = child_in.get();
  }  // inherit: our own fd 0 stays

  // The init inherits fds 0-2 of this process: put the container's ends there
  // for the duration of create(), then put ours back.
  SavedStdio saved;
  saved.save();
  for (int i = 0; i < 3; i++)
    if (child_fds[i] >= 0) ::dup2(child_fds[i], i);
  trace_mark("launch: io ready");
  auto pid = runtime::create(g, co);
  saved.restore();
  trace_mark("launch: runtime created");
  child_in.reset();
  child_out.reset();
  child_err.reset();
  if (!pid.ok()) {
    if (!sock.empty()) ::unlink(sock.c_str());
    return std::move(pid).error().wrap("create container " + id);
  }
  UniqueFd start_w(start_fd);
  l.pid = *pid;
  l.pid_start = static_cast<int64_t>(runtime::process_start_time(l.pid));
  if (io.tty) {
    auto pty = receive_console(listen.get(), sock);
    ::unlink(sock.c_str());
    if (!pty.ok()) {
      (void)runtime::remove(g, id, true);
      return std::move(pty).error();
    }
    l.pty = std::move(*pty);
  }
  trace_mark("launch: console");
  if (auto s = runtime::start_with(g, id, start_w.release()); !s.ok()) {
    (void)runtime::remove(g, id, true);
    ::waitpid(l.pid, nullptr, WNOHANG);
    return std::move(s).error().wrap("start container " + id);
  }
  return l;
}

}  // namespace berth::engine
