// berth/runtime: the per-container state directory under --root.
//
// Layout: <root>/<id>/state.json (written atomically), <root>/<id>/config.json
// (the spec as it was at create time, so delete can run poststop hooks even if
// the bundle is gone) and <root>/<id>/exec.fifo while the container is
// "created". Status is never stored: it is derived from the init pid (checked
// against its /proc start time so a recycled pid reads as stopped), the fifo
// and the cgroup freezer.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace berth::runtime {

enum class CStatus { creating, created, running, paused, stopped };
const char* status_name(CStatus s);

struct ContainerState {
  std::string id;
  pid_t pid = 0;
  unsigned long long pid_start = 0;  // /proc/<pid>/stat field 22
  std::string bundle;
  std::string rootfs;
  std::string created;  // RFC 3339 with nanoseconds
  std::string owner;
  std::map<std::string, std::string> annotations;
  std::string cgroups_path;
  bool systemd_cgroup = false;
  bool has_pid_ns = false;  // kill --all can then just kill the init
  // Whether config.json has poststart/poststop hooks; unset in states written
  // before this was recorded. start and delete then skip re-reading and
  // re-parsing the saved config (~0.3 ms each for Docker's default spec).
  std::optional<bool> poststart_hooks, poststop_hooks;
};

// Container ids: [A-Za-z0-9][A-Za-z0-9_.+-]*, at most 1024 bytes (runc's rule);
// this also keeps ids from naming paths outside the root.
Status validate_id(const std::string& id);
std::string container_dir(const std::string& root, const std::string& id);
std::string fifo_path(const std::string& root, const std::string& id);
// <root>/.seccomp: compiled seccomp programs (seccomp::compile's cache). Ids
// cannot start with '.', so it never reads as a container.
std::string seccomp_cache_dir(const std::string& root);

// Atomic replace (temp + rename) without fsync: for files in the state
// directory, which a reboot makes meaningless anyway.
Status write_state_file(const std::string& path, std::string_view data, mode_t mode);
Status save_state(const std::string& root, const ContainerState& st);
Result<ContainerState> load_state(const std::string& root, const std::string& id);
Result<std::vector<std::string>> list_ids(const std::string& root);

// Start time of pid from /proc/<pid>/stat, 0 if it is gone or a zombie.
unsigned long long process_start_time(pid_t pid);
bool process_alive(pid_t pid, unsigned long long start);

CStatus container_status(const std::string& root, const ContainerState& st);
// runc's `state` JSON.
nlohmann::json state_json(const ContainerState& st, CStatus s);
std::string now_rfc3339();

}  // namespace berth::runtime
