#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include "cgroup/impl.h"
#include "cgroup/paths.h"

namespace berth::cgroup {
namespace {

Result<std::unique_ptr<Manager>> make(const std::string& cgroups_path, const std::string& container_id,
                                      const nlohmann::json* resources, bool systemd_path) {
  const HostLayout* host = cgroup::host();
  if (!host) {
    auto d = detect();
    return d.ok() ? Error(Errc::internal, "cgroup: host layout detection failed") : std::move(d).error();
  }
  TRY_ASSIGN(std::string path, resolve_path(cgroups_path, container_id, systemd_path));
  Resources res;
  if (resources) {
    TRY_ASSIGN(res, parse_resources(*resources));
    add_default_devices(res);
  }
  if (host->layout == Layout::v2) return detail::make_v2(*host, path, resources != nullptr, res);
  return detail::make_v1(*host, path, resources != nullptr, res);
}

}  // namespace

nlohmann::json features() {
  // What this implementation supports (runtime-spec features.md), not what
  // this host happens to mount: both versions are implemented.
  return nlohmann::json{{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}, {"rdma", true}};
}

Result<std::unique_ptr<Manager>> Manager::create(const std::string& cgroups_path, const std::string& container_id,
                                                 const nlohmann::json& resources, bool systemd_path) {
  return make(cgroups_path, container_id, &resources, systemd_path);
}

Result<std::unique_ptr<Manager>> Manager::open(const std::string& cgroups_path, const std::string& container_id,
                                               bool systemd_path) {
  return make(cgroups_path, container_id, nullptr, systemd_path);
}

Status Manager::enter_self(const int* tasks_fds, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    ssize_t w;
    do w = ::write(tasks_fds[i], "0", 1);
    while (w < 0 && errno == EINTR);
    if (w == 1) continue;
    int err = errno;
    char target[256] = "?";
    std::string link = "/proc/self/fd/" + std::to_string(tasks_fds[i]);
    ssize_t len = ::readlink(link.c_str(), target, sizeof target - 1);
    if (len > 0) target[len] = 0;
    return sys_error(std::string("cgroup: join ") + target, err);
  }
  return Status{};
}

Status Manager::kill(int signal) {
  // Freezing first means no process can fork a child we would miss; a
  // cgroup without a freezer is signalled best-effort. A paused container
  // stays paused, except that SIGKILL must thaw it for the tasks to die.
  auto was = frozen();
  bool was_frozen = was.ok() && *was;
  bool froze = !was_frozen && freeze(true).ok();
  TRY_ASSIGN(std::vector<pid_t> pids, this->pids());
  Status result;
  for (pid_t p : pids)
    if (::kill(p, signal) != 0 && errno != ESRCH && result.ok()) result = sys_error("cgroup: kill " + std::to_string(p));
  if (froze || (was_frozen && signal == SIGKILL)) {
    auto s = freeze(false);
    if (!s.ok() && result.ok()) result = std::move(s);
  }
  return result;
}

}  // namespace berth::cgroup
