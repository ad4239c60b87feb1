// kill / delete / state / list / pause / resume / ps / update / events: the
// commands that act on an existing container through its state dir.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>

#include "base/fs.h"
#include "base/userns.h"
#include "cgroup/cgroup.h"
#include "runtime/container.h"
#include "runtime/hooks.h"
#include "runtime/spawn.h"

namespace berth::runtime {

using nlohmann::json;

namespace {

Result<std::unique_ptr<cgroup::Manager>> open_cgroup(const GlobalOptions& g, const ContainerState& st) {
  auto m = cgroup::Manager::open(st.cgroups_path, st.id, st.systemd_cgroup);
  if (m.ok() && is_rootless(g) && !cgroup_is_callers(**m))
    m = Error(Errc::permission, "cgroup " + (*m)->path() + " is not writable by the caller");
  // Rootless without a delegated cgroup the container got none (container.cc).
  if (!m && is_rootless(g))
    return std::move(m).error().wrap("container " + st.id + ": rootless, no cgroup delegated to the user");
  if (!m) return std::move(m).error().wrap("container " + st.id);
  return m;
}

// Signals the init through a pidfd taken after re-checking its start time,
// so a recycled pid is never signalled.
Status signal_init(const ContainerState& st, int sig) {
  UniqueFd pfd(static_cast<int>(::syscall(SYS_pidfd_open, st.pid, 0)));
  if (!pfd || !process_alive(st.pid, st.pid_start))
    return Error(Errc::not_found, "container " + st.id + " is not running");
  if (::syscall(SYS_pidfd_send_signal, pfd.get(), sig, nullptr, 0) != 0)
    return sys_error("signal container " + st.id);
  return Status{};
}

Status signal_all(const GlobalOptions& g, const ContainerState& st, int sig) {
  auto m = open_cgroup(g, st);
  if (!m) return signal_init(st, sig);
  // Freezing first means nothing forks away between listing and signalling.
  auto fr = (*m)->frozen();
  bool was_frozen = fr.ok() && *fr;
  bool froze = !was_frozen && (*m)->freeze(true).ok();
  auto pids = (*m)->pids();
  if (pids.ok())
    for (pid_t p : *pids) ::kill(p, sig);
  if (froze || (was_frozen && sig == SIGKILL)) (void)(*m)->freeze(false);
  if (!pids.ok()) return signal_init(st, sig);
  return Status{};
}

void wait_gone(const ContainerState& st, int timeout_ms) {
  UniqueFd pfd(static_cast<int>(::syscall(SYS_pidfd_open, st.pid, 0)));
  if (!pfd) return;
  struct pollfd p = {pfd.get(), POLLIN, 0};
  // The init may be a zombie waiting for its parent (conmon/shim) to reap
  // it; process_alive treats zombies as gone, so poll in short steps.
  for (int waited = 0; waited < timeout_ms && process_alive(st.pid, st.pid_start); waited += 20)
    ::poll(&p, 1, 20);
}

Result<ContainerState> load_checked(const GlobalOptions& g, const std::string& id) {
  return load_state(g.root, id);
}

}  // namespace

Status kill(const GlobalOptions& g, const std::string& id, int sig, bool all) {
  TRY_ASSIGN(ContainerState st, load_checked(g, id));
  CStatus s = container_status(g.root, st);
  if (s == CStatus::stopped && !all) return Error(Errc::not_found, "container " + id + " is not running");
  if (all) return signal_all(g, st, sig);
  return signal_init(st, sig);
}

Status remove(const GlobalOptions& g, const std::string& id, bool force) {
  TRY(validate_id(id));
  auto loaded = load_state(g.root, id);
  std::string dir = container_dir(g.root, id);
  if (!loaded) {
    if (force && loaded.error().code == Errc::not_found) {
      if (path_exists(dir)) return remove_all(dir);
      return Status{};
    }
    return std::move(loaded).error();
  }
  ContainerState& st = *loaded;
  CStatus s = container_status(g.root, st);
  if ((s == CStatus::running || s == CStatus::paused) && !force)
    return Error(Errc::busy, std::string("cannot delete container ") + id + " that is not stopped: " + status_name(s));
  if (s != CStatus::stopped) {
    (void)signal_all(g, st, SIGKILL);
    wait_gone(st, 10000);
  }
  if (st.poststop_hooks != false) {  // unknown (an older state.json) or true
    auto spec = saved_spec(g, id);
    if (spec.ok() && !spec->hooks.poststop.empty()) {
      auto hs = run_hooks(spec->hooks.poststop, state_json(st, CStatus::stopped).dump(), "poststop");
      if (!hs.ok()) log_warning("container " + id + ": " + hs.error().str());
    }
  }
  if (auto m = open_cgroup(g, st); m.ok()) {
    // Stragglers (e.g. exec'd processes outside the pid namespace) die too.
    for (int i = 0; i < 100; ++i) {
      auto pids = (*m)->pids();
      if (!pids.ok() || pids->empty()) break;
      for (pid_t p : *pids) ::kill(p, SIGKILL);
      (void)(*m)->freeze(false);
      ::usleep(10000);
    }
    auto d = (*m)->destroy();
    if (!d.ok()) log_warning("container " + id + ": " + d.error().str());
  }
  return remove_all(dir);
}

Result<json> state(const GlobalOptions& g, const std::string& id) {
  TRY_ASSIGN(ContainerState st, load_checked(g, id));
  return state_json(st, container_status(g.root, st));
}

Result<std::vector<json>> list(const GlobalOptions& g) {
  TRY_ASSIGN(auto ids, list_ids(g.root));
  std::vector<json> out;
  for (const auto& id : ids) {
    auto st = load_state(g.root, id);
    if (!st.ok()) continue;
    out.push_back(state_json(*st, container_status(g.root, *st)));
  }
  return out;
}

Status pause(const GlobalOptions& g, const std::string& id) {
  TRY_ASSIGN(ContainerState st, load_checked(g, id));
  CStatus s = container_status(g.root, st);
  if (s != CStatus::running) return Error(Errc::invalid_argument, "container " + id + " is not running");
  TRY_ASSIGN(auto m, open_cgroup(g, st));
  return m->freeze(true);
}

Status resume(const GlobalOptions& g, const std::string& id) {
  TRY_ASSIGN(ContainerState st, load_checked(g, id));
  CStatus s = container_status(g.root, st);
  if (s != CStatus::paused) return Error(Errc::invalid_argument, "container " + id + " is not paused");
  TRY_ASSIGN(auto m, open_cgroup(g, st));
  return m->freeze(false);
}

Result<std::vector<pid_t>> pids(const GlobalOptions& g, const std::string& id) {
  TRY_ASSIGN(ContainerState st, load_checked(g, id));
  auto m = open_cgroup(g, st);
  if (m.ok()) return (*m)->pids();
  if (!is_rootless(g)) return std::move(m).error();
  // Rootless without a cgroup: the processes are those in the init's pid
  // namespace (exec joins it); without one of its own, only the init is known.
  std::vector<pid_t> out;
  if (!process_alive(st.pid, st.pid_start)) return out;
  if (!st.has_pid_ns) return std::vector<pid_t>{st.pid};
  auto ns_of = [](pid_t p) {
    char buf[64] = {};
    std::string link = "/proc/" + std::to_string(p) + "/ns/pid";
    ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  };
  std::string want = ns_of(st.pid);
  if (want.empty()) return sys_error("container " + id + ": read the init's pid namespace");
  DIR* d = ::opendir("/proc");
  if (!d) return sys_error("open /proc");
  while (struct dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long p = std::strtol(e->d_name, &end, 10);
    if (p > 0 && *end == 0 && ns_of(static_cast<pid_t>(p)) == want) out.push_back(static_cast<pid_t>(p));
  }
  ::closedir(d);
  return out;
}

Status update(const GlobalOptions& g, const std::string& id, const json& resources) {
  TRY_ASSIGN(ContainerState st, load_checked(g, id));
  if (container_status(g.root, st) == CStatus::stopped)
    return Error(Errc::invalid_argument, "container " + id + " is not running");
  TRY_ASSIGN(auto m, open_cgroup(g, st));
  return m->update(resources);
}

Result<json> stats(const GlobalOptions& g, const std::string& id) {
  TRY_ASSIGN(ContainerState st, load_checked(g, id));
  TRY_ASSIGN(auto m, open_cgroup(g, st));
  TRY_ASSIGN(json data, m->stats());
  return json{{"type", "stats"}, {"id", id}, {"data", data}};
}

}  // namespace berth::runtime
