// berth/store: mark-and-sweep garbage collection (rules in gc.h and docs/store.md).
#include "store/gc.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "base/fs.h"
#include "store/gc_walk.h"

namespace berth {

namespace {

struct Edge {
  Digest digest;
  std::string media_type;
};

class Marker {
 public:
  explicit Marker(Store& s) : store_(s) {}

  std::unordered_set<Digest> blobs, snapshots;
  uint64_t missing = 0;

  void root(const Digest& d, std::string mt) { queue_.push_back({d, std::move(mt)}); }

  // Indexes every small JSON blob that declares a `subject`. A first-byte
  // peek keeps layers (gzip, zstd, tar) from being read whole.
  void index_referrers(const std::vector<content::Info>& all) {
    for (const auto& info : all) {
      if (info.size > kGcMaxJsonBlob || info.size < 2) continue;
      auto fd = store_.content().open_blob(info.digest);
      if (!fd) continue;  // removed meanwhile by an actor not taking the lock: nothing to index
      char first = 0;
      if (::pread(fd->get(), &first, 1, 0) != 1 || first != '{') continue;
      auto data = store_.content().read_blob(info.digest, kGcMaxJsonBlob);
      if (!data) continue;
      auto refs = blob_refs(*data, "");
      if (refs && refs->subject) referrers_[refs->subject->digest].push_back({info.digest, ""});
    }
  }

  Status run() {
    while (!queue_.empty()) {
      Edge e = std::move(queue_.back());
      queue_.pop_back();
      TRY(visit(e.digest, e.media_type));
    }
    return Status{};
  }

 private:
  Status visit(const Digest& d, const std::string& mt) {
    if (!blobs.insert(d).second) return Status{};
    if (auto it = referrers_.find(d); it != referrers_.end())
      for (auto& r : it->second) queue_.push_back(r);
    if (!gc_reads_media_type(mt)) {
      // A layer: never read, only its presence matters for the report.
      if (!store_.content().has(d)) missing++;
      return Status{};
    }
    std::string what = "gc: " + (mt.empty() ? std::string("blob") : mt) + " " + d.str();
    auto data = store_.content().read_blob(d, kGcMaxJsonBlob);
    if (!data) {
      if (data.error().code == Errc::not_found) {
        missing++;
        return Status{};
      }
      if (data.error().code == Errc::limit && !gc_must_parse(mt)) return Status{};
      return Error(data.error().code, what + ": " + data.error().message + "; refusing to sweep");
    }
    auto refs = blob_refs(*data, mt);
    if (!refs) return Error(refs.error().code, what + ": " + refs.error().message + "; refusing to sweep");
    for (auto& c : refs->children) queue_.push_back({std::move(c.digest), std::move(c.media_type)});
    for (auto& s : refs->snapshots) snapshots.insert(s);
    return Status{};
  }

  Store& store_;
  std::vector<Edge> queue_;
  std::unordered_map<Digest, std::vector<Edge>> referrers_;
};

// Bytes of regular files under an open directory (best effort: unreadable parts count 0).
uint64_t tree_bytes(int dirfd) {
  uint64_t total = 0;
  int fd = ::dup(dirfd);
  if (fd < 0) return 0;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::fdopendir(fd), ::closedir);
  if (!d) {
    ::close(fd);
    return 0;
  }
  while (struct dirent* e = ::readdir(d.get())) {
    if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
    struct stat st;
    if (::fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISREG(st.st_mode)) {
      total += static_cast<uint64_t>(st.st_size);
    } else if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(::openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub) total += tree_bytes(sub.get());
    }
  }
  return total;
}

uint64_t tree_bytes(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  return fd ? tree_bytes(fd.get()) : 0;
}

Result<std::vector<std::string>> dir_names(const std::string& dir) {
  std::vector<std::string> out;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) {
    if (errno == ENOENT) return out;
    return sys_error("gc: open " + dir);
  }
  for (;;) {
    errno = 0;
    struct dirent* e = ::readdir(d.get());
    if (!e) {
      if (errno != 0) return sys_error("gc: read " + dir);
      break;
    }
    if (e->d_name[0] == '.') continue;
    out.emplace_back(e->d_name);
  }
  return out;
}

}  // namespace

Result<GcReport> collect_garbage(Store& store, const GcOptions& opts) {
  TRY_ASSIGN(StoreLock lock, store.lock_exclusive(opts.wait));
  GcReport report;
  metadata::DB& db = store.db();
  const int64_t now = ::time(nullptr);
  std::string trash = path_join(store.root(), "gc-trash");
  if (!opts.dry_run) {
    // Leftovers of a collection that died mid-removal; nothing refers to them.
    TRY(mkdir_p(trash, 0700));
    TRY_ASSIGN(auto left, dir_names(trash));
    for (const auto& n : left)
      if (auto s = remove_all(path_join(trash, n)); !s) report.warnings.push_back("gc-trash: " + s.error().str());
    // Unpacks of processes that died (snapshots/tmp/): treated like stale
    // ingests — removed once older than ingest_max_age (writers unpack under
    // the shared store lock, so nothing there is in progress now; the age
    // spares a writer that does not take it).
    std::string stmp = path_join(store.snapshots_dir(), "tmp");
    auto pending = dir_names(stmp);
    if (pending.ok())
      for (const auto& n : *pending) {
        std::string p = path_join(stmp, n);
        struct stat st;
        if (::lstat(p.c_str(), &st) != 0 || now - st.st_mtime < opts.ingest_max_age_seconds) continue;
        if (auto s = remove_all(p); !s) report.warnings.push_back("snapshots/tmp: " + s.error().str());
      }
  }

  // Leases: expired ones go first, so they protect nothing.
  if (opts.dry_run) {
    TRY_ASSIGN(auto leases, db.list_leases());
    for (auto& l : leases)
      if (l.expires_at > 0 && l.expires_at <= now) report.leases_expired++;
  } else {
    TRY_ASSIGN(int n, db.expire_leases(now));
    report.leases_expired = static_cast<uint64_t>(n);
  }

  Marker m(store);
  std::unordered_set<std::string> leased_ingests;
  {
    // One read transaction: names and leases from the same instant.
    std::vector<metadata::Image> images;
    std::vector<metadata::LeaseResource> resources;
    std::vector<metadata::Lease> leases;
    TRY(db.read([&]() -> Status {
      TRY_ASSIGN(images, db.list_images());
      TRY_ASSIGN(resources, db.lease_resources());
      TRY_ASSIGN(leases, db.list_leases());
      return Status{};
    }));
    std::unordered_set<std::string> live_leases;
    for (auto& l : leases)
      if (l.expires_at == 0 || l.expires_at > now) live_leases.insert(l.id);
    for (auto& img : images) m.root(img.target.digest, img.target.media_type);
    for (auto& r : resources) {
      if (!live_leases.count(r.lease_id)) continue;  // dry run: would have expired
      if (r.kind == metadata::ResourceKind::ingest) {
        leased_ingests.insert(r.key);
        continue;
      }
      auto d = Digest::parse(r.key);
      if (!d) continue;  // unparsable key protects nothing it could name
      if (r.kind == metadata::ResourceKind::blob) m.root(*d, "");
      else m.snapshots.insert(*d);
    }
  }
  auto add_roots = [&](const GcRoots& roots) {
    for (auto& d : roots.blobs) m.root(d, "");
    for (auto& d : roots.snapshots) m.snapshots.insert(d);
  };
  add_roots(opts.extra_roots);
  for (const auto& provider : opts.providers) {
    if (!provider) continue;
    auto roots = provider(store);
    if (!roots) return std::move(roots).error().wrap("gc: root provider");
    add_roots(*roots);
  }

  TRY_ASSIGN(auto all_blobs, store.content().list());
  m.index_referrers(all_blobs);
  TRY(m.run());
  report.missing_blobs = m.missing;

  // Sweep blobs.
  for (const auto& info : all_blobs) {
    if (m.blobs.count(info.digest) || (opts.grace_seconds > 0 && info.mtime > now - opts.grace_seconds)) {
      report.blobs_kept++;
      continue;
    }
    if (!opts.dry_run) {
      auto s = store.content().remove(info.digest);
      if (!s && s.error().code != Errc::not_found) return std::move(s).error().wrap("gc");
    }
    report.blobs_removed++;
    report.bytes_freed += info.size;
    report.removed_blobs.push_back(info.digest);
  }

  // Sweep snapshots: only <alg>/<hex> entries; snapshots/tmp and anything
  // else belongs to the snapshotter.
  for (const char* alg : {"sha256", "sha512"}) {
    std::string dir = path_join(store.snapshots_dir(), alg);
    TRY_ASSIGN(auto names, dir_names(dir));
    for (const auto& name : names) {
      auto d = Digest::parse(std::string(alg) + ":" + name);
      if (!d) continue;
      std::string path = path_join(dir, name);
      struct stat st;
      if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      if (m.snapshots.count(*d) || (opts.grace_seconds > 0 && st.st_mtim.tv_sec > now - opts.grace_seconds)) {
        report.snapshots_kept++;
        continue;
      }
      uint64_t bytes = tree_bytes(path);
      if (!opts.dry_run) {
        // Out of its name first: a half-removed tree must never look like a snapshot.
        std::string doomed = path_join(trash, unique_name(name.substr(0, 16)));
        if (::rename(path.c_str(), doomed.c_str()) != 0) {
          if (errno == EBUSY) {
            // A mount point (e.g. someone mounted it directly): in use, so keep it.
            report.snapshots_kept++;
            report.warnings.push_back("snapshot " + d->str() + " is a mount point; kept");
            continue;
          }
          if (errno != EXDEV) return sys_error("gc: move snapshot " + d->str() + " to " + trash);
          doomed = path;
        }
        // Once renamed it is gone as a snapshot; a tree that will not fully go
        // (a mount inside it) stays in gc-trash for the next run.
        if (auto s = remove_all(doomed); !s)
          report.warnings.push_back("snapshot " + d->str() + ": " + s.error().str() + " (left in " + trash + ")");
      }
      report.bytes_freed += bytes;
      report.snapshots_removed++;
      report.removed_snapshots.push_back(*d);
    }
  }

  if (!opts.dry_run) {
    TRY(store.content().expire_ingests(opts.ingest_max_age_seconds,
                                       [&](const std::string& ref) { return leased_ingests.count(ref) > 0; }));
  }
  // Directory order is arbitrary; users and tests diff these lists.
  std::sort(report.removed_blobs.begin(), report.removed_blobs.end());
  std::sort(report.removed_snapshots.begin(), report.removed_snapshots.end());
  return report;
}

}  // namespace berth
