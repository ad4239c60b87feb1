// berth/cgroup: one Manager per container cgroup, over cgroup v1, v2 or a
// hybrid host (v1 controllers plus a v2 mount with few or no controllers).
//
// Promises:
//  - The host layout is detected once (/proc/self/mountinfo, /sys/fs/cgroup).
//  - create() makes the cgroup(s) for an OCI cgroupsPath ("/a/b", a relative
//    path placed under berth's own subtree, or systemd "slice:prefix:name"
//    which is mapped onto cgroupfs when systemd is absent) and applies
//    linux.resources; open() finds an existing one again from another process.
//  - Only cgroups berth created are ever written or removed; the exceptions
//    the kernel requires are "+controller" in cgroup.subtree_control of v2
//    ancestors, and adopting an existing leaf that has no processes (a
//    leftover from a crashed start). A leaf with processes is refused
//    (Errc::already_exists). A failed create() removes what it made.
//  - Resources the host cannot apply are errors naming the field and the
//    missing controller, never silently dropped (docs/cgroups.md lists the
//    few documented no-ops, e.g. kernel memory).
//  - Resources take the OCI runtime-spec JSON (config.json linux.resources).
//    As in runc, the device cgroup is always managed: the config's rules,
//    then the default devices (null, zero, full, random, urandom, tty,
//    ptmx, pts, tun; mknod of any node), on a deny-all base.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/fd.h"

namespace berth::cgroup {

enum class Layout { v1, v2, hybrid };
Layout host_layout();

// The runtime-spec features.json "linux.cgroup" object: what berth supports
// (not what this host mounts): {"v1": true, "v2": true, "systemd": false,
// "systemdUser": false, "rdma": true}. systemd is false because berth maps
// systemd paths onto cgroupfs itself instead of talking to systemd.
nlohmann::json features();

class Manager {
 public:
  virtual ~Manager() = default;
  // Creates the cgroup(s) and applies resources (null/absent = none).
  static Result<std::unique_ptr<Manager>> create(const std::string& cgroups_path, const std::string& container_id,
                                                 const nlohmann::json& resources, bool systemd_path = false);
  // Reopens a cgroup made by create() (e.g. from `berth-runtime kill --all`).
  static Result<std::unique_ptr<Manager>> open(const std::string& cgroups_path, const std::string& container_id,
                                               bool systemd_path = false);

  virtual Status add_process(pid_t pid) = 0;       // moves pid into every controller

  // The cheap way for a new process to join. A cgroup.procs write that moves
  // another process takes the kernel's global threadgroup lock for writing,
  // and its first use costs an RCU grace period: 6–14 ms per container on
  // this host (docs/benchmarks.md). Instead the unified hierarchy is entered
  // at birth, clone3(CLONE_INTO_CGROUP) with `clone_into`, and each v1
  // hierarchy by the new, still single-threaded child writing "0" to the
  // `tasks` fds (enter_self): a thread moving itself needs no global lock.
  struct Entry {
    UniqueFd clone_into;          // unified-hierarchy cgroup directory, or -1
    std::vector<UniqueFd> tasks;  // each v1 hierarchy's `tasks`, opened for writing
  };
  virtual Result<Entry> entry() const = 0;
  // In the child, right after clone: one write of "0" per fd. Allocates nothing.
  static Status enter_self(const int* tasks_fds, size_t n);
  virtual Status update(const nlohmann::json& resources) = 0;  // live `update`
  virtual Status freeze(bool frozen) = 0;          // pause / resume; waits for FROZEN
  virtual Result<bool> frozen() = 0;
  virtual Result<std::vector<pid_t>> pids() = 0;   // every process, recursively
  // The "data" object of `runc events --stats` (runc's types.Stats JSON).
  virtual Result<nlohmann::json> stats() = 0;
  // rmdir of the cgroup and any nested ones; Errc::busy while processes remain.
  virtual Status destroy() = 0;
  // Signals every process. SIGKILL uses cgroup.kill where the kernel has it;
  // otherwise the cgroup is frozen first so nothing forks away, then thawed.
  virtual Status kill(int signal);
  // Path of the cgroup in the unified hierarchy or the v1 "name=systemd"/
  // memory hierarchy, as a process inside sees it (for /proc/self/cgroup checks).
  virtual std::string path() const = 0;
  // Paths to mount for the container's cgroup mount: controller -> host dir.
  // The first element is where it goes below the container's /sys/fs/cgroup:
  // the v1 hierarchy's mount name ("cpu,cpuacct", "memory", "systemd",
  // "unified" on hybrid hosts), or "" for the single v2 mount itself.
  virtual std::vector<std::pair<std::string, std::string>> mounts() const = 0;
};

}  // namespace berth::cgroup
