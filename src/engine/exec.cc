// berth exec: another process in a running container, through the runtime.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "base/fs.h"
#include "engine/engine.h"
#include "engine/launch.h"
#include "engine/monitor.h"
#include "engine/userdb.h"
#include "runtime/container.h"

namespace berth::engine {

namespace {

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& a : v) s += (s.empty() ? "" : " ") + a;
  return s;
}

// Docker's prefix, which the CLI keys its 126/127 exit codes on: the
// container was fine, the process could not be started in it.
Error start_failed(Error e) {
  e.message = "OCI runtime exec failed: " + e.message;
  return e;
}

}  // namespace

Result<int> Engine::exec(const std::string& ref, const ExecRequest& r) {
  TRY_ASSIGN(Container c, lookup(ref));
  if (c.state == State::paused)
    return Error(Errc::invalid_argument, "container " + c.name + " is paused, unpause the container before exec");
  if (c.state != State::running) return Error(Errc::invalid_argument, "container " + c.name + " is not running");
  if (r.args.empty()) return Error(Errc::invalid_argument, "exec needs a command");
  runtime::GlobalOptions g;
  g.root = paths_.runtime_root();
  runtime::ExecOptions o;
  o.id = c.id;
  o.args = r.args;
  o.env = r.env;
  o.cwd = r.workdir;
  if (!r.user.empty()) {
    TRY_ASSIGN(auto u, resolve_user(paths_.merged(c.id), r.user));
    o.user = std::to_string(u.uid) + ":" + std::to_string(u.gid);
    o.additional_gids = {u.gid};  // the primary gid first, as the container's own process (spec_gen)
    for (auto g : u.additional_gids)
      if (g != u.gid) o.additional_gids.push_back(g);
  }
  container_event(c, "exec_start: " + joined(r.args));

  if (r.detach) {
    o.detach = true;
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    int saved[3];
    for (int i = 0; i < 3; i++) saved[i] = ::fcntl(i, F_DUPFD_CLOEXEC, 3), ::dup2(null, i);
    auto res = runtime::exec(g, o);
    for (int i = 0; i < 3; i++) ::dup2(saved[i], i), ::close(saved[i]);
    ::close(null);
    if (!res.ok()) return start_failed(std::move(res).error());
    return 0;
  }
  if (!r.tty) {
    int saved = -1;
    if (!r.interactive) {
      saved = ::fcntl(0, F_DUPFD_CLOEXEC, 3);
      int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      ::dup2(null, 0);
      ::close(null);
    }
    auto res = runtime::exec(g, o);
    if (saved >= 0) ::dup2(saved, 0), ::close(saved);
    if (!res.ok()) return start_failed(std::move(res).error());
    container_event(c, "exec_die", {{"exitCode", std::to_string(*res)}});
    return res;
  }
  // A terminal: the runtime hands us the pty master, we proxy it like a
  // foreground run (the exec'd process stays our child).
  std::string sock = paths_.run + "/exec-" + c.id.substr(0, 12) + "-" + std::to_string(::getpid()) + ".sock";
  TRY(mkdir_p(paths_.run, 0700));
  auto listen = listen_console_socket(sock);
  if (!listen.ok()) return std::move(listen).error();
  std::string pidfile = sock + ".pid";
  o.tty = true;
  o.detach = true;
  o.console_socket = sock;
  o.pid_file = pidfile;
  auto res = runtime::exec(g, o);
  if (!res.ok()) {
    ::unlink(sock.c_str());
    return start_failed(std::move(res).error());
  }
  auto pty = receive_console(listen->get(), sock);
  ::unlink(sock.c_str());
  auto pidtext = read_file(pidfile, 64);
  ::unlink(pidfile.c_str());
  if (!pty.ok()) return std::move(pty).error();
  if (!pidtext.ok()) return std::move(pidtext).error();
  pid_t pid = static_cast<pid_t>(std::atoi(pidtext->c_str()));
  struct winsize ws;
  if (::ioctl(0, TIOCGWINSZ, &ws) == 0) ::ioctl(pty->get(), TIOCSWINSZ, &ws);
  RawTerminal term;
  if (r.interactive) term.enter(0);
  MonitorConfig mc;
  mc.child = pid;
  mc.pty_fd = pty->get();
  mc.stdin_src = r.interactive ? 0 : -1;
  mc.tee_out = 1;
  mc.forward_signals = true;
  mc.id = c.id;
  auto ex = run_monitor(mc);
  term.leave(0);
  if (!ex.ok()) return std::move(ex).error();
  container_event(c, "exec_die", {{"exitCode", std::to_string(ex->exit_code)}});
  return ex->exit_code;
}

}  // namespace berth::engine
