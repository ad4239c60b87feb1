// berth/build: the layer cache — what each build step produced, keyed by a
// content hash of everything the step depends on (docs/build.md).
//
// A key is sha256 over the parent step's key and the step's inputs (the
// instruction after substitution, the digests of the context files it reads,
// the build args it references). The value is the state after the step: the
// intermediate image manifest (layers + config), stored like any image
// manifest in the content store, so a hit costs one SQLite lookup and one
// small JSON read.
//
// Promises: records live in the store's metadata DB (table build_cache) and
// keep their manifests alive through garbage collection (cache_gc_roots);
// prune() removes records by age and/or until the total size of the layers
// only the cache holds fits a budget, oldest-used first.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/error.h"
#include "digest/digest.h"
#include "store/gc.h"
#include "store/store.h"

namespace berth::build {

struct CacheRecord {
  std::string key;     // "sha256:<hex>"
  Digest manifest;     // state after the step
  std::string instruction;  // for `builder prune` listings and debugging
  int64_t size = 0;    // bytes of the layer this step added (0: none)
  int64_t created = 0, last_used = 0;  // unix seconds
};

class Cache {
 public:
  static Result<Cache> open(Store& store);
  Result<std::optional<CacheRecord>> get(const std::string& key);
  Status put(const CacheRecord& r);
  // Marks the records as used now (one transaction).
  Status touch(const std::vector<std::string>& keys);

  struct PruneOptions {
    int64_t older_than_seconds = -1;  // remove records unused for longer; -1: any age
    int64_t keep_bytes = -1;          // then remove oldest-used until the rest fits; -1: no budget
    bool all = false;                 // remove everything
  };
  struct PruneReport {
    uint64_t records = 0;
    int64_t bytes = 0;  // layer sizes of removed records (blobs are freed by the GC that follows)
  };
  Result<PruneReport> prune(const PruneOptions& o);

 private:
  explicit Cache(Store* s) : store_(s) {}
  Store* store_;
};

// GC roots: every cache record's manifest.
GcRootProvider cache_gc_roots();

}  // namespace berth::build
