#include "build/cache.h"

#include <ctime>
#include <vector>

namespace berth::build {

namespace {

const metadata::Migration kMigrations[] = {
    {1, "build_cache",
     "CREATE TABLE build_cache ("
     " key TEXT PRIMARY KEY, manifest TEXT NOT NULL, instruction TEXT NOT NULL,"
     " size INTEGER NOT NULL, created INTEGER NOT NULL, last_used INTEGER NOT NULL);"
     "CREATE INDEX build_cache_used ON build_cache(last_used);"},
};

int64_t now() { return static_cast<int64_t>(::time(nullptr)); }

}  // namespace

Result<Cache> Cache::open(Store& store) {
  TRY(store.db().migrate("build", kMigrations));
  return Cache(&store);
}

Result<std::optional<CacheRecord>> Cache::get(const std::string& key) {
  TRY_ASSIGN(auto s, store_->db().prepare(
                         "SELECT manifest, instruction, size, created, last_used FROM build_cache WHERE key = ?"));
  s.bind(1, key);
  TRY_ASSIGN(bool row, s.step());
  if (!row) return std::optional<CacheRecord>();
  auto d = Digest::parse(s.text(0));
  if (!d.ok()) return Error(Errc::invalid_input, "build cache record " + key + ": bad manifest digest");
  CacheRecord r;
  r.key = key;
  r.manifest = *d;
  r.instruction = s.text(1);
  r.size = s.int64(2);
  r.created = s.int64(3);
  r.last_used = s.int64(4);
  return std::optional<CacheRecord>(std::move(r));
}

Status Cache::put(const CacheRecord& r) {
  TRY_ASSIGN(auto s, store_->db().prepare(
                         "INSERT OR REPLACE INTO build_cache (key, manifest, instruction, size, created, last_used)"
                         " VALUES (?, ?, ?, ?, ?, ?)"));
  int64_t t = now();
  s.bind(1, r.key).bind(2, r.manifest.str()).bind(3, r.instruction).bind(4, r.size).bind(5, t).bind(6, t);
  return s.run();
}

Status Cache::touch(const std::vector<std::string>& keys) {
  if (keys.empty()) return {};
  return store_->db().write([&]() -> Status {
    int64_t t = now();
    for (const auto& k : keys) {
      TRY_ASSIGN(auto u, store_->db().prepare("UPDATE build_cache SET last_used = ? WHERE key = ?"));
      u.bind(1, t).bind(2, k);
      TRY(u.run());
    }
    return {};
  });
}

Result<Cache::PruneReport> Cache::prune(const PruneOptions& o) {
  PruneReport rep;
  TRY(store_->db().write([&]() -> Status {
    TRY_ASSIGN(auto q, store_->db().prepare("SELECT key, size, last_used FROM build_cache ORDER BY last_used DESC"));
    struct Row {
      std::string key;
      int64_t size, used;
    };
    std::vector<Row> rows;
    while (true) {
      TRY_ASSIGN(bool row, q.step());
      if (!row) break;
      rows.push_back({q.text(0), q.int64(1), q.int64(2)});
    }
    int64_t t = now(), kept = 0;
    for (const auto& r : rows) {  // newest first: keep while within budget and young enough
      bool drop = o.all || (o.older_than_seconds >= 0 && t - r.used > o.older_than_seconds) ||
                  (o.keep_bytes >= 0 && kept + r.size > o.keep_bytes);
      if (!drop) {
        kept += r.size;
        continue;
      }
      TRY_ASSIGN(auto d, store_->db().prepare("DELETE FROM build_cache WHERE key = ?"));
      d.bind(1, r.key);
      TRY(d.run());
      rep.records++;
      rep.bytes += r.size;
    }
    return {};
  }));
  return rep;
}

GcRootProvider cache_gc_roots() {
  return [](Store& store) -> Result<GcRoots> {
    TRY(store.db().migrate("build", kMigrations));
    TRY_ASSIGN(auto s, store.db().prepare("SELECT manifest FROM build_cache"));
    GcRoots roots;
    while (true) {
      TRY_ASSIGN(bool row, s.step());
      if (!row) break;
      auto d = Digest::parse(s.text(0));
      if (d.ok()) roots.blobs.push_back(*d);
    }
    return roots;
  };
}

}  // namespace berth::build
