// start / run / stop / kill / pause / rm / wait / cleanup.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>

#include "base/trace.h"
#include "base/fs.h"
#include "engine/ahead.h"
#include "engine/engine.h"
#include "engine/launch.h"
#include "engine/monitor.h"
#include "engine/netsetup.h"
#include "engine/rootfs.h"
#include "journal/events.h"
#include "runtime/container.h"
#include "runtime/state.h"

namespace berth::engine {

namespace {

// Renamed out of the way first: a concurrent `wait`/`ps` that finds the
// container's processes gone may write its exit record into the dir (see
// refresh) while it is being emptied, and the rmdir would then fail and leave
// the dir behind for good. After the rename such a write fails harmlessly.
Status remove_container_dir(const std::string& dir) {
  std::string doomed = dirname_of(dir) + "/.removing-" + unique_name("c");
  if (::rename(dir.c_str(), doomed.c_str()) == 0) return remove_all(doomed);
  if (errno == ENOENT) return Status{};
  return remove_all(dir);
}

runtime::GlobalOptions rt(const Paths& p) {
  runtime::GlobalOptions g;
  g.root = p.runtime_root();
  return g;
}

void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  ::nanosleep(&ts, nullptr);
}

// Serialises the commands that change one container (cleanup from the
// monitor, rm -f, start, stop) across processes. Re-entrant within a process:
// cleanup decides on a restart under the lock and then calls start(), which
// takes it again (a second flock on a new open file would deadlock).
class ContainerLock {
 public:
  static Result<ContainerLock> take(const std::string& dir) {
    ContainerLock l;
    l.dir_ = dir;
    if (held()[dir]++ > 0) return l;
    // flock on the directory itself: no lock file (one inode less per container).
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
      held().erase(dir);
      return sys_error("lock " + dir);
    }
    while (::flock(fd.get(), LOCK_EX) != 0)
      if (errno != EINTR) {
        held().erase(dir);
        return sys_error("lock " + dir);
      }
    l.fd_ = std::move(fd);
    return l;
  }
  ContainerLock() = default;
  ContainerLock(ContainerLock&& o) noexcept : dir_(std::move(o.dir_)), fd_(std::move(o.fd_)) { o.dir_.clear(); }
  ContainerLock& operator=(ContainerLock&& o) noexcept {
    if (this != &o) {
      release();
      dir_ = std::move(o.dir_);
      fd_ = std::move(o.fd_);
      o.dir_.clear();
    }
    return *this;
  }
  ~ContainerLock() { release(); }

 private:
  static std::map<std::string, int>& held() {
    static std::map<std::string, int> m;
    return m;
  }
  void release() {
    if (dir_.empty()) return;
    auto it = held().find(dir_);
    if (it != held().end() && --it->second <= 0) held().erase(it);
    fd_.reset();  // only the first taker owns the fd; closing it unlocks
    dir_.clear();
  }
  std::string dir_;
  UniqueFd fd_;
};

// Docker creates a missing working directory (root-owned, 0755) instead of
// failing the start. Walks the rootfs one component at a time without
// following symlinks, so a hostile image cannot make us create directories
// outside it; anything unexpected is left for the runtime to report.
void ensure_workdir(const std::string& rootfs, const std::string& cwd) {
  if (cwd.empty() || cwd == "/") return;
  UniqueFd dir(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  size_t i = 0;
  while (dir && i < cwd.size()) {
    size_t j = cwd.find('/', i);
    if (j == std::string::npos) j = cwd.size();
    std::string part = cwd.substr(i, j - i);
    i = j + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return;
    int fd = ::openat(dir.get(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && ::mkdirat(dir.get(), part.c_str(), 0755) == 0)
      fd = ::openat(dir.get(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    dir = UniqueFd(fd);
  }
}

// A zombie has finished: kill(pid, 0) and the start time still find it until
// its parent reaps it (for an orphan, whenever pid 1 gets to it).
bool zombie(pid_t pid) {
  auto st = read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!st.ok()) return true;
  auto rp = st->rfind(')');
  return rp == std::string::npos || rp + 2 >= st->size() || (*st)[rp + 2] == 'Z' || (*st)[rp + 2] == 'X';
}

// container_event() stamped with an earlier time (the start, see start()).
void start_event(Engine& e, const Container& c, int64_t at) {
  journal::Event ev;
  ev.type = "container";
  ev.action = "start";
  ev.id = c.id;
  ev.time_ns = at;
  if (c.config.contains("labels") && c.config["labels"].is_object())
    for (auto& [k, v] : c.config["labels"].items())
      if (v.is_string()) ev.attributes[k] = v.get<std::string>();
  ev.attributes["name"] = c.name;
  ev.attributes["image"] = c.image;
  (void)journal::append_event(e.paths().events(), ev);
}

void mark_stopped(const Paths& p, const std::string& id) {
  ::close(::open(p.stopped_marker(id).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
}

std::string self_dir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "/usr/local/bin";
  buf[n] = 0;
  return dirname_of(buf);
}


}  // namespace

std::string berth_exe() {
  if (const char* e = std::getenv("BERTH_EXE"); e && *e) return e;
  return self_dir() + "/berth";
}

std::string monitor_exe() {
  if (const char* e = std::getenv("BERTH_MONITOR"); e && *e) return e;
  return self_dir() + "/berth-monitor";
}

Result<Engine> Engine::open(Store& store) {
  TRY_ASSIGN(auto cs, Containers::open(store.db()));
  Paths p = paths_for(store.root());
  return Engine(&store, std::move(p), std::move(cs));
}

void Engine::event(const std::string& type, const std::string& action, const std::string& id,
                   std::map<std::string, std::string> attrs) {
  journal::Event e;
  e.type = type;
  e.action = action;
  e.id = id;
  e.attributes = std::move(attrs);
  (void)journal::append_event(paths_.events(), e);
}

void Engine::container_event(const Container& c, const std::string& action, std::map<std::string, std::string> attrs) {
  attrs["name"] = c.name;
  attrs["image"] = c.image;
  if (c.config.contains("labels") && c.config["labels"].is_object())
    for (auto& [k, v] : c.config["labels"].items())
      if (v.is_string() && !attrs.count(k)) attrs[k] = v.get<std::string>();
  event("container", action, c.id, std::move(attrs));
}

Result<Container> Engine::lookup(const std::string& ref) {
  TRY_ASSIGN(Container c, containers_.lookup(ref));
  return refresh(std::move(c));
}

Container Engine::refresh(Container c) {
  if (c.state != State::running && c.state != State::paused) return c;
  auto ex = read_exit_file(paths_.exit_file(c.id));
  if (ex.ok()) {
    c.state = State::exited;
    c.exit_code = ex->exit_code;
    c.finished_ns = ex->finished_ns;
    return c;
  }
  bool init_alive = runtime::process_alive(c.pid, static_cast<unsigned long long>(c.pid_start)) && !zombie(c.pid);
  bool monitor_alive = c.monitor_pid > 0 && ::kill(c.monitor_pid, 0) == 0 && !zombie(c.monitor_pid);
  if (init_alive && monitor_alive) return c;
  // The init is gone without an exit record: the monitor may still be
  // draining output (it writes the record within ~2 s), or it died too
  // (kill -9, reboot). Only the latter is final.
  if (!init_alive && monitor_alive && path_exists(paths_.runtime_root() + "/" + c.id)) return c;
  if (init_alive) {
    // The monitor died (kill -9) and left the container running with nobody
    // to read its output, record its exit or clean up after it. Such a
    // container cannot be managed any more: end it, so that what we show
    // (exited) is true and `rm` can release its mounts.
    (void)runtime::kill(rt(paths_), c.id, SIGKILL, true);
    c.exit_code = 128 + SIGKILL;
  } else {
    c.exit_code = 255;  // nobody saw how it ended
  }
  c.state = State::exited;
  if (c.finished_ns == 0) c.finished_ns = now_ns();
  // Written where the monitor would have, so that every later look (and
  // cleanup) sees the same code and time.
  (void)write_ephemeral(paths_.exit_file(c.id),
                          "{\"exitCode\":" + std::to_string(c.exit_code) + ",\"signal\":0,\"finishedAt\":" +
                              std::to_string(c.finished_ns) + "}\n",
                          0644);
  return c;
}

Status Engine::prepare_start(Container& c) {
  const std::string id = c.id;
  TRY(mkdir_p(paths_.run, 0700));
  std::vector<std::string> lowers;
  for (const auto& l : c.config.value("lowers", nlohmann::json::array())) lowers.push_back(l.get<std::string>());
  TRY(mount_rootfs(lowers, paths_.upper(id), paths_.work(id), paths_.merged(id), c.config.value("transient", false)));
  if (auto wd = c.config.find("workdir"); wd != c.config.end() && wd->is_string())
    ensure_workdir(paths_.merged(id), wd->get<std::string>());
  ::unlink(paths_.exit_file(id).c_str());
  ::unlink(paths_.stopped_marker(id).c_str());
  if (path_exists(paths_.runtime_root() + "/" + id)) (void)runtime::remove(rt(paths_), id, true);
  // A restart can overtake the previous run's cleanup: release its network
  // (netns or CNI result still there) before attaching again.
  if (path_exists(paths_.netns(id)) || path_exists(paths_.cni_state() + "/results/berth-" + id + "-eth0.json"))
    (void)teardown_network(*this, c);
  TRY(setup_network(*this, c));
  return Status{};
}

Status Engine::start(const std::string& id) {
  TRY_ASSIGN(Container c, lookup(id));
  TRY_ASSIGN(auto lock, ContainerLock::take(paths_.dir(c.id)));
  if (auto cur = containers_.get(c.id); cur.ok()) c = refresh(std::move(*cur));
  if (c.state == State::running || c.state == State::paused) return Status{};  // docker start: no-op
  TRY(prepare_start(c));
  bool tty = c.config.value("tty", false);
  bool interactive = c.config.value("interactive", false);

  int status[2];
  if (::pipe2(status, O_CLOEXEC) != 0) return sys_error("start " + c.id + ": pipe");
  UniqueFd status_r(status[0]), status_w(status[1]);
  std::string mon = monitor_exe(), berth = berth_exe();
  auto cfg_health = c.config.value("health", nlohmann::json::object());
  int64_t health_interval = 0, health_start = 0;
  if (cfg_health.is_object() && cfg_health.contains("test") && !cfg_health["test"].empty()) {
    health_interval = cfg_health.value("interval", int64_t{30'000'000'000});
    if (health_interval <= 0) health_interval = 30'000'000'000;
    health_start = cfg_health.value("start_interval", int64_t{0});
    if (health_start <= 0) health_start = std::min<int64_t>(health_interval, 1'000'000'000);
  }
  std::vector<std::string> margs = {mon, "--id", c.id, "--name", c.name, "--image", c.image, "--berth", berth,
                                    "--root", store_->root(), "--log", paths_.log(c.id), "--exit",
                                    paths_.exit_file(c.id), "--events", paths_.events()};
  if (health_interval > 0) {
    margs.insert(margs.end(), {"--health-interval", std::to_string(health_interval), "--health-start",
                               std::to_string(health_start)});
  }

  // The start event and StartedAt carry the moment before the process could
  // run: what it prints is stamped later, so `events --logs` puts the start
  // before the first line even when the container is faster than we are.
  const int64_t started = now_ns();
  pid_t p = ::fork();
  if (p < 0) return sys_error("start " + c.id + ": fork");
  if (p == 0) {
    // Child: a new session, then the monitor is a grandchild so that it is
    // nobody's job and is reparented to init (or the nearest subreaper).
    status_r.reset();
    ::setsid();
    pid_t q = ::fork();
    if (q != 0) ::_exit(q < 0 ? 1 : 0);
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int i = 0; i < 3; i++) ::dup2(null, i);
    LaunchIo io;
    io.tty = tty;
    io.stdin_mode = interactive ? StdinMode::pipe : StdinMode::null;
    auto l = launch(paths_, c.id, io);
    if (!l.ok()) {
      std::string msg = "err " + l.error().str() + "\n";
      (void)write_all(status_w.get(), msg.data(), msg.size());
      ::_exit(1);
    }
    auto keep = [&](const UniqueFd& fd, const char* flag) {
      if (!fd) return;
      ::fcntl(fd.get(), F_SETFD, 0);
      margs.push_back(flag);
      margs.push_back(std::to_string(fd.get()));
    };
    keep(l->out, "--out");
    keep(l->err, "--err");
    keep(l->pty, "--pty");
    if (l->in) ::fcntl(l->in.get(), F_SETFD, 0);  // held open, never written: the container's stdin stays open
    margs.push_back("--child");
    margs.push_back(std::to_string(l->pid));
    std::string msg = "ok " + std::to_string(l->pid) + " " + std::to_string(l->pid_start) + " " +
                      std::to_string(::getpid()) + "\n";
    (void)write_all(status_w.get(), msg.data(), msg.size());
    std::vector<char*> a;
    for (auto& s : margs) a.push_back(s.data());
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    // No monitor binary: be the monitor here (same loop, bigger process).
    MonitorConfig mc;
    mc.child = l->pid;
    mc.out_fd = l->out.get();
    mc.err_fd = l->err.get();
    mc.pty_fd = l->pty.get();
    mc.id = c.id;
    mc.log_path = paths_.log(c.id);
    mc.exit_path = paths_.exit_file(c.id);
    mc.events_path = paths_.events();
    (void)run_monitor(mc);
    ::_exit(0);
  }
  status_w.reset();
  int wst = 0;
  while (::waitpid(p, &wst, 0) < 0 && errno == EINTR) {
  }
  std::string reply;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(status_r.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) reply.append(buf, static_cast<size_t>(n));
  if (reply.rfind("ok ", 0) != 0) {
    (void)teardown(c);
    if (reply.rfind("err ", 0) == 0) {
      while (!reply.empty() && reply.back() == '\n') reply.pop_back();
      return Error(Errc::io, reply.substr(4));
    }
    return Error(Errc::internal, "start " + c.id + ": the monitor process failed before starting the container");
  }
  long long pid = 0, pstart = 0, mpid = 0;
  std::sscanf(reply.c_str() + 3, "%lld %lld %lld", &pid, &pstart, &mpid);
  c.state = State::running;
  c.pid = static_cast<pid_t>(pid);
  c.pid_start = pstart;
  c.monitor_pid = static_cast<pid_t>(mpid);
  c.started_ns = started;
  c.finished_ns = 0;
  c.exit_code = 0;
  TRY(containers_.update(c));
  start_event(*this, c, started);
  return Status{};
}

Result<int> Engine::run_foreground(const std::string& id, const ForegroundOptions& fo) {
  TRY_ASSIGN(Container c, lookup(id));
  // Ours from here, so that every way out waits for it and removes what
  // the runtime did not take.
  std::unique_ptr<Ahead> ahead;
  if (auto it = ahead_.find(c.id); it != ahead_.end()) {
    ahead = std::move(it->second);
    ahead_.erase(it);
  }
  {
    TRY_ASSIGN(auto lock, ContainerLock::take(paths_.dir(c.id)));
    trace_mark("fg: locked");
    TRY(prepare_start(c));
    trace_mark("fg: prepared");
  }
  bool tty = c.config.value("tty", false);
  LaunchIo io;
  io.tty = tty;
  io.stdin_mode = fo.attach_stdin ? StdinMode::inherit : StdinMode::null;
  if (auto it = unwritten_specs_.find(c.id); it != unwritten_specs_.end()) {
    io.config_text = std::move(it->second);
    unwritten_specs_.erase(it);
  }
  RawTerminal term;
  struct winsize ws {};
  bool have_ws = tty && ::ioctl(0, TIOCGWINSZ, &ws) == 0;
  const int64_t started = now_ns();  // see start()
  if (ahead) io.prepared = ahead->take();
  trace_mark("fg: made ahead");
  auto l = launch(paths_, c.id, io);
  trace_mark("fg: launched");
  if (!l.ok()) {
    (void)teardown(c);
    return std::move(l).error();
  }
  if (l->pty && have_ws) ::ioctl(l->pty.get(), TIOCSWINSZ, &ws);
  c.state = State::running;
  c.pid = l->pid;
  c.pid_start = l->pid_start;
  c.monitor_pid = ::getpid();
  c.started_ns = started;
  c.finished_ns = 0;
  c.exit_code = 0;
  TRY(containers_.update(c));
  start_event(*this, c, started);
  trace_mark("fg: running recorded");

  MonitorConfig mc;
  mc.child = l->pid;
  mc.out_fd = l->out.get();
  mc.err_fd = l->err.get();
  mc.pty_fd = l->pty.get();
  mc.tee_out = 1;
  mc.tee_err = 2;
  if (tty && fo.attach_stdin) {
    mc.stdin_src = 0;
    term.enter(0);
  }
  mc.forward_signals = fo.sig_proxy;
  mc.id = c.id;
  mc.name = c.name;
  mc.image = c.image;
  mc.log_path = paths_.log(c.id);
  mc.sync_log = !c.config.value("rm", false);
  mc.exit_path = paths_.exit_file(c.id);
  mc.events_path = paths_.events();
  auto h = c.config.value("health", nlohmann::json::object());
  if (h.is_object() && h.contains("test") && !h["test"].empty()) {
    mc.health_argv = {berth_exe(), "--root", store_->root(), "healthcheck", "run", c.id};
    mc.health_interval_ns = h.value("interval", int64_t{30'000'000'000});
    if (mc.health_interval_ns <= 0) mc.health_interval_ns = 30'000'000'000;
  }
  auto ex = run_monitor(mc);
  trace_mark("fg: monitor done");
  term.leave(0);
  l->out.reset();
  l->err.reset();
  l->pty.reset();
  TRY(cleanup(c.id));
  trace_mark("fg: cleaned up");
  if (!ex.ok()) return std::move(ex).error();
  return ex->exit_code;
}

Status Engine::teardown(Container& c) {
  auto g = rt(paths_);
  if (path_exists(paths_.runtime_root() + "/" + c.id)) {
    auto r = runtime::remove(g, c.id, true);
    if (!r.ok() && r.error().code != Errc::not_found) return r;
  }
  trace_mark("teardown: runtime state removed");
  TRY(teardown_network(*this, c));
  trace_mark("teardown: network");
  TRY(unmount_rootfs(paths_.merged(c.id)));
  trace_mark("teardown: unmounted");
  return Status{};
}

Status Engine::cleanup(const std::string& id) {
  TRY_ASSIGN(Container c0, containers_.get(id));
  TRY_ASSIGN(auto lock, ContainerLock::take(paths_.dir(id)));
  auto cur = containers_.get(id);
  if (!cur.ok()) return Status{};  // removed meanwhile
  Container c = refresh(std::move(*cur));
  if (c.state == State::running || c.state == State::paused) return Status{};
  TRY(teardown(c));
  bool was_live = c0.state == State::running || c0.state == State::paused;
  c.pid = 0;
  c.monitor_pid = 0;
  if (c.config.value("rm", false)) {
    // The row goes below; updating it first would be one more write.
    (void)remove_anonymous_volumes(c);
    (void)remove_container_dir(paths_.dir(id));
    trace_mark("cleanup: dir removed");
    TRY(containers_.remove(id));
    trace_mark("cleanup: row removed");
    container_event(c, "destroy");
    return Status{};
  }
  TRY(containers_.update(c));
  if (!was_live) return Status{};
  // Restart policy (Docker's): not after an explicit stop/kill by the user.
  auto rp = c.config.value("restart", nlohmann::json::object());
  std::string policy = rp.is_object() ? rp.value("policy", "no") : "no";
  int max = rp.is_object() ? rp.value("max_retries", 0) : 0;
  bool stopped = path_exists(paths_.stopped_marker(id));
  bool again = !stopped && (policy == "always" || policy == "unless-stopped" ||
                            (policy == "on-failure" && c.exit_code != 0 && (max == 0 || c.restart_count < max)));
  if (!again) return Status{};
  lock = {};
  // Docker backs off (100 ms, doubling, capped) so a crash loop does not spin.
  sleep_ms(std::min(100 << std::min(c.restart_count, 6), 5000));
  // A `stop`, `rm` or `start` may have come in during the pause: decide again
  // under the lock (stop writes its marker under it), and restart only a
  // container that is still exited and was not stopped by the user.
  auto relock = ContainerLock::take(paths_.dir(id));
  if (!relock.ok()) return path_exists(paths_.dir(id)) ? Status(std::move(relock).error()) : Status{};  // removed meanwhile
  lock = std::move(*relock);
  auto again_row = containers_.get(id);
  if (!again_row.ok()) return Status{};
  c = refresh(std::move(*again_row));
  if (c.state != State::exited || path_exists(paths_.stopped_marker(id))) return Status{};
  c.restart_count++;
  TRY(containers_.update(c));
  container_event(c, "restart");
  return start(id);
}

Status Engine::kill(const std::string& id, int sig) {
  TRY_ASSIGN(Container c, lookup(id));
  if (c.state != State::running && c.state != State::paused)
    return Error(Errc::invalid_argument, "container " + c.name + " is not running");
  mark_stopped(paths_, c.id);
  // The event goes first: the signal may end the container at once, and its
  // die event must come after the kill that caused it.
  container_event(c, "kill", {{"signal", std::to_string(sig)}});
  TRY(runtime::kill(rt(paths_), c.id, sig, false));
  return Status{};
}

Result<int> Engine::wait(const std::string& id) {
  TRY_ASSIGN(Container c, lookup(id));
  for (int ms = 1;; ms = std::min(ms * 2, 50)) {
    auto cur = containers_.get(c.id);
    if (!cur.ok()) return c.exit_code;  // removed (--rm): the last known code
    c = refresh(std::move(*cur));
    if (c.state == State::exited || c.state == State::created) return c.exit_code;
    sleep_ms(ms);
  }
}

Status Engine::stop(const std::string& id, std::optional<int> timeout_seconds) {
  TRY_ASSIGN(Container c, lookup(id));
  {
    // The marker goes down under the lock, also for an exited container: a
    // restart policy waiting out its back-off must see it (see cleanup).
    TRY_ASSIGN(auto lock, ContainerLock::take(paths_.dir(c.id)));
    mark_stopped(paths_, c.id);
    TRY_ASSIGN(Container cur, containers_.get(c.id));
    c = refresh(std::move(cur));
  }
  if (c.state != State::running && c.state != State::paused) return Status{};
  int sig = c.config.value("stop_signal", SIGTERM);
  int timeout = timeout_seconds.value_or(c.config.value("stop_timeout", 10));
  auto g = rt(paths_);
  if (c.state == State::paused) (void)runtime::resume(g, c.id);
  auto exited = [&]() {
    auto cur = containers_.get(c.id);
    if (!cur.ok()) return true;
    Container r = refresh(std::move(*cur));
    return r.state == State::exited || r.state == State::created;
  };
  int used = sig;
  if (timeout != 0) {
    container_event(c, "kill", {{"signal", std::to_string(sig)}});  // before the die it causes
    (void)runtime::kill(g, c.id, sig, false);
    int64_t deadline = now_ns() + static_cast<int64_t>(timeout) * 1000000000;
    for (int ms = 1; !exited() && (timeout < 0 || now_ns() < deadline); ms = std::min(ms * 2, 20)) sleep_ms(ms);
  }
  if (!exited()) {
    used = SIGKILL;
    container_event(c, "kill", {{"signal", std::to_string(SIGKILL)}});
    (void)runtime::kill(g, c.id, SIGKILL, true);
    for (int ms = 1, waited = 0; !exited() && waited < 30000; waited += ms, ms = std::min(ms * 2, 20)) sleep_ms(ms);
  }
  container_event(c, "stop", {{"signal", std::to_string(used)}});
  return Status{};
}

Status Engine::pause(const std::string& id) {
  TRY_ASSIGN(Container c, lookup(id));
  if (c.state != State::running) return Error(Errc::invalid_argument, "container " + c.name + " is not running");
  TRY(runtime::pause(rt(paths_), c.id));
  c.state = State::paused;
  TRY(containers_.update(c));
  container_event(c, "pause");
  return Status{};
}

Status Engine::unpause(const std::string& id) {
  TRY_ASSIGN(Container c, lookup(id));
  if (c.state != State::paused) return Error(Errc::invalid_argument, "container " + c.name + " is not paused");
  TRY(runtime::resume(rt(paths_), c.id));
  c.state = State::running;
  TRY(containers_.update(c));
  container_event(c, "unpause");
  return Status{};
}

Status Engine::remove(const std::string& id, bool force, bool volumes) {
  TRY_ASSIGN(Container c, lookup(id));
  if (c.state == State::running || c.state == State::paused) {
    if (!force)
      return Error(Errc::busy, "cannot remove container " + c.name +
                                   ": container is running: stop the container before removing or force remove");
    if (c.state == State::paused) (void)runtime::resume(rt(paths_), c.id);
    mark_stopped(paths_, c.id);
    (void)runtime::kill(rt(paths_), c.id, SIGKILL, true);
    for (int ms = 1, waited = 0; waited < 30000; waited += ms, ms = std::min(ms * 2, 20)) {
      auto cur = containers_.get(c.id);
      if (!cur.ok()) return Status{};
      if (refresh(std::move(*cur)).state == State::exited) break;
      sleep_ms(ms);
    }
  }
  TRY_ASSIGN(auto lock, ContainerLock::take(paths_.dir(c.id)));
  auto cur = containers_.get(c.id);
  if (!cur.ok()) return Status{};  // the monitor's cleanup removed it (--rm)
  c = refresh(std::move(*cur));
  TRY(teardown(c));
  if (volumes) TRY(remove_anonymous_volumes(c));
  TRY(containers_.remove(c.id));
  TRY(remove_container_dir(paths_.dir(c.id)));
  container_event(c, "destroy");
  return Status{};
}

void Engine::sweep_removed_dirs() {
  DIR* d = ::opendir(paths_.containers().c_str());
  if (!d) return;
  std::vector<std::string> doomed;
  while (struct dirent* e = ::readdir(d))
    if (std::string_view(e->d_name).rfind(".removing-", 0) == 0) doomed.push_back(paths_.containers() + "/" + e->d_name);
  ::closedir(d);
  for (const auto& p : doomed) (void)remove_all(p);
}

}  // namespace berth::engine
