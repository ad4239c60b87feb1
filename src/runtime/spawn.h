// berth/runtime (internal): cloning the container init and talking to it.
#pragma once

#include <linux/sched.h>

#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>

#include "base/error.h"
#include "base/fd.h"
#include "runtime/spec.h"

namespace berth::cgroup {
class Manager;
}

namespace berth::runtime {

struct SpawnPlan {
  const Spec* spec = nullptr;
  const Process* process = nullptr;
  std::optional<Process> process_copy;  // when the process was adjusted
  std::string rootfs, bundle, console_socket;
  int preserve_fds = 0;
  bool no_pivot = false;
  int fifo_fd = -1;
  cgroup::Manager* cgroup = nullptr;
  int netns_fd = -1;  // Prepared::netns: joined instead of a new one (not owned)
  std::string seccomp_cache_dir;  // seccomp::compile's cache; empty: none
  // Runs in the parent once the rootfs is mounted (prestart, createRuntime).
  std::function<Status(pid_t)> before_hooks;
  // The state JSON handed to the child for startContainer hooks.
  std::function<std::string()> state_for_child;
};

struct Child {
  pid_t pid = 0;
  UniqueFd pidfd;
};

// *pid_out is set as soon as the child exists, so the caller can kill it on
// any later failure.
Result<Child> spawn_init(SpawnPlan& plan, pid_t* pid_out);

// clone3 born in the cgroup dir `cgroup_fd` (CLONE_INTO_CGROUP; see
// cgroup::Manager::Entry) when it is >= 0. If the kernel refuses (before 5.7,
// or a cgroup it will not clone into) a plain clone3 follows and
// *procs_write is set: the caller must move the child with cgroup.procs.
// Returns what clone3 does (0 in the child, -1 with errno).
long clone3_into_cgroup(struct clone_args& args, int cgroup_fd, bool* procs_write);

// CVE-2019-5736 in a process that runs this binary inside a container before
// it execs the container's program (the init; an exec'd process, which is
// visible in the container's pid namespace from its clone on): while alive,
// the parent is not dumpable, so the child is not either from birth (the flag
// is copied at clone). A container process without CAP_SYS_PTRACE then cannot
// open /proc/<pid>/exe, the host's berth binary, to overwrite it later; the
// container's program is dumpable again after execve. berth-runtime also
// re-execs from a sealed memfd; the engine runs this code in `berth` itself
// and relies on this (a privileged container can reach the host's disks
// anyway). Only as real root and without a user namespace in the container:
// a non-dumpable process's /proc files belong to the host's root, which a
// user namespace (rootless, or the container's own) cannot use.
class NotDumpableAround {
 public:
  explicit NotDumpableAround(bool wanted);
  ~NotDumpableAround();
  NotDumpableAround(const NotDumpableAround&) = delete;
  NotDumpableAround& operator=(const NotDumpableAround&) = delete;

 private:
  bool restore_ = false;
  pid_t owner_ = 0;  // the child leaves the scope too: only the parent restores
};

// Waits for pid (our child), forwarding the signals in `sigs` (already
// blocked) to it; returns its exit code or 128+signal.
int wait_forwarding(pid_t pid, const sigset_t& sigs);

Result<std::string> absolute_for_write(const std::string& p);
int read_cap_last_cap();
Result<UniqueFd> connect_console_socket(const std::string& path);
Result<UniqueFd> open_dev_null_verified();
// Moves fd to a number >= min (so it cannot collide with preserved fds).
int move_fd_above(int fd, int min);

void log_warning(const std::string& msg);
// uid_map/gid_map for a child in a new user namespace (newuidmap when unprivileged).
Status write_id_maps_for(pid_t pid, const Linux& l);

}  // namespace berth::runtime
