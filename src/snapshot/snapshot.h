// berth/snapshot: one read-only directory per layer chain, unpacked once.
//
// Layout (shared with the store's GC, which deletes unreferenced entries):
//   <root>/snapshots/<alg>/<chainid-hex>/fs/         the layer's own content,
//                                                    overlay-form whiteouts
//   <root>/snapshots/<alg>/<chainid-hex>/meta.json   chain id, parent, diff_id,
//                                                    blob digest, size
//   <root>/snapshots/tmp/<unique>/                   unpacks in progress
//
// Chain IDs (image-spec config.md "Layer ChainID"):
//   chainID(L0) = diffID(L0)
//   chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln))
// so a snapshot is shared by every image whose layers up to it are the same.
//
// Promises:
//  - A snapshot directory is visible only complete: the layer is applied in
//    snapshots/tmp/, its diff_id verified, meta.json written, everything
//    synced, and only then the directory is renamed into place. A failed or
//    mismatching layer leaves nothing under snapshots/<alg>/.
//  - Several processes may prepare the same image at once: each unpacks into
//    its own tmp dir, the first rename wins, the others discard their copy.
//  - unpack_flat() builds a plain root filesystem (what `berth unpack` and
//    `umoci unpack` produce) into a directory that appears only on success.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "content/store.h"
#include "digest/digest.h"

namespace berth::snapshot {

struct Layer {
  Digest blob;     // the manifest's layer descriptor digest (content store key)
  Digest diff_id;  // the config's rootfs.diff_ids entry for that layer
};

std::vector<Digest> chain_ids(const std::vector<Digest>& diff_ids);

// Opens a layer blob for reading. Normally blobs_of(store); tests pass their own.
using BlobOpener = std::function<Result<UniqueFd>(const Digest&)>;
inline BlobOpener blobs_of(const content::Store& store) {
  return [&store](const Digest& d) { return store.open_blob(d); };
}

struct Info {
  Digest chain_id;
  std::optional<Digest> parent;  // chain id of the layer below, none for the base
  Digest diff_id;
  Digest blob;
  uint64_t size = 0;  // bytes of the uncompressed layer tar
};

class Snapshotter {
 public:
  // `root` is the berth root; snapshots live in root/snapshots.
  static Result<Snapshotter> open(const std::string& root);

  std::string dir(const Digest& chain) const;      // root/snapshots/<alg>/<hex>
  std::string fs_path(const Digest& chain) const;  // .../fs, an overlayfs lowerdir
  bool has(const Digest& chain) const;
  Result<Info> info(const Digest& chain) const;
  Result<std::vector<Digest>> list() const;

  // Removes a snapshot atomically: it is renamed into tmp/ first, so a crash
  // halfway through the deletion never leaves a partial snapshot that still
  // looks complete. Missing snapshots are not an error. (GC should use this,
  // or do the same rename-then-delete.)
  Status remove(const Digest& chain) const;
  // Deletes tmp/ entries older than max_age_seconds: unpacks and removals
  // of processes that crashed.
  Status expire_tmp(int64_t max_age_seconds) const;

  // Unpacks every layer not already present (each distinct chain exactly
  // once) and returns the lowerdirs, topmost first, as overlayfs wants them.
  Result<std::vector<std::string>> prepare(const std::vector<Layer>& layers, const BlobOpener& blobs) const;

 private:
  explicit Snapshotter(std::string root) : root_(std::move(root)) {}
  Status unpack_one(const Layer& layer, const Digest& chain, const std::optional<Digest>& parent,
                    const BlobOpener& blobs) const;
  std::string root_;  // .../snapshots
};

struct FlatOptions {
  std::optional<bool> rootless;  // default: geteuid() != 0 (see layer::ApplyOptions)
};

// Applies `layers` bottom-up in flatten mode into `dir`, which must not exist.
// The tree is built beside it and renamed into place only when every layer
// applied and matched its diff_id.
Status unpack_flat(const std::vector<Layer>& layers, const BlobOpener& blobs, const std::string& dir,
                   const FlatOptions& opts = {});

}  // namespace berth::snapshot
