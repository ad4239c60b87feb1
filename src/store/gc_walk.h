// berth/store: what one stored blob references, as garbage collection sees it.
//
// Pure function over the blob's bytes (no I/O), so it is unit-tested and
// fuzzed directly (fuzz/store_gc_walk.cc). Rules are in gc.h.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "digest/digest.h"

namespace berth {

// Distribution-spec's manifest size guidance; GC never parses anything larger.
inline constexpr uint64_t kGcMaxJsonBlob = 4u << 20;

struct GcRef {
  Digest digest;
  std::string media_type;  // "" when the descriptor has none
};

struct BlobRefs {
  std::vector<GcRef> children;    // manifests[], config (descriptor-shaped), layers[], blobs[]
  std::vector<Digest> snapshots;  // chain IDs of rootfs.diff_ids, one per layer prefix
  std::optional<GcRef> subject;   // a referrer's subject (a reverse edge: not followed)
};

// chainID(L0) = diffID(L0); chainID(Ln) = sha256(chainID(Ln-1) + " " + diffID(Ln))
// (image-spec config.md). Returns one chain ID per layer prefix.
std::vector<Digest> chain_ids(std::span<const Digest> diff_ids);

// JSON media types are the only ones GC opens ("" = unknown, sniffed).
bool gc_reads_media_type(std::string_view media_type);
// OCI/Docker index, manifest and config types: GC must understand them fully.
bool gc_must_parse(std::string_view media_type);

// References in `data`, a blob of `media_type`. For gc_must_parse types any
// malformation is an invalid_input error (the GC then refuses to sweep);
// other types that are not JSON objects simply reference nothing.
Result<BlobRefs> blob_refs(std::string_view data, std::string_view media_type);

}  // namespace berth
