// berth/registry: repository metadata in SQLite (root/meta.db).
//
// The content store holds every blob and manifest once, for all
// repositories; this database records which repository may serve which
// digest, the tags, the manifest graph (for MANIFEST_BLOB_UNKNOWN checks,
// referrers and GC) and open upload sessions.
//
// Promises:
//  - Each mutating call is one transaction (WAL, synchronous=FULL): after it
//    returns, the change survives kill -9 and power loss; before, nothing of
//    it is visible.
//  - put_manifest() checks that every referenced blob/child is linked in the
//    repository inside the same transaction that records the manifest, so a
//    concurrent GC (which also runs in transactions) can never leave a
//    manifest pointing at a swept blob.
//  - Safe to use from many threads and from several processes (gc CLI).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "digest/digest.h"
#include "registry/manifest.h"

struct sqlite3;

namespace berth::registry {

struct ManifestRow {
  Digest digest;
  std::string media_type;
  uint64_t size = 0;
};

struct Referrer {
  Digest digest;
  std::string media_type;
  uint64_t size = 0;
  std::string artifact_type;
  std::string annotations_json;  // "{}" when none
};

struct Upload {
  std::string id;
  std::string repo;
  int64_t created = 0;
  int64_t updated = 0;
};

struct GcStats {
  uint64_t manifests_removed = 0;
  uint64_t links_removed = 0;
  uint64_t blobs_removed = 0;
  uint64_t bytes_removed = 0;
  uint64_t uploads_expired = 0;
};

class Meta {
 public:
  static Result<std::unique_ptr<Meta>> open(const std::string& path);
  ~Meta();

  bool repo_exists(const std::string& repo);
  bool has_blob(const std::string& repo, const Digest& d);
  // `exists` is called inside the transaction: linking a blob GC has just
  // removed fails instead of recording a dangling link.
  Status link_blob(const std::string& repo, const Digest& d, const std::function<bool()>& exists);
  Status unlink_blob(const std::string& repo, const Digest& d);  // not_found when not linked

  // Records the manifest (and tag). Fails with Errc::not_found naming the
  // first missing blob/child.
  Status put_manifest(const std::string& repo, const Digest& d, uint64_t size, const ManifestInfo& info,
                      const std::string& tag, const std::function<bool()>& exists);
  Result<ManifestRow> get_manifest(const std::string& repo, const Digest& d);
  Result<Digest> resolve_tag(const std::string& repo, const std::string& tag);
  Status delete_manifest(const std::string& repo, const Digest& d);  // also its tags
  Status delete_tag(const std::string& repo, const std::string& tag);
  // Tags sorted lexically after `last`, at most `n`.
  Result<std::vector<std::string>> list_tags(const std::string& repo, const std::string& last, int n);
  Result<std::vector<std::string>> list_repos(const std::string& last, int n);
  Result<std::vector<Referrer>> referrers(const std::string& repo, const Digest& subject);

  // Fails with Errc::limit when `max_open` sessions exist already.
  Status create_upload(const std::string& id, const std::string& repo, int64_t now, int64_t max_open);
  Result<Upload> get_upload(const std::string& id);
  Status touch_upload(const std::string& id, int64_t now);
  Status delete_upload(const std::string& id);
  Result<std::vector<std::string>> expired_uploads(int64_t updated_before);

  // GC, metadata half, one transaction: removes untagged manifests (not a
  // child of a kept index, not a referrer of a kept manifest, older than
  // cutoff) and blob links no kept manifest references (older than cutoff).
  Status gc_metadata(int64_t cutoff, GcStats* stats);
  // Every digest some repository still links or records as a manifest.
  Result<std::vector<std::string>> referenced_digests();
  // Runs fn inside an exclusive transaction if `digest` is referenced by no
  // row; returns whether fn ran. GC removes blob files through this so a
  // concurrent link (which checks the file exists in its own transaction)
  // either sees the file or sees it gone.
  Result<bool> if_unreferenced(const std::string& digest, const std::function<Status()>& fn);

 private:
  Meta() = default;
  Status exec(const char* sql);
  sqlite3* db_ = nullptr;
  std::mutex mu_;
};

}  // namespace berth::registry
