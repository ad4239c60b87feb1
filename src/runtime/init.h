// berth/runtime (internal): what the parent hands to the cloned container init
// and the pieces of the child-side setup.
//
// The parent (berth-runtime create/run/exec) is single-threaded when it clones,
// so the child is a full copy of a single-threaded process and may allocate;
// nothing here runs in a vfork-style shared address space.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/error.h"
#include "runtime/spec.h"
#include "seccomp/seccomp.h"

namespace berth::runtime {

// Messages on the parent<->child socketpair: one byte tag, then for 'E' a
// one-line error message, for 'S' the child's seccomp notify listener fd
// number (the parent copies it with pidfd_getfd); the child goes on only
// after 'D', once the agent at listenerPath holds it, so the process never
// runs without its agent.
enum SyncTag : char {
  kSyncGo = 'G',        // parent -> child: mappings written, cgroup joined
  kSyncMounted = 'M',   // child -> parent: rootfs mounted, run createRuntime hooks
  kSyncHooksDone = 'H', // parent -> child: hooks ran, pivot and finish
  kSyncReady = 'R',     // child -> parent: blocked on exec.fifo (or exec'ing)
  kSyncSeccomp = 'S',   // child -> parent: the notify listener, for listenerPath
  kSyncSeccompPass = 'P',  // parent -> child: pidfd_getfd refused, send it (SCM_RIGHTS)
  kSyncSeccompDone = 'D',  // parent -> child: the agent has the listener
  kSyncError = 'E',
};

struct InitConfig {
  const Spec* spec = nullptr;
  const Process* process = nullptr;  // spec->process, or the exec process
  std::string rootfs;                // absolute, host view
  std::string bundle;
  int sync_fd = -1;
  int fifo_fd = -1;          // O_RDWR exec.fifo; -1 to exec right away
  int console_fd = -1;       // connected --console-socket, when terminal
  int preserve_fds = 0;      // fds 3..3+n-1 survive into the process
  bool no_pivot = false;
  bool has_seccomp = false;
  seccomp::Program seccomp;
  std::vector<std::pair<NsType, int>> join_ns;  // setns() targets, opened by the parent
  bool netns_ready = false;  // the new network namespace is in join_ns, lo up (Prepared)
  int unshare_flags = 0;     // namespaces made in the child after clone (cgroup)
  bool userns = false;       // the child is in a (new or joined) user namespace
  std::vector<std::pair<std::string, std::string>> cgroup_mounts;  // controller -> host dir
  std::vector<int> cgroup_tasks;  // v1 `tasks` fds the child writes "0" to (cgroup::Manager::Entry)
  int cap_last_cap = 40;
  int null_fd = -1;          // host /dev/null, verified char 1:3 (maskedPaths)
};

// The container init: never returns (execs the process or _exits after
// reporting the error on sync_fd).
[[noreturn]] void container_init(InitConfig& cfg);
// The `exec` child, already in the container's namespaces and cgroup.
[[noreturn]] void exec_init(InitConfig& cfg);

// Pieces (rootfs.cc, process.cc); each returns an error naming what failed.
Status prepare_rootfs(const InitConfig& cfg);   // propagation, rootfs bind, mounts, /dev
Status finish_rootfs(const InitConfig& cfg);    // pivot_root, masked/readonly, sysctl, ro root
Status setup_console(const InitConfig& cfg);    // pty, send master, make it stdio
Status setup_process(const InitConfig& cfg);    // cwd (verified), rlimits, oom, personality; still root
Status drop_privileges(const InitConfig& cfg);  // groups, uid/gid, caps, no_new_privs, seccomp
// PATH lookup in the process env, in the container's view; done before the
// container is reported ready so `create` fails on a missing program.
Result<std::string> find_executable(const Process& p);
// Returns only on failure.
Error exec_process(const Process& p, const std::string& path);
// Writes "exec <profile>" for AppArmor when the host has it enabled.
Status apply_apparmor(const std::string& profile);

// Sync helpers (child side aborts the init on error).
Status sync_send(int fd, char tag, std::string_view msg = {});
Result<char> sync_recv(int fd, std::string* msg = nullptr);
// Child side once its seccomp filter may be live: write(2), the one syscall
// compile() refuses to NOTIFY (runc's rule), so no agent is needed to pass.
// A dead parent means SIGPIPE, which ends the child as it should.
Status sync_write(int fd, char tag, std::string_view msg = {});
[[noreturn]] void child_fail(int sync_fd, const Error& e);
// Parent side, until kSyncReady: a kSyncSeccomp listener on the way is
// copied from the child (pidfd), sent to prog's listenerPath with the
// container process state (pid: the new process; state: state_json() text)
// and acknowledged. 'E' and anything unexpected are errors.
Status await_ready(int sync_fd, int pidfd, const seccomp::Program* prog, pid_t pid,
                   const std::function<std::string()>& state_json);

// Close every fd >= first except those listed (CVE-2024-21626).
void close_fds_from(int first, const std::vector<int>& keep);

}  // namespace berth::runtime
