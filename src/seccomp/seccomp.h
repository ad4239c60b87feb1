// berth/seccomp: the OCI linux.seccomp object compiled to a BPF program.
//
// Promises:
//  - compile() runs in the runtime's parent process once per start/exec and
//    validates everything (unknown syscall names are skipped as runc does,
//    unknown actions/architectures/operators/flags are errors naming the
//    offending value); the child only calls load(), which is async-signal-safe
//    (no allocation) so it can run between fork/clone and exec.
//  - All runtime-spec actions (SCMP_ACT_KILL, KILL_PROCESS, KILL_THREAD, TRAP,
//    ERRNO(errnoRet), TRACE, ALLOW, LOG, NOTIFY), argument conditions and
//    flags (SECCOMP_FILTER_FLAG_LOG, SPEC_ALLOW, WAIT_KILLABLE_RECV, TSYNC).
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace berth::seccomp {

struct Program {
  std::vector<struct sock_filter> filter;
  unsigned int flags = 0;      // SECCOMP_FILTER_FLAG_*
  bool notify = false;         // needs a listener fd sent to listenerPath
  std::string listener_path;   // linux.seccomp.listenerPath
  std::string listener_metadata;
  // Syscall names the local libseccomp does not know; skipped, as runc does,
  // so a profile written for a newer kernel still loads. Callers may warn.
  std::vector<std::string> skipped_syscalls;
};

// With a cache_dir (the runtime's <root>/.seccomp), a profile compiled
// before under the same libseccomp, kernel and berth build is read back
// instead of compiled (cache.h); a missing or corrupt entry is recompiled and
// rewritten, never an error. Empty: no cache.
Result<Program> compile(const nlohmann::json& seccomp, const std::string& cache_dir = {});

// In the child after setting no_new_privs (or holding CAP_SYS_ADMIN). Returns
// the notify listener fd when the program has NOTIFY actions, else -1; a
// negative errno on failure, never -1 (an EPERM failure, which would read as
// -1, is reported as -EACCES). Allocates nothing.
int load(const Program& p);

// Hands the notify listener fd (from load() in the container process,
// passed back to the runtime) to the agent at p.listener_path, as the
// runtime-spec "container process state": one SCM_RIGHTS message carrying the
// fd and {"ociVersion", "fds": ["seccompFd"], "pid", "metadata", "state"}.
Status send_listener(const Program& p, int listener_fd, pid_t pid, const nlohmann::json& state);

// Docker's default profile (allow-list, default action ERRNO(EPERM)) as an OCI
// linux.seccomp object for the given capability set, used by the engine.
nlohmann::json default_profile(const std::vector<std::string>& capabilities);

// The runtime-spec features.json "linux.seccomp" object: enabled, actions,
// operators, archs, knownFlags, supportedFlags (what this kernel accepts).
nlohmann::json features();

}  // namespace berth::seccomp
