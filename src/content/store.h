// berth/content: the content-addressed blob store.
//
// Layout under root:  blobs/<alg>/<hex>   immutable, verified blobs
//                     ingest/<ref>/       writes in progress (data + state)
// Promises:
//  - A blob is visible under blobs/ only after its bytes were hashed while
//    streaming, matched the expected digest (and size, when given), and were
//    fsynced, renamed into place and the directory fsynced.
//  - Several processes may write the same blob at once: each writes its own
//    ingest file; the first rename wins, the others see the blob exist and
//    discard their copy. Nothing partial is ever visible.
//  - Digests are validated (digest/digest.h), so paths never escape root.
#pragma once

#include <cstdint>
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

// Streams bytes into ingest/; commit() verifies and publishes. A Writer that is
// destroyed without commit() leaves its ingest entry for resume() (if it had a
// ref) or removes it (anonymous writers).
class Writer {
 public:
  Writer(Writer&&) noexcept;
  Writer& operator=(Writer&&) noexcept;
  ~Writer();
  Status write(const void* data, size_t len);
  Status write(std::string_view s) { return write(s.data(), s.size()); }
  uint64_t offset() const;
  // Verifies size/digest (when given), fsyncs, renames into blobs/. Returns the
  // digest of what was written. On mismatch nothing becomes visible and the
  // ingest entry is removed.
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

  // One-shot write of small content (manifests, configs).
  Result<Digest> put(std::string_view data, std::optional<Digest> expected = std::nullopt);
  // Import an existing file (copying, or hard-linking when on the same fs).
  Result<Digest> put_file(const std::string& path, std::optional<Digest> expected = std::nullopt);

  // A streaming writer. ref == "" is anonymous; a named ref can be resumed
  // across processes (registry uploads): resume() reopens it at its offset.
  Result<Writer> writer(std::string ref = "", DigestAlg alg = DigestAlg::sha256);
  Result<Writer> resume(const std::string& ref);
  Status abort_ingest(const std::string& ref);
  // Ingest entries older than max_age_seconds are removed (crashed writers).
  Status expire_ingests(int64_t max_age_seconds);

  Status remove(const Digest& d);
  Result<std::vector<Info>> list() const;

 private:
  explicit Store(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace berth::content
