// berth/engine: named and anonymous volumes (`berth volume ...`, `-v NAME:/p`,
// `-v /p`), Docker's "local" driver (docs/engine-cp-volumes.md).
//
// Layout: <root>/volumes/<name>/_data holds the data (Docker's layout, so
// tools that know it find it); the row in table `volumes` (component
// "volumes" of the store DB) holds name, driver, created_at, labels, options
// and whether it is anonymous.
//
// Promises:
//  - Names follow Docker's rule [a-zA-Z0-9][a-zA-Z0-9_.-]+ (at most 255
//    bytes); anonymous volumes get 64 random hex digits.
//  - create() is idempotent like `docker volume create NAME`: an existing
//    volume is returned (Volume::created says whether this call made it), also
//    when two processes race on the same name.
//  - Crash safety: create makes the directory first and then the row; remove
//    deletes the row, then renames the directory into <root>/volumes/.trash
//    and deletes it there. A `kill -9` at any point leaves at worst a
//    directory without a row, which sweep_orphans() (and a later create of
//    that name) moves away, so a new volume never inherits old data.
//    create/remove/prune/sweep are serialized by a flock on
//    <root>/volumes/.lock (held for milliseconds, never during a copy or a
//    tree deletion).
//  - "In use" is the engine's knowledge: set_users() installs a callback
//    returning the ids of containers (any state) that reference a volume.
//    Without one, no volume is in use.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "store/store.h"

namespace berth::engine {

struct Volume {
  std::string name;
  std::string driver = "local";
  std::string mountpoint;  // <root>/volumes/<name>/_data
  int64_t created_at = 0;  // unix seconds
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> options;
  bool anonymous = false;
  // create(): true when this call made the volume (emit a "volume create"
  // event), false when it already existed.
  bool created = false;
};

// `docker volume inspect` shape: CreatedAt (RFC 3339), Driver, Labels,
// Mountpoint, Name, Options, Scope; plus Anonymous.
nlohmann::json volume_json(const Volume& v);

// `docker volume ls --filter`: every given condition must hold.
struct VolumeFilters {
  std::optional<bool> dangling;     // dangling=true: used by no container
  std::vector<std::string> labels;  // "k" (present) or "k=v" (equal)
  std::vector<std::string> names;   // substring of the name (any of them)
  // Parses Docker's "--filter key=value" strings (dangling, label, name).
  static Result<VolumeFilters> parse(const std::vector<std::string>& args);
};

struct PruneReport {
  std::vector<Volume> removed;  // for "volume destroy" events and the listing
  uint64_t reclaimed_bytes = 0;
};

class Volumes {
 public:
  using UsersFn = std::function<Result<std::vector<std::string>>(const std::string& volume)>;

  // Creates <root>/volumes and migrates the table. `store` must outlive this.
  static Result<Volumes> open(Store& store);
  void set_users(UsersFn users) { users_ = std::move(users); }

  static bool valid_name(std::string_view name);
  std::string dir(const std::string& name) const { return volumes_dir_ + "/" + name; }
  std::string data_dir(const std::string& name) const { return dir(name) + "/_data"; }

  // name "" picks a random one (anonymous volumes). invalid_argument for a bad
  // name; an existing name returns that volume (created=false), whatever
  // labels/anonymous were asked.
  Result<Volume> create(const std::string& name, const std::map<std::string, std::string>& labels = {},
                        bool anonymous = false, const std::map<std::string, std::string>& options = {});
  Result<Volume> get(const std::string& name);  // not_found: "no such volume: NAME"
  Result<std::vector<Volume>> list(const VolumeFilters& filters = {});  // by name
  // busy ("remove NAME: volume is in use - [ids]") unless force. Returns what
  // was removed, for the destroy event.
  Result<Volume> remove(const std::string& name, bool force = false);
  // Unused volumes matching the filters: anonymous ones only unless all
  // (Docker >= 23 `volume prune` / `--all`).
  Result<PruneReport> prune(bool all = false, const VolumeFilters& filters = {});
  // Bytes the volume's data occupies (allocated blocks, hard links once).
  Result<uint64_t> disk_usage(const std::string& name);

  // Docker's copy-up: on first use of an empty volume, the image's content at
  // the mount point (`ctr_path` inside the container rootfs `rootfs_dir`) is
  // copied in with owners, modes and times, and the mount point's own owner
  // and mode go to _data. Resolved inside the rootfs like `berth cp` (a
  // symlink at or above ctr_path never leads out of it). Nothing happens if
  // the volume is not empty or ctr_path is not a directory in the image.
  Status populate_from(const Volume& v, const std::string& rootfs_dir, const std::string& ctr_path);

  // Directories without a row (a create or remove cut short) and .trash
  // leftovers are deleted.
  Status sweep_orphans();

 private:
  Volumes(Store* s, std::string dir) : store_(s), volumes_dir_(std::move(dir)) {}
  Result<UniqueFd> lock();
  Result<std::optional<Volume>> load(const std::string& name);
  Result<std::vector<std::string>> users_of(const std::string& name);
  Result<bool> matches(const Volume& v, const VolumeFilters& f);
  Status trash(const std::string& name);  // rename <name> into .trash (under the lock)
  Status empty_trash();

  Store* store_;
  std::string volumes_dir_;
  UsersFn users_;
};

}  // namespace berth::engine
