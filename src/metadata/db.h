// berth/metadata: the SQLite database at <root>/metadata.db.
//
// Promises:
//  - WAL journal, synchronous=FULL, foreign keys on, busy_timeout, and every
//    write inside BEGIN IMMEDIATE: many short-lived CLI processes may read and
//    write at once, and a `kill -9` at any instant leaves the last committed
//    state (no state is kept outside SQLite transactions).
//  - Schema versions: the core tables (images, leases) are versioned with
//    PRAGMA user_version and an ordered list of migrations applied in one
//    transaction at open(). A database newer than this binary is refused.
//    Other concerns (engine: containers/volumes/events, build cache, ...) own
//    their tables through migrate("<component>", their_migrations): each
//    component has its own ordered version sequence (table schema_components),
//    so they add tables without touching this library or colliding on numbers.
//  - Helpers compose: inside write([&]{ ... }) the put_/delete_ calls join the
//    surrounding transaction, so "tag image + drop lease" is atomic.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "digest/digest.h"

struct sqlite3;
struct sqlite3_stmt;

namespace berth::metadata {

// What an image name points at (an OCI descriptor, minus annotations).
struct Target {
  Digest digest;
  std::string media_type;
  int64_t size = 0;
};

struct Image {
  std::string name;  // full reference, e.g. "docker.io/library/busybox:latest"
  Target target;
  int64_t created_at = 0;  // unix seconds; set by put_image, kept across re-tags
  int64_t updated_at = 0;
};

enum class ResourceKind { blob, snapshot, ingest };
const char* resource_kind_name(ResourceKind k);  // "blob" / "snapshot" / "ingest"

// A lease keeps resources alive across GC while something is being written.
struct Lease {
  std::string id;
  int64_t created_at = 0;
  int64_t expires_at = 0;  // 0: never (must be deleted explicitly)
};

struct LeaseResource {
  std::string lease_id;
  ResourceKind kind = ResourceKind::blob;
  std::string key;  // blob/snapshot: digest string ("sha256:..."); ingest: the ingest ref
};

struct Migration {
  int version;               // 1, 2, 3... in order, no gaps
  std::string_view name;     // for error messages
  std::string_view sql;      // one or more statements, run inside the migration transaction
};

// A prepared statement; bind indices are 1-based as in SQLite.
class Stmt {
 public:
  Stmt(Stmt&&) noexcept;
  Stmt& operator=(Stmt&&) noexcept;
  ~Stmt();
  Stmt& bind(int i, std::string_view v);
  Stmt& bind(int i, int64_t v);
  Stmt& bind_null(int i);
  // true while a row is available; false when done.
  Result<bool> step();
  Status run();  // step to completion, ignoring rows
  std::string text(int col) const;  // 0-based columns
  int64_t int64(int col) const;
  bool is_null(int col) const;

 private:
  friend class DB;
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  sqlite3* db_ = nullptr;
  sqlite3_stmt* s_ = nullptr;
  Status bind_status_;  // first bind error, reported by step()
};

class DB {
 public:
  // Opens (creating if needed) and migrates the core schema.
  static Result<DB> open(const std::string& path);
  DB(DB&&) noexcept;
  DB& operator=(DB&&) noexcept;
  ~DB();

  const std::string& path() const { return path_; }
  int schema_version() const;  // core PRAGMA user_version after open
  static int latest_schema_version();

  // Applies the component's migrations newer than its recorded version, all
  // in one IMMEDIATE transaction; idempotent and safe against concurrent callers.
  Status migrate(std::string_view component, std::span<const Migration> migrations);
  Result<int> component_version(std::string_view component);

  // Runs fn inside BEGIN IMMEDIATE ... COMMIT (rollback if fn fails). Nested
  // calls run in a savepoint of the outer transaction: a failing inner call
  // undoes only its own changes. write() inside read() is refused.
  Status write(const std::function<Status()>& fn);
  // Runs fn inside a read transaction (one consistent snapshot).
  Status read(const std::function<Status()>& fn);
  Result<Stmt> prepare(std::string_view sql);
  Status exec(std::string_view sql);  // statements without parameters or results
  sqlite3* handle() { return db_; }

  // ---- images ----
  // Insert or replace the name's target (tag / re-tag); created_at is kept
  // when the name already existed.
  Status put_image(const Image& img);
  Result<Image> get_image(std::string_view name);  // not_found
  Result<std::vector<Image>> list_images();        // ordered by name
  Result<std::vector<Image>> images_by_target(const Digest& d);
  Status delete_image(std::string_view name);  // not_found

  // ---- leases ----
  // id "" picks a random one; ttl_seconds 0 means no expiry.
  Result<Lease> create_lease(std::string id = "", int64_t ttl_seconds = 0);
  Status delete_lease(std::string_view id);  // not_found; resources go with it
  Result<std::vector<Lease>> list_leases();
  Status add_lease_resource(std::string_view lease_id, ResourceKind kind, std::string_view key);
  Status remove_lease_resource(std::string_view lease_id, ResourceKind kind, std::string_view key);
  // All resources, or those of one lease.
  Result<std::vector<LeaseResource>> lease_resources(std::optional<std::string_view> lease_id = std::nullopt);
  // Deletes leases with 0 < expires_at <= now (default: the current time); returns how many.
  Result<int> expire_leases(std::optional<int64_t> now = std::nullopt);

 private:
  DB(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status migrate_core();
  Status run_tx(bool write, const std::function<Status()>& fn);
  sqlite3* db_ = nullptr;
  std::string path_;
  int version_ = 0;
  int tx_depth_ = 0;       // 0: no transaction of ours; >1: inside savepoints
  bool tx_write_ = false;  // the outermost transaction is BEGIN IMMEDIATE
};

}  // namespace berth::metadata
