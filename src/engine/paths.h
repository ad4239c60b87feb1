// berth/engine: where a store's containers live on disk (docs/engine.md).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::engine {

struct Paths {
  std::string root;  // the store root
  std::string run;   // per-boot state: /run/berth/<hash of root> (tmpfs, gone after a reboot)

  std::string containers() const { return root + "/containers"; }
  std::string dir(const std::string& id) const { return containers() + "/" + id; }
  std::string merged(const std::string& id) const { return dir(id) + "/merged"; }
  std::string upper(const std::string& id) const { return dir(id) + "/upper"; }
  std::string work(const std::string& id) const { return dir(id) + "/work"; }
  // The OCI bundle is the container dir itself (config.json beside the rest;
  // root.path is absolute). Containers made before 2026-11-22 have bundle/.
  std::string bundle(const std::string& id) const { return dir(id); }
  std::string legacy_bundle(const std::string& id) const { return dir(id) + "/bundle"; }
  std::string log(const std::string& id) const { return dir(id) + "/ctr.log"; }
  std::string exit_file(const std::string& id) const { return dir(id) + "/exit"; }
  std::string health_file(const std::string& id) const { return dir(id) + "/health.json"; }
  // Present while the user stopped or killed the container: no restart policy applies.
  std::string stopped_marker(const std::string& id) const { return dir(id) + "/stopped"; }
  // Shared, immutable init layers (create.cc), one per set of missing mount points.
  std::string init_layers() const { return root + "/init-layers"; }
  std::string events() const { return root + "/events.jsonl"; }
  std::string volumes() const { return root + "/volumes"; }
  std::string runtime_root() const { return run + "/runtime"; }
  std::string netns_dir() const { return run + "/netns"; }
  std::string netns(const std::string& id) const { return netns_dir() + "/" + id; }
  std::string cni_state() const { return run + "/cni"; }
  std::string console_socket(const std::string& id) const { return run + "/console-" + id.substr(0, 16) + ".sock"; }
};

// Replaces path atomically (temp file + rename) without fsync: for files
// berth regenerates or can do without after a power loss (bundle, /etc files,
// exit records). Durable state goes through the database or atomic_write_file.
Status write_ephemeral(const std::string& path, std::string_view data, mode_t mode = 0644);
// For files nobody can be reading yet (a new container's /etc files): created
// in place when absent (no temp name, no rename), else write_ephemeral.
Status write_fresh(const std::string& path, std::string_view data, mode_t mode = 0644);

// run = $BERTH_RUN if set, else /run/berth/<first 16 hex of sha256(root)>
// for root, $XDG_RUNTIME_DIR/berth/<...> otherwise: one store's containers
// never see another store's runtime state.
Paths paths_for(const std::string& store_root);

}  // namespace berth::engine
