// berth/layer: applying OCI tar layers to a directory, safely, and writing them.
//
// Spec: image-spec layer.md (changesets, whiteouts, opaque directories).
//
// apply_layer promises:
//  - Nothing outside `target` is created, modified, chmod'ed, chown'ed or
//    removed, whatever the tar contains: every path is resolved inside the
//    root with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) (or an
//    equivalent component walk with O_NOFOLLOW on kernels without openat2),
//    and the last component is always created relative to the resolved
//    parent without following symlinks. Symlinks inside the layer are kept
//    verbatim; when later entries go *through* them they resolve as if
//    `target` were "/" (the way the container will see them).
//  - Absolute entry names are rooted at `target` ("/etc/x" is target/etc/x,
//    as Docker and containerd do; umoci writes "/" for the root entry).
//  - Entry names containing "..", empty or malformed whiteouts, hard links
//    whose target is not in the layer tree, names or sizes beyond the limits
//    below are refused with an Error naming the layer label and the entry.
//  - Owners are the numeric uid/gid in the tar (names are never looked up on
//    the host); modes are applied after chown so setuid/setgid survive;
//    directory modes and times are applied after their contents.
//  - The blob is hashed while it is read (blob digest) and so is the tar
//    stream (diff_id); a mismatch with what the caller expects is an error.
//    On error the target is left half-written: callers apply into a fresh
//    directory and publish it by rename only on success (see snapshot/).
//
// write_layer promises a deterministic tar for a given tree: entries sorted by
// name, PAX format, numeric owners only, hard links detected by inode, xattrs
// (incl. security.capability), overlay whiteouts turned back into OCI ones;
// gzip output is compressed on several threads and still deterministic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/error.h"
#include "digest/digest.h"

namespace berth::layer {

enum class Compression { none, gzip, zstd };
const char* compression_name(Compression c);
// By magic bytes: 1f 8b -> gzip, 28 b5 2f fd -> zstd, anything else -> none.
Compression detect_compression(const void* data, size_t len);

enum class Whiteouts {
  // target holds the lower layers: whiteouts delete, opaque dirs are emptied.
  flatten,
  // target holds only this layer (an overlayfs lowerdir): a whiteout becomes a
  // 0:0 character device, an opaque dir gets trusted.overlay.opaque=y, as the
  // kernel and containerd's overlayfs snapshotter expect.
  overlay,
};

struct ApplyOptions {
  Whiteouts whiteouts = Whiteouts::flatten;
  // Names the layer in errors (normally its digest).
  std::string label;
  std::optional<Digest> expected_diff_id;
  std::optional<Digest> expected_blob_digest;
  DigestAlg alg = DigestAlg::sha256;
  // Unprivileged: owners are not applied and device nodes are skipped (counted
  // in ApplyStats::skipped). Defaults to geteuid() != 0.
  std::optional<bool> rootless;
  // Root of a user namespace (rootless berth): owners are applied, but
  // trusted.* is out of reach, so opaque dirs get user.overlay.opaque=y (what
  // overlayfs reads when mounted with userxattr), device nodes are skipped and
  // xattrs the kernel refuses are skipped. Defaults to in_user_namespace().
  std::optional<bool> userns;

  // Limits on hostile input.
  uint64_t max_entries = 4'000'000;
  uint64_t max_file_size = 1ull << 40;            // one regular file
  uint64_t max_uncompressed_size = 1ull << 42;    // the whole tar stream
  size_t max_path = 4095;                          // bytes of an entry name / link target
  size_t max_xattr_value = 65536;

  // Threads creating small regular files (<= 1 MiB) concurrently; every other
  // entry waits for them, so tar order is kept wherever it matters. 0 = auto
  // (2-4 by CPU count), 1 = everything on the calling thread.
  unsigned threads = 0;

  // Testing hook: resolve paths with the O_NOFOLLOW component walk even when
  // openat2 is available.
  bool force_walk_resolver = false;
};

struct ApplyStats {
  Compression compression = Compression::none;
  Digest blob_digest;  // of the bytes as stored
  Digest diff_id;      // of the uncompressed tar stream
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t entries = 0;
  uint64_t skipped = 0;  // device nodes not created (rootless), AUFS metadata, sockets
};

// Applies the layer blob at `blob_path` (or an open fd, which is consumed)
// onto the existing directory `target`.
Result<ApplyStats> apply_layer(const std::string& blob_path, const std::string& target, const ApplyOptions& opts);
Result<ApplyStats> apply_layer_fd(int blob_fd, const std::string& target, const ApplyOptions& opts);

struct WriteOptions {
  Compression compression = Compression::gzip;
  int level = -1;  // codec default when < 0
  // Every entry gets this mtime (and no atime) for reproducible layers.
  std::optional<int64_t> fixed_mtime;
  // `dir` is an overlayfs upper dir: 0:0 char devices become .wh.NAME and
  // trusted.overlay.opaque=y becomes .wh..wh..opq.
  bool overlay_upper = false;
  // The upper dir belongs to an overlay mounted with userxattr (rootless):
  // its opaque marker is user.overlay.opaque. Defaults to in_user_namespace().
  std::optional<bool> userns;
  DigestAlg alg = DigestAlg::sha256;
  // gzip is compressed pigz-style in 128 KiB blocks on this many threads
  // (0 = one per CPU, up to 8); the bytes do not depend on the count.
  unsigned threads = 0;
};

struct WriteStats {
  Digest blob_digest;  // of what was written to out_fd
  Digest diff_id;      // of the tar stream before compression
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t entries = 0;
};

// Writes `dir` as a tar layer to out_fd (not closed).
Result<WriteStats> write_layer(const std::string& dir, int out_fd, const WriteOptions& opts);

}  // namespace berth::layer
