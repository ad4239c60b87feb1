// berth/metadata: connection setup, statements, transactions and migrations.
#include <sqlite3.h>
#include <time.h>

#include <chrono>
#include <thread>

#include "metadata/db.h"
#include "metadata/internal.h"

namespace berth::metadata {

namespace detail {

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  int primary = rc & 0xff;
  Errc code = Errc::io;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) code = Errc::busy;
  else if (primary == SQLITE_CONSTRAINT) code = Errc::already_exists;
  else if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) code = Errc::invalid_input;
  else if (primary == SQLITE_PERM || primary == SQLITE_READONLY || primary == SQLITE_AUTH) code = Errc::permission;
  else if (primary == SQLITE_FULL) code = Errc::limit;
  const char* msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Error(code, std::string(what) + ": " + (msg ? msg : sqlite3_errstr(rc)));
}

int64_t now_seconds() { return static_cast<int64_t>(::time(nullptr)); }

}  // namespace detail

using detail::sqlite_error;

// ---- Stmt ----

Stmt::Stmt(Stmt&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)), s_(std::exchange(o.s_, nullptr)), bind_status_(std::move(o.bind_status_)) {}
Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    if (s_) sqlite3_finalize(s_);
    db_ = std::exchange(o.db_, nullptr);
    s_ = std::exchange(o.s_, nullptr);
    bind_status_ = std::move(o.bind_status_);
  }
  return *this;
}
Stmt::~Stmt() {
  if (s_) sqlite3_finalize(s_);
}

Stmt& Stmt::bind(int i, std::string_view v) {
  int rc = sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_status_.ok()) bind_status_ = sqlite_error(db_, rc, "bind parameter " + std::to_string(i));
  return *this;
}
Stmt& Stmt::bind(int i, int64_t v) {
  int rc = sqlite3_bind_int64(s_, i, v);
  if (rc != SQLITE_OK && bind_status_.ok()) bind_status_ = sqlite_error(db_, rc, "bind parameter " + std::to_string(i));
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  int rc = sqlite3_bind_null(s_, i);
  if (rc != SQLITE_OK && bind_status_.ok()) bind_status_ = sqlite_error(db_, rc, "bind parameter " + std::to_string(i));
  return *this;
}

Result<bool> Stmt::step() {
  if (!bind_status_.ok()) return bind_status_.error();
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(db_, rc, std::string("sql \"") + std::string(sqlite3_sql(s_)).substr(0, 60) + "\"");
}

Status Stmt::run() {
  for (;;) {
    TRY_ASSIGN(bool row, step());
    if (!row) return Status{};
  }
}

std::string Stmt::text(int col) const {
  const unsigned char* p = sqlite3_column_text(s_, col);
  int n = sqlite3_column_bytes(s_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}
int64_t Stmt::int64(int col) const { return sqlite3_column_int64(s_, col); }
bool Stmt::is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }

// ---- DB ----

// The core schema. Append only: a released migration is never edited.
static constexpr int kWalAutocheckpointPages = 64;  // see DB::open

static constexpr Migration kCoreMigrations[] = {
    {1, "images and leases", R"sql(
CREATE TABLE images (
  name        TEXT PRIMARY KEY NOT NULL,
  digest      TEXT NOT NULL,
  media_type  TEXT NOT NULL,
  size        INTEGER NOT NULL CHECK (size >= 0),
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
CREATE INDEX images_by_digest ON images(digest);
CREATE TABLE leases (
  id          TEXT PRIMARY KEY NOT NULL,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE lease_resources (
  lease_id    TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
  kind        TEXT NOT NULL CHECK (kind IN ('blob', 'snapshot', 'ingest')),
  key         TEXT NOT NULL,
  PRIMARY KEY (lease_id, kind, key)
) WITHOUT ROWID;
CREATE TABLE schema_components (
  name        TEXT PRIMARY KEY NOT NULL,
  version     INTEGER NOT NULL
);
)sql"},
};

int DB::latest_schema_version() { return kCoreMigrations[std::size(kCoreMigrations) - 1].version; }

DB::DB(DB&& o) noexcept
    : db_(std::exchange(o.db_, nullptr)),
      path_(std::move(o.path_)),
      version_(o.version_),
      tx_depth_(o.tx_depth_),
      tx_write_(o.tx_write_) {}
DB& DB::operator=(DB&& o) noexcept {
  if (this != &o) {
    if (db_) sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
    path_ = std::move(o.path_);
    version_ = o.version_;
    tx_depth_ = o.tx_depth_;
    tx_write_ = o.tx_write_;
  }
  return *this;
}
DB::~DB() {
  if (db_) sqlite3_close_v2(db_);
}

int DB::schema_version() const { return version_; }

Result<Stmt> DB::prepare(std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &s, nullptr);
  if (rc != SQLITE_OK) return sqlite_error(db_, rc, "prepare \"" + std::string(sql.substr(0, 60)) + "\"");
  return Stmt(db_, s);
}

Status DB::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Error e = sqlite_error(db_, rc, "exec");
    e.message = "exec \"" + s.substr(0, 60) + "\": " + msg;
    return e;
  }
  return Status{};
}

Status DB::run_tx(bool write, const std::function<Status()>& fn) {
  if (tx_depth_ > 0) {
    // A write inside a read transaction would have to upgrade a snapshot,
    // which SQLite may refuse at any time (SQLITE_BUSY_SNAPSHOT): disallow.
    if (write && !tx_write_)
      return Error(Errc::invalid_argument, path_ + ": write transaction requested inside a read transaction");
    // Nested: a savepoint, so a failing inner step undoes only itself even if
    // the caller chooses to carry on.
    std::string sp = "berth_sp" + std::to_string(tx_depth_);
    TRY(exec("SAVEPOINT " + sp));
    tx_depth_++;
    Status st = fn();
    tx_depth_--;
    if (st.ok()) {
      TRY(exec("RELEASE " + sp));
      return st;
    }
    (void)exec("ROLLBACK TO " + sp);
    (void)exec("RELEASE " + sp);
    return st;
  }
  TRY(exec(write ? "BEGIN IMMEDIATE" : "BEGIN"));
  tx_depth_ = 1;
  tx_write_ = write;
  Status st = fn();
  tx_depth_ = 0;
  tx_write_ = false;
  if (st.ok()) {
    Status c = exec("COMMIT");
    if (c.ok()) return c;
    st = std::move(c);
  }
  // ROLLBACK may legitimately fail if SQLite already rolled back (e.g. on
  // SQLITE_FULL); the original error is the one worth reporting.
  if (sqlite3_get_autocommit(db_) == 0) (void)exec("ROLLBACK");
  return st;
}

Status DB::write(const std::function<Status()>& fn) { return run_tx(true, fn); }
Status DB::read(const std::function<Status()>& fn) { return run_tx(false, fn); }

static Result<int> user_version(DB& db) {
  TRY_ASSIGN(Stmt s, db.prepare("PRAGMA user_version"));
  TRY_ASSIGN(bool row, s.step());
  return row ? static_cast<int>(s.int64(0)) : 0;
}

Status DB::migrate_core() {
  TRY_ASSIGN(int v, user_version(*this));
  int latest = latest_schema_version();
  if (v == latest) {
    version_ = v;
    return Status{};
  }
  return write([&]() -> Status {
    // Re-read inside the write lock: a concurrent opener may have migrated.
    TRY_ASSIGN(int cur, user_version(*this));
    if (cur > latest)
      return Error(Errc::unsupported, path_ + ": schema version " + std::to_string(cur) +
                                          " is newer than this berth supports (" + std::to_string(latest) + ")");
    for (const Migration& m : kCoreMigrations) {
      if (m.version <= cur) continue;
      if (auto s = exec(m.sql); !s)
        return std::move(s).error().wrap(path_ + ": migration " + std::to_string(m.version) + " (" +
                                         std::string(m.name) + ")");
    }
    TRY(exec("PRAGMA user_version = " + std::to_string(latest)));
    version_ = latest;
    return Status{};
  });
}

Result<DB> DB::open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  DB db(raw, path);  // owns raw even on failure
  if (rc != SQLITE_OK) return sqlite_error(raw, rc, "open " + path);
  sqlite3_extended_result_codes(raw, 1);
  // Every CLI call is its own connection; checkpointing (and deleting) the
  // WAL each time the last one closes costs two syncs per command. The WAL
  // is checkpointed as it grows instead, and kept short: the first
  // connection of each process rebuilds the WAL index by reading every
  // frame, ~4 ms per run at SQLite's default 1000 pages; 64 pages (256 KiB)
  // bound that to ~0.3 ms for one checkpoint every few commands.
  sqlite3_db_config(raw, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, static_cast<int*>(nullptr));
  sqlite3_wal_autocheckpoint(raw, kWalAutocheckpointPages);
  // Writers queue behind each other instead of failing; the CLI's writes are short.
  sqlite3_busy_timeout(raw, 30000);
  // journal_mode=WAL needs a moment of exclusive access the first time; the
  // busy handler does not cover every path of that switch, so retry briefly.
  for (int attempt = 0;; attempt++) {
    auto s = db.prepare("PRAGMA journal_mode=WAL");
    if (!s) return std::move(s).error().wrap(path);
    auto row = s->step();
    if (row.ok()) {
      std::string mode = *row ? s->text(0) : "";
      if (mode != "wal") return Error(Errc::unsupported, path + ": cannot enable WAL journal (got \"" + mode + "\")");
      break;
    }
    if (row.error().code != Errc::busy || attempt >= 500) return std::move(row).error().wrap(path);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // FULL: a committed tag survives power loss, like the fsynced blobs it names.
  TRY(db.exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  TRY(db.migrate_core());
  return db;
}

Result<int> DB::component_version(std::string_view component) {
  TRY_ASSIGN(Stmt s, prepare("SELECT version FROM schema_components WHERE name = ?"));
  s.bind(1, component);
  TRY_ASSIGN(bool row, s.step());
  return row ? static_cast<int>(s.int64(0)) : 0;
}

Status DB::migrate(std::string_view component, std::span<const Migration> migrations) {
  if (component.empty()) return Error(Errc::invalid_argument, "migrate: empty component name");
  for (size_t i = 0; i < migrations.size(); i++)
    if (migrations[i].version != static_cast<int>(i) + 1)
      return Error(Errc::invalid_argument, "migrate " + std::string(component) + ": migration #" + std::to_string(i) +
                                               " has version " + std::to_string(migrations[i].version) +
                                               ", expected " + std::to_string(i + 1));
  int latest = static_cast<int>(migrations.size());
  TRY_ASSIGN(int v, component_version(component));
  if (v == latest) return Status{};
  return write([&]() -> Status {
    TRY_ASSIGN(int cur, component_version(component));
    if (cur > latest)
      return Error(Errc::unsupported, path_ + ": " + std::string(component) + " schema version " + std::to_string(cur) +
                                          " is newer than this berth supports (" + std::to_string(latest) + ")");
    for (const Migration& m : migrations) {
      if (m.version <= cur) continue;
      if (auto s = exec(m.sql); !s)
        return std::move(s).error().wrap(path_ + ": " + std::string(component) + " migration " +
                                         std::to_string(m.version) + " (" + std::string(m.name) + ")");
    }
    TRY_ASSIGN(Stmt up, prepare("INSERT INTO schema_components(name, version) VALUES(?, ?) "
                                "ON CONFLICT(name) DO UPDATE SET version = excluded.version"));
    up.bind(1, component).bind(2, static_cast<int64_t>(latest));
    return up.run();
  });
}

}  // namespace berth::metadata
