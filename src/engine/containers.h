// berth/engine: container records in the store's metadata database.
//
// Promises:
//  - One row per container in table `containers` (component "engine"):
//    what berth decided about it. Every change is one transaction, so a
//    `kill -9` of any berth process leaves either the old or the new row.
//  - Names are unique; ids are 64 lowercase hex digits. lookup() accepts
//    the full id, a unique id prefix or the name (Docker's rule: an exact
//    name or id wins over a prefix).
//  - The row is not the whole truth while a container runs: the monitor
//    records the exit in <dir>/exit, and refresh() folds that in (see
//    lifecycle.h). Readers call refresh() before showing a state.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "metadata/db.h"

namespace berth::engine {

enum class State { created, running, paused, exited, removing };
const char* state_name(State s);
std::optional<State> parse_state(std::string_view s);

struct Container {
  std::string id;
  std::string name;
  std::string image;     // the reference as the user typed it, e.g. "busybox"
  std::string image_id;  // the config digest ("sha256:..."): Docker's image ID
  std::string manifest;  // the manifest digest, what keeps the image alive in GC
  State state = State::created;
  pid_t pid = 0;         // container init, while running
  int64_t pid_start = 0; // its start time (clock ticks), to detect pid reuse
  pid_t monitor_pid = 0;
  int exit_code = 0;
  int64_t created_ns = 0, started_ns = 0, finished_ns = 0;
  int restart_count = 0;
  bool oom_killed = false;
  // The resolved run configuration (RunOptions as JSON plus what create
  // decided: command, ports, volumes, network). Opaque to this table.
  nlohmann::json config = nlohmann::json::object();
};

class Containers {
 public:
  // Migrates the engine's tables on first use.
  static Result<Containers> open(metadata::DB& db);

  Status insert(const Container& c);  // already_exists on id or name clash
  Status update(const Container& c);  // every column by id; not_found
  Status remove(const std::string& id);
  Result<Container> get(const std::string& id);
  // Full id, name, or unique id prefix; not_found / invalid_argument (ambiguous).
  Result<Container> lookup(const std::string& ref);
  Result<std::vector<Container>> list();  // newest first
  Status rename(const std::string& id, const std::string& new_name);

  metadata::DB& db() { return *db_; }

 private:
  explicit Containers(metadata::DB* db) : db_(db) {}
  metadata::DB* db_;
};

std::string new_container_id();           // 64 random hex
std::string random_container_name();      // "adjective_noun", Docker's shape
bool valid_container_name(std::string_view name);  // [a-zA-Z0-9][a-zA-Z0-9_.-]*
int64_t now_ns();

}  // namespace berth::engine
