// berth/store: the facade the CLI opens — one root directory holding the blob
// store, the metadata database and the snapshots directory.
//
// Layout under root (docs/store.md):
//   blobs/ ingest/   content::Store          metadata.db   metadata::DB
//   snapshots/       owned by src/snapshot   lock          the store lock
//   gc-trash/        what GC is removing (renamed here first, so a half-deleted
//                    snapshot is never visible under its chain ID)
//
// Locking: `lock` is flock'ed shared by every writer (pull, load, build, tag
// ... for the duration of the operation) and exclusive by garbage collection,
// so GC never sweeps between "blob written" and "blob named or leased".
// Writers additionally record what they write in a lease (WriteSession), so a
// crashed writer's content survives until the lease expires and a retry can
// reuse it. Readers take no lock: blobs are immutable and GC only removes what
// no name or lease reaches.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"
#include "content/store.h"
#include "metadata/db.h"

namespace berth {

// The store root: `flag` (--root) if non-empty, else $BERTH_ROOT, else
// /var/lib/berth for root, else $XDG_DATA_HOME/berth or ~/.local/share/berth.
// Relative paths are made absolute (the runtime may chdir later).
std::string default_root(std::string_view flag = {});

// A held flock on <root>/lock; released on destruction.
class StoreLock {
 public:
  StoreLock() = default;
  StoreLock(StoreLock&&) noexcept = default;
  StoreLock& operator=(StoreLock&&) noexcept = default;
  bool held() const { return fd_.valid(); }
  void release() { fd_.reset(); }

 private:
  friend class Store;
  explicit StoreLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

class Store {
 public:
  // Creates the root and its parts as needed; migrates the metadata schema.
  static Result<Store> open(const std::string& root);
  Store(Store&&) noexcept = default;
  Store& operator=(Store&&) noexcept = default;

  const std::string& root() const { return root_; }
  content::Store& content() { return content_; }
  metadata::DB& db() { return db_; }
  std::string snapshots_dir() const;  // <root>/snapshots (layout: snapshots/<alg>/<hex of chain ID>)
  std::string snapshot_path(const Digest& chain_id) const;

  // Writers: blocks while GC runs. GC: exclusive; with wait=false fails with
  // busy if any writer holds the lock. flock locks are per open file, so a
  // process must release its shared lock before running GC itself.
  Result<StoreLock> lock_shared(bool wait = true);
  Result<StoreLock> lock_exclusive(bool wait = true);

 private:
  Store(std::string root, content::Store c, metadata::DB db)
      : root_(std::move(root)), content_(std::move(c)), db_(std::move(db)) {}
  Result<StoreLock> lock(int op, bool wait);
  std::string root_;
  content::Store content_;
  metadata::DB db_;
};

// What every writer (pull, load, import, build, commit) does: hold the store
// lock shared and a lease naming what it wrote, until the images are named.
//
//   TRY_ASSIGN(auto ws, WriteSession::begin(store));
//   TRY_ASSIGN(Digest d, store.content().put(manifest));
//   TRY(ws.protect_blob(d));           // before or after writing: GC waits for us anyway
//   ...
//   TRY(ws.commit({{name, {d, media_type, size}}}));   // tag + drop lease, atomically
//
// Destroyed without commit() (an error path): the lease is deleted, and what
// was written becomes garbage for the next GC. If the process dies instead,
// the lease keeps the content for `ttl_seconds` so a retry can reuse it.
class WriteSession {
 public:
  static Result<WriteSession> begin(Store& store, int64_t ttl_seconds = 24 * 3600);
  WriteSession(WriteSession&&) noexcept;
  WriteSession& operator=(WriteSession&&) = delete;
  ~WriteSession();

  const std::string& lease_id() const { return lease_id_; }
  Status protect(metadata::ResourceKind kind, std::string_view key);
  Status protect_blob(const Digest& d) { return protect(metadata::ResourceKind::blob, d.str()); }
  Status protect_snapshot(const Digest& chain_id) { return protect(metadata::ResourceKind::snapshot, chain_id.str()); }
  // Names the images and deletes the lease in one transaction, then releases
  // the lock. The session is spent afterwards.
  Status commit(std::span<const metadata::Image> images);
  // Keep the lease (e.g. content meant to stay until it expires) but release the lock.
  void detach();

 private:
  WriteSession(Store* s, StoreLock l, std::string id) : store_(s), lock_(std::move(l)), lease_id_(std::move(id)) {}
  Store* store_ = nullptr;
  StoreLock lock_;
  std::string lease_id_;
  bool done_ = false;
};

}  // namespace berth
