#include "engine/monitor.h"

#include "engine/paths.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include <nlohmann/json.hpp>

#include "base/fd.h"
#include "base/fs.h"
#include "journal/events.h"
#include "journal/log.h"

namespace berth::engine {

namespace {

int64_t mono_ns() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t real_ns() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void write_quiet(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void spawn_health(const std::vector<std::string>& argv) {
  pid_t p = ::fork();
  if (p != 0) return;  // reaped by the SIGCHLD loop
  int null = ::open("/dev/null", O_RDWR);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  std::vector<char*> a;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  ::execv(a[0], a.data());
  ::_exit(127);
}

std::string exit_json(const ExitInfo& e) {
  return "{\"exitCode\":" + std::to_string(e.exit_code) + ",\"signal\":" + std::to_string(e.signal) +
         ",\"finishedAt\":" + std::to_string(e.finished_ns) + "}\n";
}

}  // namespace

Result<ExitInfo> read_exit_file(const std::string& path) {
  auto text = read_file(path, 4096);
  if (!text) return std::move(text).error();
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("exitCode") || !j["exitCode"].is_number_integer())
    return Error(Errc::invalid_input, path + ": malformed exit record");
  ExitInfo e;
  e.exit_code = j["exitCode"].get<int>();
  e.signal = j.value("signal", 0);
  e.finished_ns = j.value("finishedAt", int64_t{0});
  return e;
}

Result<ExitInfo> run_monitor(const MonitorConfig& cfg) {
  sigset_t mask, old;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  const int fwd[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
  if (cfg.forward_signals)
    for (int s : fwd) sigaddset(&mask, s);
  ::sigprocmask(SIG_BLOCK, &mask, &old);
  UniqueFd sfd(::signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sfd) {
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    return sys_error("monitor " + cfg.id + ": signalfd");
  }

  std::optional<journal::LogWriter> log;
  if (!cfg.log_path.empty()) {
    auto lw = journal::LogWriter::open(cfg.log_path, journal::LogLimits{cfg.log_max_bytes, cfg.log_max_files});
    if (lw.ok()) log.emplace(std::move(*lw));
  }

  int out = cfg.pty_fd >= 0 ? cfg.pty_fd : cfg.out_fd;
  int err = cfg.pty_fd >= 0 ? -1 : cfg.err_fd;
  int in = cfg.stdin_src;
  int in_dst = cfg.pty_fd >= 0 ? cfg.pty_fd : cfg.stdin_dst;
  for (int fd : {out, err})
    if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  std::optional<ExitInfo> exited;
  int64_t drain_deadline = 0;
  int64_t next_health = 0;
  if (!cfg.health_argv.empty() && cfg.health_interval_ns > 0)
    next_health = mono_ns() + (cfg.health_start_ns > 0 ? cfg.health_start_ns : cfg.health_interval_ns);

  // The child may have exited before SIGCHLD was blocked (then the signal
  // was discarded): look once now, later only when woken.
  bool initial_check = true;

  // 16 KiB, not a whole pipe (64 KiB): once a burst has touched them, stack
  // pages stay resident for the monitor's life (conmon reads 8 KiB).
  char buf[16384];
  auto pump = [&](int& fd, journal::Stream stream, int tee) {
    while (fd >= 0) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0) {
        if (log) (void)log->write(stream, std::string_view(buf, static_cast<size_t>(n)));
        if (tee >= 0) write_quiet(tee, buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      fd = -1;  // EOF, or EIO from a pty whose slave side is gone
    }
  };

  // Fixed slots (signals, out, err, in; poll() skips a negative fd) whose
  // events are set here, before settled(): building {fd, POLLIN, 0} in the
  // loop made GCC load a constant from .rodata, keeping a page resident.
  struct pollfd p[4];
  for (auto& x : p) x = {-1, POLLIN, 0};
  if (cfg.settled) cfg.settled();
  while (true) {
    if (exited && out < 0 && err < 0) break;
    int64_t now = mono_ns();
    if (exited && now >= drain_deadline) break;
    int timeout = -1;
    if (exited) timeout = static_cast<int>((drain_deadline - now) / 1000000) + 1;
    if (!exited && next_health > 0) {
      if (now >= next_health) {
        spawn_health(cfg.health_argv);
        next_health = now + cfg.health_interval_ns;
      }
      timeout = static_cast<int>((next_health - now) / 1000000) + 1;
    }
    p[0].fd = sfd.get();
    p[1].fd = out;
    p[2].fd = err;
    p[3].fd = in >= 0 && !exited ? in : -1;
    if (!exited && (timeout < 0 || timeout > 1000)) timeout = 1000;
    int r = initial_check ? 0 : ::poll(p, 4, timeout);
    initial_check = false;
    if (r < 0 && errno != EINTR) break;
    if (r < 0) continue;
    if (p[1].fd >= 0 && p[1].revents) pump(out, journal::Stream::out, cfg.tee_out);
    if (p[2].fd >= 0 && p[2].revents) pump(err, journal::Stream::err, cfg.tee_err);
    if (p[3].fd >= 0 && p[3].revents) {
      ssize_t k = ::read(in, buf, sizeof buf);
      if (k > 0 && in_dst >= 0) {
        write_quiet(in_dst, buf, static_cast<size_t>(k));
      } else if (k == 0 || (k < 0 && errno != EINTR && errno != EAGAIN)) {
        in = -1;
        // EOF on our stdin: the container sees EOF too (a pipe is closed;
        // a terminal gets ^D, as `docker run -it` does when stdin is a file).
        if (cfg.pty_fd >= 0) write_quiet(cfg.pty_fd, "\x04", 1);
        else if (cfg.stdin_dst >= 0) ::close(cfg.stdin_dst);
      }
    }
    if (r == 0 || (p[0].revents & POLLIN)) {
      struct signalfd_siginfo si;
      // A SIGCHLD that arrived before we blocked it is gone: reap on every
      // wake-up (and on the periodic timeout), not only on the signal.
      bool check = true;
      while (check || ::read(sfd.get(), &si, sizeof si) == sizeof si) {
        int sig = check ? SIGCHLD : static_cast<int>(si.ssi_signo);
        check = false;
        if (sig != SIGCHLD) {
          if (sig == SIGWINCH && cfg.pty_fd >= 0 && cfg.stdin_src >= 0) {
            struct winsize ws;
            if (::ioctl(cfg.stdin_src, TIOCGWINSZ, &ws) == 0) ::ioctl(cfg.pty_fd, TIOCSWINSZ, &ws);
          } else if (sig != SIGWINCH && !exited) {
            ::kill(cfg.child, sig);
          }
          continue;
        }
        int st = 0;
        pid_t w;
        while ((w = ::waitpid(-1, &st, WNOHANG)) > 0) {
          if (w != cfg.child) continue;
          ExitInfo e;
          e.finished_ns = real_ns();
          if (WIFEXITED(st)) e.exit_code = WEXITSTATUS(st);
          else if (WIFSIGNALED(st)) e.signal = WTERMSIG(st), e.exit_code = 128 + WTERMSIG(st);
          exited = e;
          drain_deadline = mono_ns() + 2000000000LL;
        }
      }
    }
  }
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  if (!exited) return Error(Errc::internal, "monitor " + cfg.id + ": poll failed before the container exited");
  if (log) (void)log->flush(cfg.sync_log);
  // The die event goes first: the exit file is what `stop`, `wait` and `ps`
  // wait for, and whatever they append next (stop, destroy) must come after it.
  if (!cfg.events_path.empty()) {
    journal::Event ev;
    ev.type = "container";
    ev.action = "die";
    ev.id = cfg.id;
    ev.attributes = {{"name", cfg.name}, {"image", cfg.image}, {"exitCode", std::to_string(exited->exit_code)}};
    if (exited->signal) ev.attributes["signal"] = std::to_string(exited->signal);
    (void)journal::append_event(cfg.events_path, ev);
  }
  if (!cfg.exit_path.empty()) TRY(write_ephemeral(cfg.exit_path, exit_json(*exited), 0644));
  return *exited;
}

}  // namespace berth::engine
