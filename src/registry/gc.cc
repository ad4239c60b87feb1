// Online garbage collection. Runs beside a serving registry (same process or
// the `berth-registry gc` CLI): the metadata sweep is one SQLite transaction,
// and each blob file is removed inside a transaction that re-checks it is
// still unreferenced, so a concurrent push either links the blob first (and
// it survives) or sees it gone and fails cleanly (never a dangling link).
#include <sys/stat.h>

#include <unordered_set>

#include "registry/internal.h"

namespace berth::registry {

Result<GcStats> Registry::gc(int64_t grace_seconds) {
  Impl& im = *impl_;
  GcStats stats;
  TRY_ASSIGN(stats.uploads_expired, expire_uploads());
  int64_t cutoff = now_seconds() - grace_seconds;
  TRY(im.meta->gc_metadata(cutoff, &stats));
  TRY_ASSIGN(auto refs, im.meta->referenced_digests());
  std::unordered_set<std::string> live(refs.begin(), refs.end());
  TRY_ASSIGN(auto blobs, im.store.list());
  for (const auto& b : blobs) {
    std::string ds = b.digest.str();
    if (live.count(ds) || b.mtime >= cutoff) continue;
    auto removed = im.meta->if_unreferenced(ds, [&]() -> Status {
      // Re-check under the lock: a push may have touched it since list().
      struct stat st;
      std::string p = im.store.blob_path(b.digest);
      if (::stat(p.c_str(), &st) != 0) return sys_error("stat " + p);
      if (st.st_mtime >= cutoff) return Error(Errc::busy, ds + " was just pushed");
      return im.store.remove(b.digest);
    });
    if (!removed) {
      if (removed.error().code == Errc::busy || removed.error().code == Errc::not_found) continue;
      return std::move(removed).error();
    }
    if (*removed) {
      stats.blobs_removed++;
      stats.bytes_removed += b.size;
    }
  }
  return stats;
}

}  // namespace berth::registry
