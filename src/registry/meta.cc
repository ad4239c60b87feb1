#include "registry/meta.h"

#include <sqlite3.h>

#include <map>
#include <set>

#include <nlohmann/json.hpp>

namespace berth::registry {

namespace {

Error db_error(sqlite3* db, std::string_view what) {
  return Error(Errc::io, "registry metadata: " + std::string(what) + ": " + sqlite3_errmsg(db));
}

// A prepared statement with positional binds; finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK) st_ = nullptr;
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return st_ != nullptr; }
  Stmt& bind(int i, const std::string& s) {
    sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  Stmt& bind_null(int i) {
    sqlite3_bind_null(st_, i);
    return *this;
  }
  // SQLITE_ROW / SQLITE_DONE, or an error code.
  int step() { return st_ ? sqlite3_step(st_) : SQLITE_ERROR; }
  std::string text(int c) const {
    auto* p = sqlite3_column_text(st_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(st_, c)))
             : std::string();
  }
  int64_t i64(int c) const { return sqlite3_column_int64(st_, c); }
  bool is_null(int c) const { return sqlite3_column_type(st_, c) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back unless commit() succeeded.
class Txn {
 public:
  explicit Txn(sqlite3* db) : db_(db) { ok_ = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK; }
  ~Txn() {
    if (ok_ && !done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  bool ok() const { return ok_; }
  Status commit() {
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return db_error(db_, "commit");
    done_ = true;
    return Status{};
  }

 private:
  sqlite3* db_;
  bool ok_ = false, done_ = false;
};

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS repos(name TEXT PRIMARY KEY, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS blob_links(repo TEXT NOT NULL, digest TEXT NOT NULL, created INTEGER NOT NULL,
  PRIMARY KEY(repo, digest));
CREATE INDEX IF NOT EXISTS blob_links_digest ON blob_links(digest);
CREATE TABLE IF NOT EXISTS manifests(repo TEXT NOT NULL, digest TEXT NOT NULL, media_type TEXT NOT NULL,
  size INTEGER NOT NULL, artifact_type TEXT NOT NULL, subject TEXT, annotations TEXT NOT NULL,
  created INTEGER NOT NULL, PRIMARY KEY(repo, digest));
CREATE INDEX IF NOT EXISTS manifests_subject ON manifests(repo, subject);
CREATE INDEX IF NOT EXISTS manifests_digest ON manifests(digest);
CREATE TABLE IF NOT EXISTS manifest_refs(repo TEXT NOT NULL, parent TEXT NOT NULL, child TEXT NOT NULL,
  kind INTEGER NOT NULL, PRIMARY KEY(repo, parent, child, kind));
CREATE INDEX IF NOT EXISTS manifest_refs_child ON manifest_refs(repo, child);
CREATE TABLE IF NOT EXISTS tags(repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL,
  updated INTEGER NOT NULL, PRIMARY KEY(repo, tag));
CREATE INDEX IF NOT EXISTS tags_digest ON tags(repo, digest);
CREATE TABLE IF NOT EXISTS uploads(id TEXT PRIMARY KEY, repo TEXT NOT NULL, created INTEGER NOT NULL,
  updated INTEGER NOT NULL);
)sql";

int64_t now_s() { return static_cast<int64_t>(::time(nullptr)); }

}  // namespace

Result<std::unique_ptr<Meta>> Meta::open(const std::string& path) {
  std::unique_ptr<Meta> m(new Meta());
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  if (sqlite3_open_v2(path.c_str(), &m->db_, flags, nullptr) != SQLITE_OK) {
    Error e = db_error(m->db_, "open " + path);
    return e;
  }
  sqlite3_busy_timeout(m->db_, 30000);
  TRY(m->exec("PRAGMA journal_mode=WAL"));
  TRY(m->exec("PRAGMA synchronous=FULL"));
  TRY(m->exec("PRAGMA foreign_keys=OFF"));
  TRY(m->exec(kSchema));
  return m;
}

Meta::~Meta() { sqlite3_close(db_); }

Status Meta::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    return Error(Errc::io, "registry metadata: " + msg);
  }
  return Status{};
}

bool Meta::repo_exists(const std::string& repo) {
  std::lock_guard lk(mu_);
  Stmt s(db_, "SELECT 1 FROM repos WHERE name=?");
  s.bind(1, repo);
  return s.step() == SQLITE_ROW;
}

bool Meta::has_blob(const std::string& repo, const Digest& d) {
  std::lock_guard lk(mu_);
  Stmt s(db_, "SELECT 1 FROM blob_links WHERE repo=? AND digest=?");
  s.bind(1, repo).bind(2, d.str());
  return s.step() == SQLITE_ROW;
}

static Status ensure_repo(sqlite3* db, const std::string& repo) {
  Stmt s(db, "INSERT OR IGNORE INTO repos(name, created) VALUES(?, ?)");
  s.bind(1, repo).bind(2, now_s());
  if (s.step() != SQLITE_DONE) return db_error(db, "record repository " + repo);
  return Status{};
}

Status Meta::link_blob(const std::string& repo, const Digest& d, const std::function<bool()>& exists) {
  std::lock_guard lk(mu_);
  Txn t(db_);
  if (!t.ok()) return db_error(db_, "begin");
  if (!exists()) return Error(Errc::not_found, "blob " + d.str() + " vanished before it was linked (concurrent GC); retry");
  TRY(ensure_repo(db_, repo));
  Stmt s(db_, "INSERT INTO blob_links(repo, digest, created) VALUES(?, ?, ?) "
              "ON CONFLICT(repo, digest) DO UPDATE SET created=excluded.created");
  s.bind(1, repo).bind(2, d.str()).bind(3, now_s());
  if (s.step() != SQLITE_DONE) return db_error(db_, "link " + d.str() + " into " + repo);
  return t.commit();
}

Status Meta::unlink_blob(const std::string& repo, const Digest& d) {
  std::lock_guard lk(mu_);
  Stmt s(db_, "DELETE FROM blob_links WHERE repo=? AND digest=?");
  s.bind(1, repo).bind(2, d.str());
  if (s.step() != SQLITE_DONE) return db_error(db_, "unlink " + d.str());
  if (sqlite3_changes(db_) == 0) return Error(Errc::not_found, "blob " + d.str() + " is not in " + repo);
  return Status{};
}

Status Meta::put_manifest(const std::string& repo, const Digest& d, uint64_t size, const ManifestInfo& info,
                          const std::string& tag, const std::function<bool()>& exists) {
  std::lock_guard lk(mu_);
  Txn t(db_);
  if (!t.ok()) return db_error(db_, "begin");
  for (const auto& b : info.blobs) {
    Stmt s(db_, "SELECT 1 FROM blob_links WHERE repo=? AND digest=?");
    s.bind(1, repo).bind(2, b.str());
    if (s.step() != SQLITE_ROW) return Error(Errc::not_found, "blob " + b.str() + " is not in " + repo);
  }
  for (const auto& m : info.manifests) {
    Stmt s(db_, "SELECT 1 FROM manifests WHERE repo=? AND digest=?");
    s.bind(1, repo).bind(2, m.str());
    if (s.step() != SQLITE_ROW) return Error(Errc::not_found, "manifest " + m.str() + " is not in " + repo);
  }
  if (!exists()) return Error(Errc::not_found, "manifest " + d.str() + " vanished before it was recorded; retry");
  TRY(ensure_repo(db_, repo));
  nlohmann::json ann = nlohmann::json::object();
  for (const auto& [k, v] : info.annotations) ann[k] = v;
  {
    Stmt s(db_, "INSERT INTO manifests(repo, digest, media_type, size, artifact_type, subject, annotations, created) "
                "VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(repo, digest) DO UPDATE SET created=excluded.created");
    s.bind(1, repo).bind(2, d.str()).bind(3, info.media_type).bind(4, static_cast<int64_t>(size));
    s.bind(5, info.artifact_type);
    if (info.subject) s.bind(6, info.subject->str());
    else s.bind_null(6);
    s.bind(7, ann.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)).bind(8, now_s());
    if (s.step() != SQLITE_DONE) return db_error(db_, "record manifest " + d.str());
  }
  auto add_ref = [&](const Digest& child, int kind) -> Status {
    Stmt s(db_, "INSERT OR IGNORE INTO manifest_refs(repo, parent, child, kind) VALUES(?,?,?,?)");
    s.bind(1, repo).bind(2, d.str()).bind(3, child.str()).bind(4, static_cast<int64_t>(kind));
    if (s.step() != SQLITE_DONE) return db_error(db_, "record reference of " + d.str());
    return Status{};
  };
  for (const auto& b : info.blobs) TRY(add_ref(b, 0));
  for (const auto& m : info.manifests) TRY(add_ref(m, 1));
  if (!tag.empty()) {
    Stmt s(db_, "INSERT INTO tags(repo, tag, digest, updated) VALUES(?,?,?,?) "
                "ON CONFLICT(repo, tag) DO UPDATE SET digest=excluded.digest, updated=excluded.updated");
    s.bind(1, repo).bind(2, tag).bind(3, d.str()).bind(4, now_s());
    if (s.step() != SQLITE_DONE) return db_error(db_, "tag " + repo + ":" + tag);
  }
  return t.commit();
}

Result<ManifestRow> Meta::get_manifest(const std::string& repo, const Digest& d) {
  std::lock_guard lk(mu_);
  Stmt s(db_, "SELECT media_type, size FROM manifests WHERE repo=? AND digest=?");
  s.bind(1, repo).bind(2, d.str());
  if (s.step() != SQLITE_ROW) return Error(Errc::not_found, "manifest " + d.str() + " is not in " + repo);
  return ManifestRow{d, s.text(0), static_cast<uint64_t>(s.i64(1))};
}

Result<Digest> Meta::resolve_tag(const std::string& repo, const std::string& tag) {
  std::lock_guard lk(mu_);
  Stmt s(db_, "SELECT digest FROM tags WHERE repo=? AND tag=?");
  s.bind(1, repo).bind(2, tag);
  if (s.step() != SQLITE_ROW) return Error(Errc::not_found, "tag " + tag + " is not in " + repo);
  return Digest::parse(s.text(0));
}

Status Meta::delete_manifest(const std::string& repo, const Digest& d) {
  std::lock_guard lk(mu_);
  Txn t(db_);
  if (!t.ok()) return db_error(db_, "begin");
  Stmt s(db_, "DELETE FROM manifests WHERE repo=? AND digest=?");
  s.bind(1, repo).bind(2, d.str());
  if (s.step() != SQLITE_DONE) return db_error(db_, "delete manifest " + d.str());
  if (sqlite3_changes(db_) == 0) return Error(Errc::not_found, "manifest " + d.str() + " is not in " + repo);
  Stmt r(db_, "DELETE FROM manifest_refs WHERE repo=? AND parent=?");
  r.bind(1, repo).bind(2, d.str());
  if (r.step() != SQLITE_DONE) return db_error(db_, "delete references of " + d.str());
  Stmt g(db_, "DELETE FROM tags WHERE repo=? AND digest=?");
  g.bind(1, repo).bind(2, d.str());
  if (g.step() != SQLITE_DONE) return db_error(db_, "delete tags of " + d.str());
  return t.commit();
}

Status Meta::delete_tag(const std::string& repo, const std::string& tag) {
  std::lock_guard lk(mu_);
  Stmt s(db_, "DELETE FROM tags WHERE repo=? AND tag=?");
  s.bind(1, repo).bind(2, tag);
  if (s.step() != SQLITE_DONE) return db_error(db_, "delete tag " + tag);
  if (sqlite3_changes(db_) == 0) return Error(Errc::not_found, "tag " + tag + " is not in " + repo);
  return Status{};
}

Result<std::vector<std::string>> Meta::list_tags(const std::string& repo, const std::string& last, int n) {
  std::lock_guard lk(mu_);
  Stmt s(db_, "SELECT tag FROM tags WHERE repo=? AND tag>? ORDER BY tag LIMIT ?");
  s.bind(1, repo).bind(2, last).bind(3, static_cast<int64_t>(n));
  std::vector<std::string> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(s.text(0));
  if (rc != SQLITE_DONE) return db_error(db_, "list tags of " + repo);
  return out;
}

Result<std::vector<std::string>> Meta::list_repos(const std::string& last, int n) {
  std::lock_guard lk(mu_);
  Stmt s(db_, "SELECT name FROM repos WHERE name>? ORDER BY name LIMIT ?");
  s.bind(1, last).bind(2, static_cast<int64_t>(n));
  std::vector<std::string> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(s.text(0));
  if (rc != SQLITE_DONE) return db_error(db_, "list repositories");
  return out;
}

Result<std::vector<Referrer>> Meta::referrers(const std::string& repo, const Digest& subject) {
  std::lock_guard lk(mu_);
  Stmt s(db_, "SELECT digest, media_type, size, artifact_type, annotations FROM manifests "
              "WHERE repo=? AND subject=? ORDER BY created, digest");
  s.bind(1, repo).bind(2, subject.str());
  std::vector<Referrer> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    auto d = Digest::parse(s.text(0));
    if (!d) continue;
    out.push_back(Referrer{*d, s.text(1), static_cast<uint64_t>(s.i64(2)), s.text(3), s.text(4)});
  }
  if (rc != SQLITE_DONE) return db_error(db_, "list referrers of " + subject.str());
  return out;
}

Status Meta::create_upload(const std::string& id, const std::string& repo, int64_t now, int64_t max_open) {
  std::lock_guard lk(mu_);
  {
    Stmt c(db_, "SELECT COUNT(*) FROM uploads");
    if (c.step() == SQLITE_ROW && c.i64(0) >= max_open)
      return Error(Errc::limit, std::to_string(max_open) + " upload sessions are open already");
  }
  Stmt s(db_, "INSERT INTO uploads(id, repo, created, updated) VALUES(?,?,?,?)");
  s.bind(1, id).bind(2, repo).bind(3, now).bind(4, now);
  if (s.step() != SQLITE_DONE) return db_error(db_, "record upload " + id);
  return Status{};
}

Result<Upload> Meta::get_upload(const std::string& id) {
  std::lock_guard lk(mu_);
  Stmt s(db_, "SELECT repo, created, updated FROM uploads WHERE id=?");
  s.bind(1, id);
  if (s.step() != SQLITE_ROW) return Error(Errc::not_found, "upload " + id + " is unknown");
  return Upload{id, s.text(0), s.i64(1), s.i64(2)};
}

Status Meta::touch_upload(const std::string& id, int64_t now) {
  std::lock_guard lk(mu_);
  Stmt s(db_, "UPDATE uploads SET updated=? WHERE id=?");
  s.bind(1, now).bind(2, id);
  if (s.step() != SQLITE_DONE) return db_error(db_, "touch upload " + id);
  return Status{};
}

Status Meta::delete_upload(const std::string& id) {
  std::lock_guard lk(mu_);
  Stmt s(db_, "DELETE FROM uploads WHERE id=?");
  s.bind(1, id);
  if (s.step() != SQLITE_DONE) return db_error(db_, "delete upload " + id);
  return Status{};
}

Result<std::vector<std::string>> Meta::expired_uploads(int64_t updated_before) {
  std::lock_guard lk(mu_);
  Stmt s(db_, "SELECT id FROM uploads WHERE updated<?");
  s.bind(1, updated_before);
  std::vector<std::string> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(s.text(0));
  if (rc != SQLITE_DONE) return db_error(db_, "list expired uploads");
  return out;
}

Status Meta::gc_metadata(int64_t cutoff, GcStats* stats) {
  std::lock_guard lk(mu_);
  Txn t(db_);
  if (!t.ok()) return db_error(db_, "begin");
  using Key = std::pair<std::string, std::string>;  // (repo, digest)
  struct M {
    std::string subject;
    int64_t created;
  };
  std::map<Key, M> all;
  {
    Stmt s(db_, "SELECT repo, digest, subject, created FROM manifests");
    while (s.step() == SQLITE_ROW) all[{s.text(0), s.text(1)}] = M{s.is_null(2) ? "" : s.text(2), s.i64(3)};
  }
  std::multimap<Key, std::string> children;  // (repo, parent) -> child manifest
  std::multimap<Key, std::string> blobs;     // (repo, parent) -> blob
  {
    Stmt s(db_, "SELECT repo, parent, child, kind FROM manifest_refs");
    while (s.step() == SQLITE_ROW)
      (s.i64(3) == 1 ? children : blobs).emplace(Key{s.text(0), s.text(1)}, s.text(2));
  }
  std::set<Key> keep;
  std::vector<Key> work;
  auto mark = [&](const Key& k) {
    if (all.count(k) && keep.insert(k).second) work.push_back(k);
  };
  {
    Stmt s(db_, "SELECT repo, digest FROM tags");
    while (s.step() == SQLITE_ROW) mark({s.text(0), s.text(1)});
  }
  for (const auto& [k, m] : all)
    if (m.created >= cutoff) mark(k);
  // Referrers survive while their subject does: index subject -> referrers.
  std::multimap<Key, std::string> referrers_of;
  for (const auto& [k, m] : all)
    if (!m.subject.empty()) referrers_of.emplace(Key{k.first, m.subject}, k.second);
  while (!work.empty()) {
    Key k = work.back();
    work.pop_back();
    auto [a, b] = children.equal_range(k);
    for (auto it = a; it != b; ++it) mark({k.first, it->second});
    auto [c, e] = referrers_of.equal_range(k);
    for (auto it = c; it != e; ++it) mark({k.first, it->second});
  }
  for (const auto& [k, m] : all) {
    if (keep.count(k)) continue;
    Stmt d(db_, "DELETE FROM manifests WHERE repo=? AND digest=?");
    d.bind(1, k.first).bind(2, k.second);
    if (d.step() != SQLITE_DONE) return db_error(db_, "gc manifest " + k.second);
    Stmt r(db_, "DELETE FROM manifest_refs WHERE repo=? AND parent=?");
    r.bind(1, k.first).bind(2, k.second);
    if (r.step() != SQLITE_DONE) return db_error(db_, "gc references of " + k.second);
    stats->manifests_removed++;
  }
  std::set<Key> live_blobs;
  for (const auto& k : keep) {
    auto [a, b] = blobs.equal_range(k);
    for (auto it = a; it != b; ++it) live_blobs.insert({k.first, it->second});
  }
  std::vector<Key> dead_links;
  {
    Stmt s(db_, "SELECT repo, digest FROM blob_links WHERE created<?");
    s.bind(1, cutoff);
    while (s.step() == SQLITE_ROW) {
      Key k{s.text(0), s.text(1)};
      if (!live_blobs.count(k)) dead_links.push_back(k);
    }
  }
  for (const auto& k : dead_links) {
    Stmt d(db_, "DELETE FROM blob_links WHERE repo=? AND digest=?");
    d.bind(1, k.first).bind(2, k.second);
    if (d.step() != SQLITE_DONE) return db_error(db_, "gc link " + k.second);
    stats->links_removed++;
  }
  TRY(exec("DELETE FROM repos WHERE NOT EXISTS (SELECT 1 FROM manifests m WHERE m.repo=repos.name) "
           "AND NOT EXISTS (SELECT 1 FROM blob_links b WHERE b.repo=repos.name) "
           "AND NOT EXISTS (SELECT 1 FROM uploads u WHERE u.repo=repos.name)"));
  return t.commit();
}

Result<std::vector<std::string>> Meta::referenced_digests() {
  std::lock_guard lk(mu_);
  Stmt s(db_, "SELECT digest FROM blob_links UNION SELECT digest FROM manifests");
  std::vector<std::string> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(s.text(0));
  if (rc != SQLITE_DONE) return db_error(db_, "list referenced digests");
  return out;
}

Result<bool> Meta::if_unreferenced(const std::string& digest, const std::function<Status()>& fn) {
  std::lock_guard lk(mu_);
  Txn t(db_);
  if (!t.ok()) return db_error(db_, "begin");
  Stmt s(db_, "SELECT 1 FROM blob_links WHERE digest=? UNION ALL SELECT 1 FROM manifests WHERE digest=? LIMIT 1");
  s.bind(1, digest).bind(2, digest);
  int rc = s.step();
  if (rc == SQLITE_ROW) return false;
  if (rc != SQLITE_DONE) return db_error(db_, "check references of " + digest);
  TRY(fn());
  TRY(t.commit());
  return true;
}

}  // namespace berth::registry
