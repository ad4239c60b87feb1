// berth/runtime: the runc-compatible container lifecycle.
//
// Promises (runc semantics):
//  - create() leaves the container "created": namespaces, rootfs, cgroup and
//    the createRuntime/createContainer hooks are done, and its init process is
//    blocked on <root>/<id>/exec.fifo; start() releases it.
//  - A failed create leaves nothing behind: no state dir, cgroup or process.
//  - The caller must be single-threaded: the init is cloned, not vforked.
//  - Every error names the container and what failed.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/fd.h"
#include "cgroup/cgroup.h"
#include "runtime/spec.h"
#include "runtime/state.h"

namespace berth::runtime {

struct GlobalOptions {
  std::string root = "/run/berth-runtime";
  bool systemd_cgroup = false;
  // runc's --rootless: a cgroup that cannot be made is no error while the
  // config asks for no limit. Unset means auto: not root, or in a user namespace.
  std::optional<bool> rootless;
};

bool is_rootless(const GlobalOptions& g);

// What an in-process caller made before create(), on another thread while it
// prepared the rest (the engine: docs/engine.md, "Made ahead"). Each is what
// create() would otherwise make itself, so the container is the same.
struct Prepared {
  // A new network namespace with lo up (new_network_namespace()), used for a
  // "network" entry without a path. Not with a user namespace in the spec:
  // the init could not join a namespace owned by ours.
  UniqueFd netns;
  // prepare_cgroup() for the same id, linux.cgroupsPath and linux.resources.
  std::unique_ptr<cgroup::Manager> cgroup;
  Prepared();
  Prepared(Prepared&&) noexcept;
  Prepared& operator=(Prepared&&) noexcept;
  ~Prepared();  // removes a cgroup create() did not take
};
// The cgroup create() makes: linux.resources with the default device rules.
Result<std::unique_ptr<cgroup::Manager>> prepare_cgroup(const GlobalOptions& g, const std::string& id,
                                                        const std::string& cgroups_path, nlohmann::json resources);
// Whether the caller can move a process into every directory of m: rootless,
// a cgroup it cannot (one of the same name made by root, say) is not the
// container's, and is neither used, listed, signalled nor removed.
bool cgroup_is_callers(const cgroup::Manager& m);

struct CreateOptions {
  std::string id;
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
  // In-process callers (the engine, `run`): the config text itself, used
  // instead of reading <bundle>/config.json (saves writing and reading it).
  std::string config_text;
  // In-process callers that start at once: the init waits on a pipe instead
  // of <root>/<id>/exec.fifo, and *start_fd gets the pipe's write end for
  // start_with(). No fifo means `state` reports such a container "running"
  // from create on; it is started within the same call anyway.
  int* start_fd = nullptr;
  // Taken by create() (moved from): see Prepared.
  Prepared* prepared = nullptr;
};

Result<pid_t> create(const GlobalOptions& g, const CreateOptions& o);
Status start(const GlobalOptions& g, const std::string& id);
// start() for a container created with CreateOptions::start_fd; takes the fd.
Status start_with(const GlobalOptions& g, const std::string& id, int start_fd);
// create + start, then (unless detach) wait, forwarding signals; returns the
// exit code (128+signal when killed). The container is deleted afterwards
// unless keep.
Result<int> run(const GlobalOptions& g, const CreateOptions& o, bool detach, bool keep);
Status kill(const GlobalOptions& g, const std::string& id, int sig, bool all);
Status remove(const GlobalOptions& g, const std::string& id, bool force);
Result<nlohmann::json> state(const GlobalOptions& g, const std::string& id);
Result<std::vector<nlohmann::json>> list(const GlobalOptions& g);
Status pause(const GlobalOptions& g, const std::string& id);
Status resume(const GlobalOptions& g, const std::string& id);
Result<std::vector<pid_t>> pids(const GlobalOptions& g, const std::string& id);
Status update(const GlobalOptions& g, const std::string& id, const nlohmann::json& resources);
Result<nlohmann::json> stats(const GlobalOptions& g, const std::string& id);

struct ExecOptions {
  std::string id;
  std::string process_file;        // --process: a runtime-spec process JSON
  std::vector<std::string> args;   // otherwise: the command
  std::string cwd;
  std::vector<std::string> env;
  std::string user;                // uid[:gid]
  std::vector<uint32_t> additional_gids;
  std::vector<std::string> caps;
  bool tty = false;
  bool detach = false;
  bool no_new_privs = false;
  bool ignore_paused = false;  // allow exec into a paused (frozen) container
  std::string console_socket;
  std::string pid_file;
  std::string apparmor;
  int preserve_fds = 0;
};
// Returns the process's exit code, or 0 once it started when detached.
Result<int> exec(const GlobalOptions& g, const ExecOptions& o);

// Loads the config.json saved at create time.
Result<Spec> saved_spec(const GlobalOptions& g, const std::string& id);

}  // namespace berth::runtime
