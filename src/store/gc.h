// berth/store: garbage collection — mark from names and leases, sweep the rest.
//
// Roots: every image name's target; every resource of an unexpired lease;
// GcOptions::extra_roots and each GcOptions::providers callback (the engine
// adds containers' images and rootfs snapshots, the builder its cache records).
// From each blob root the walk follows descriptors generically (any JSON blob,
// whatever its media type): `manifests[]` (index / manifest list), `config`,
// `layers[]`, `blobs[]`. A config's `rootfs.diff_ids` yields the chain IDs of
// its snapshots (image-spec config.md), which are marked as
// <root>/snapshots/<alg>/<hex>. Layers are never read (only JSON media types
// and descriptor-less roots are opened, and only up to 4 MiB).
//
// Referrers (manifests whose `subject` names another manifest: signatures,
// SBOMs) are kept exactly as long as their subject is reachable: they are part
// of the image as a registry would serve it, and `subject` is the only link to
// them. A referrer whose subject is gone is garbage.
//
// Sweep: unreachable blobs, unreachable snapshot directories (renamed into
// <root>/gc-trash first, then removed even when they contain read-only dirs),
// expired leases, and ingests older than ingest_max_age not held by a live
// writer nor leased. A reachable manifest or index that cannot be parsed stops
// the collection before anything is removed: its children are unknown.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "base/error.h"
#include "digest/digest.h"
#include "store/gc_walk.h"  // chain_ids(), blob_refs()
#include "store/store.h"

namespace berth {

struct GcRoots {
  std::vector<Digest> blobs;      // walked like image targets
  std::vector<Digest> snapshots;  // chain IDs kept as is
};

using GcRootProvider = std::function<Result<GcRoots>(Store&)>;

struct GcOptions {
  bool dry_run = false;  // report what would go; change nothing
  bool wait = true;      // wait for active writers (false: fail with busy)
  // Ingest entries untouched for this long (and not leased or held) are removed.
  int64_t ingest_max_age_seconds = 24 * 3600;
  // Blobs and snapshots modified within this many seconds are kept even if
  // unreachable: protection for writers that do not take the store lock.
  int64_t grace_seconds = 0;
  GcRoots extra_roots;
  std::vector<GcRootProvider> providers;
};

struct GcReport {
  uint64_t blobs_removed = 0;
  uint64_t bytes_freed = 0;  // blob bytes plus snapshot file bytes
  uint64_t snapshots_removed = 0;
  uint64_t leases_expired = 0;
  uint64_t blobs_kept = 0;
  uint64_t snapshots_kept = 0;
  uint64_t missing_blobs = 0;  // reachable but absent (e.g. a partial pull of another platform)
  std::vector<Digest> removed_blobs;
  std::vector<Digest> removed_snapshots;
  std::vector<std::string> warnings;  // one line each: what could not be removed and why
};

// Runs a collection under the exclusive store lock. With dry_run the report
// lists what a real run would remove.
Result<GcReport> collect_garbage(Store& store, const GcOptions& opts = {});

}  // namespace berth
