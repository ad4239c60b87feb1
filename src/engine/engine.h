// berth/engine: containers from stored images, with no daemon (docs/engine.md).
//
// An Engine is opened by each short-lived berth command on a Store. It owns
// no long-lived state: the database row says what was decided, the runtime
// state and the monitor's exit file say what happened since.
//
// Promises:
//  - create() leaves either a complete container (row, rootfs, bundle) or
//    nothing; its rootfs is an overlay over shared snapshots.
//  - start() returns once the container's process runs (detached: under a
//    berth-monitor that outlives the caller); run_foreground() makes the
//    calling process the monitor and returns the container's exit code.
//  - stop() sends the stop signal, then SIGKILL after the timeout, and
//    returns once the container has exited.
//  - Every state change appends an event to the journal.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "engine/ahead.h"
#include "engine/containers.h"
#include "engine/paths.h"
#include "image/resolve.h"
#include "store/store.h"

namespace berth::engine {

struct RunOptions;

struct ForegroundOptions {
  bool attach_stdin = false;  // -i: the container reads our stdin
  bool sig_proxy = true;      // forward our signals to the container
};

struct ExecRequest {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string user, workdir;
  bool tty = false, interactive = false, detach = false, privileged = false;
};

class Engine {
 public:
  static Result<Engine> open(Store& store);
  Engine(Engine&&) noexcept;
  ~Engine();

  Store& store() { return *store_; }
  const Paths& paths() const { return paths_; }
  Containers& containers() { return containers_; }

  // The container row plus what happened since it was written (exit file,
  // dead monitor, reboot). Does not write the database.
  Container refresh(Container c);
  Result<Container> lookup(const std::string& ref);

  // ahead: see engine/ahead.h; the container gets its id.
  Result<Container> create(const image::ResolvedImage& img, const std::string& image_ref, const RunOptions& o,
                           std::unique_ptr<Ahead> ahead = nullptr);
  Status start(const std::string& id);
  Result<int> run_foreground(const std::string& id, const ForegroundOptions& fo);
  Status stop(const std::string& id, std::optional<int> timeout_seconds);
  Status kill(const std::string& id, int sig);
  Status pause(const std::string& id);
  Status unpause(const std::string& id);
  Status remove(const std::string& id, bool force, bool volumes);
  // Container dirs a crashed rm/cleanup left half-removed (.removing-*): for prune.
  void sweep_removed_dirs();
  Result<int> wait(const std::string& id);
  // After the container exited: runtime state, mounts, network; then --rm
  // or the restart policy. Idempotent.
  Status cleanup(const std::string& id);
  Result<int> exec(const std::string& id, const ExecRequest& r);

  void event(const std::string& type, const std::string& action, const std::string& id,
             std::map<std::string, std::string> attrs = {});
  void container_event(const Container& c, const std::string& action, std::map<std::string, std::string> attrs = {});

 private:
  Engine(Store* s, Paths p, Containers c) : store_(s), paths_(std::move(p)), containers_(std::move(c)) {}
  Status prepare_start(Container& c);
  Status teardown(Container& c);
  Status remove_anonymous_volumes(const Container& c);
  Store* store_;
  Paths paths_;
  Containers containers_;
  // Specs made by create() for run_here --rm containers, by id (see RunOptions).
  std::map<std::string, std::string> unwritten_specs_;
  // Their network namespaces and cgroups in the making (engine/ahead.h).
  std::map<std::string, std::unique_ptr<Ahead>> ahead_;
};

// Where the berth binary and berth-monitor are: $BERTH_EXE / $BERTH_MONITOR,
// else /proc/self/exe and the berth-monitor beside it.
class Volumes;
// The store's volumes, with "in use" answered from the containers table.
Result<Volumes> open_volumes(Engine& e);

std::string berth_exe();
std::string monitor_exe();

}  // namespace berth::engine
