// berth/content: the content-addressed blob store.
//
// Layout under root:  blobs/<alg>/<hex>        immutable, verified blobs (mode 0444)
//                     ingest/<sha256(ref)>/    writes in progress: `data`, `state`
//                                              (alg + ref), `hashstate` (checkpoint)
//                     ingest/.tmp.* .trash.*   being created / being removed
// Promises:
//  - A blob is visible under blobs/ only after its bytes were hashed while
//    streaming, matched the expected digest (and size, when given), and were
//    fsynced, renamed into place and the directory fsynced.
//  - Several processes may write the same blob at once: each writes its own
//    ingest file; the first rename wins, the others see the blob exist and
//    discard their copy. Nothing partial is ever visible.
//  - Digests are validated (digest/digest.h), so paths never escape root; ref
//    names are hashed into the ingest directory name, so any ref is safe.
//  - A named ingest is held by at most one Writer at a time (flock on its data
//    file, dropped by the kernel if the process dies); a second writer() or
//    resume() on a held ref fails with Errc::busy instead of interleaving bytes.
//  - The content store knows nothing about what is referenced: removal and
//    garbage collection are the store facade's job (store/gc.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "digest/digest.h"

namespace berth::content {

struct Info {
  Digest digest;
  uint64_t size = 0;
  int64_t mtime = 0;  // seconds since epoch; GC grace periods use it
};

struct IngestInfo {
  std::string ref;
  uint64_t offset = 0;     // bytes durably in the ingest file (a live writer may have more buffered)
  int64_t updated_at = 0;  // mtime of the data file, seconds since epoch
};

// How put_file() brings a file into the store.
enum class PutMode {
  copy,  // always copy the bytes (safe default: the caller keeps its file)
  // Hard-link the file when it is on the same filesystem (falls back to copy).
  // The caller promises never to modify the file afterwards: the blob IS the
  // same inode. Use for temp files the caller is about to delete anyway.
  link_if_possible,
};

// Streams bytes into ingest/; commit() verifies and publishes. A Writer that is
// destroyed without commit() leaves its ingest entry for resume() (if it had a
// ref) or removes it (anonymous writers). Writes are buffered internally (1 MiB),
// so small write() calls are cheap.
class Writer {
 public:
  Writer(Writer&&) noexcept;
  Writer& operator=(Writer&&) noexcept;
  ~Writer();
  Status write(const void* data, size_t len);
  Status write(std::string_view s) { return write(s.data(), s.size()); }
  // Pushes buffered bytes into the ingest file (no fsync). Call before
  // reporting offset() to someone who will resume() from another process.
  Status flush();
  uint64_t offset() const;  // bytes accepted so far, buffered included
  const std::string& ref() const;
  // Verifies size/digest (when given), fsyncs, renames into blobs/. Returns the
  // digest of what was written. On mismatch nothing becomes visible and the
  // ingest entry is removed (size_mismatch / digest_mismatch). If the blob
  // already exists (another writer won), ours is discarded and the existing
  // blob's mtime refreshed. After commit() or abort() the Writer is spent.
  Result<Digest> commit(std::optional<Digest> expected = std::nullopt,
                        std::optional<uint64_t> expected_size = std::nullopt);
  void abort();  // discard the ingest entry

  struct Impl;
  explicit Writer(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

class Store {
 public:
  static Result<Store> open(const std::string& root);  // creates blobs/ and ingest/

  const std::string& root() const { return root_; }
  std::string blob_path(const Digest& d) const;  // root/blobs/<alg>/<hex>

  bool has(const Digest& d) const;
  Result<Info> info(const Digest& d) const;
  Result<UniqueFd> open_blob(const Digest& d) const;
  Result<std::string> read_blob(const Digest& d, uint64_t limit = 16ull << 20) const;
  // Re-hashes a stored blob (fsck); digest_mismatch if its bytes rotted.
  Status verify(const Digest& d) const;

  // One-shot write of small content (manifests, configs). When `expected` is
  // given its algorithm is used.
  Result<Digest> put(std::string_view data, std::optional<Digest> expected = std::nullopt);
  // Import an existing file (see PutMode). When `expected` is given and the
  // store already holds that blob, the file is not read at all.
  Result<Digest> put_file(const std::string& path, std::optional<Digest> expected = std::nullopt,
                          PutMode mode = PutMode::copy);

  // A streaming writer. ref == "" is anonymous; a named ref can be resumed
  // across processes (registry uploads): resume() reopens it at its offset.
  // A named Writer destroyed without commit syncs its data and checkpoints its
  // hash state, so resume() only hashes bytes the checkpoint does not cover
  // (all of them if it is missing or damaged). ingest/ is trusted like blobs/. writer() on an existing ref fails
  // with already_exists (or busy when another Writer holds it). Refs are 1..256
  // printable ASCII characters.
  Result<Writer> writer(std::string ref = "", DigestAlg alg = DigestAlg::sha256);
  Result<Writer> resume(const std::string& ref);
  // Offset of a named ingest without taking it (registry upload status).
  Result<IngestInfo> ingest_info(const std::string& ref) const;
  Result<std::vector<IngestInfo>> list_ingests() const;
  // busy if a live Writer holds it, not_found if there is no such ref.
  Status abort_ingest(const std::string& ref);
  // Ingest entries not written to for max_age_seconds and not held by a live
  // Writer are removed (crashed writers, abandoned uploads), except refs for
  // which `keep` returns true (e.g. refs protected by a lease).
  Status expire_ingests(int64_t max_age_seconds, const std::function<bool(const std::string& ref)>& keep = {});

  // Unconditional unlink; not_found if absent. Callers decide reachability.
  Status remove(const Digest& d);
  Result<std::vector<Info>> list() const;

 private:
  explicit Store(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace berth::content
