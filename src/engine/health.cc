// Health checks: run by the monitor every interval as `berth healthcheck run
// ID` (a separate process: the monitor stays small), or by hand.
#include "engine/health.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.h"
#include "journal/time.h"
#include "runtime/container.h"

namespace berth::engine {

namespace {

using nlohmann::json;

struct Probe {
  int exit_code = -1;
  std::string output;
};

// Runs the probe in the container with stdout+stderr captured, killed after
// timeout_ns (Docker reports exit -1 and "Health check exceeded timeout").
Probe probe(const Paths& paths, const std::string& id, const std::vector<std::string>& args, int64_t timeout_ns) {
  Probe r;
  int out = static_cast<int>(::syscall(SYS_memfd_create, "health", MFD_CLOEXEC));
  std::string pidfile = paths.run + "/health-" + id.substr(0, 12) + "-" + std::to_string(::getpid()) + ".pid";
  pid_t child = ::fork();
  if (child == 0) {
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    runtime::GlobalOptions g;
    g.root = paths.runtime_root();
    runtime::ExecOptions o;
    o.id = id;
    o.args = args;
    o.pid_file = pidfile;
    auto res = runtime::exec(g, o);
    if (!res.ok()) {
      std::string m = res.error().str() + "\n";
      (void)!::write(2, m.data(), m.size());
      ::_exit(126);
    }
    ::_exit(*res);
  }
  if (child < 0) {
    r.output = "fork failed";
    return r;
  }
  int pfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
  struct pollfd p = {pfd, POLLIN, 0};
  int timeout_ms = timeout_ns > 0 ? static_cast<int>(timeout_ns / 1000000) : 30000;
  bool done = pfd >= 0 ? ::poll(&p, 1, timeout_ms) > 0 : true;
  if (!done) {
    auto pt = read_file(pidfile, 64);
    if (pt.ok()) ::kill(static_cast<pid_t>(std::atoi(pt->c_str())), SIGKILL);
    ::kill(child, SIGKILL);
  }
  int st = 0;
  ::waitpid(child, &st, 0);
  if (pfd >= 0) ::close(pfd);
  ::unlink(pidfile.c_str());
  if (!done) {
    r.exit_code = -1;
    r.output = "Health check exceeded timeout (" + std::to_string(timeout_ms / 1000) + "s)";
  } else {
    r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    char buf[4096];
    ssize_t n = ::pread(out, buf, sizeof buf, 0);
    if (n > 0) r.output.assign(buf, static_cast<size_t>(n));
  }
  ::close(out);
  return r;
}

}  // namespace

std::vector<std::string> health_probe_args(const json& test) {
  std::vector<std::string> t;
  if (test.is_array())
    for (const auto& s : test)
      if (s.is_string()) t.push_back(s.get<std::string>());
  if (t.empty() || t[0] == "NONE") return {};
  if (t[0] == "CMD-SHELL") return t.size() > 1 ? std::vector<std::string>{"/bin/sh", "-c", t[1]} : std::vector<std::string>{};
  if (t[0] == "CMD") return std::vector<std::string>(t.begin() + 1, t.end());
  return t;
}

Result<std::string> run_healthcheck(Engine& e, const std::string& ref) {
  TRY_ASSIGN(Container c, e.lookup(ref));
  if (c.state != State::running) return Error(Errc::invalid_argument, "container " + c.name + " is not running");
  json h = c.config.value("health", json::object());
  auto args = health_probe_args(h.value("test", json::array()));
  if (args.empty()) return Error(Errc::invalid_argument, "container " + c.name + " has no healthcheck");
  int64_t timeout = h.value("timeout", int64_t{30'000'000'000});
  int64_t start_period = h.value("start_period", int64_t{0});
  int retries = h.value("retries", 3);
  if (retries <= 0) retries = 3;

  int64_t start = now_ns();
  Probe p = probe(e.paths(), c.id, args, timeout);
  int64_t end = now_ns();

  // One writer at a time per container (the monitor never overlaps probes,
  // but a manual `healthcheck run` may).
  std::string path = e.paths().health_file(c.id);
  UniqueFd lock(::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (lock) ::flock(lock.get(), LOCK_EX);
  json rec = json::object();
  bool first = true;
  if (auto t = read_file(path, 1 << 20); t.ok()) {
    first = false;
    rec = json::parse(*t, nullptr, false);
    if (!rec.is_object()) rec = json::object();
  }
  std::string old = rec.value("Status", "starting");
  int streak = rec.value("FailingStreak", 0);
  std::string status = old;
  bool in_start_period = start_period > 0 && end - c.started_ns < start_period;
  if (p.exit_code == 0) {
    status = "healthy";
    streak = 0;
  } else if (!in_start_period || old != "starting") {
    streak++;
    if (streak >= retries) status = "unhealthy";
  }
  json log = rec.value("Log", json::array());
  log.push_back({{"Start", journal::format_rfc3339nano(start)}, {"End", journal::format_rfc3339nano(end)}, {"ExitCode", p.exit_code}, {"Output", p.output}});
  while (log.size() > 5) log.erase(log.begin());
  rec = {{"Status", status}, {"FailingStreak", streak}, {"Log", log}};
  TRY(atomic_write_file(path, rec.dump(), 0644));
  if (status != old || first) e.container_event(c, "health_status: " + status);
  return status;
}

}  // namespace berth::engine
