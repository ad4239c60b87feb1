// berth/metadata: image names and leases.
#include <sqlite3.h>

#include <random>

#include "metadata/db.h"
#include "metadata/internal.h"

namespace berth::metadata {

using detail::now_seconds;

const char* resource_kind_name(ResourceKind k) {
  switch (k) {
    case ResourceKind::blob: return "blob";
    case ResourceKind::snapshot: return "snapshot";
    case ResourceKind::ingest: return "ingest";
  }
  return "blob";
}

static std::optional<ResourceKind> parse_kind(std::string_view s) {
  if (s == "blob") return ResourceKind::blob;
  if (s == "snapshot") return ResourceKind::snapshot;
  if (s == "ingest") return ResourceKind::ingest;
  return std::nullopt;
}

// ---- images ----

static Status validate_name(std::string_view name) {
  if (name.empty() || name.size() > 4096)
    return Error(Errc::invalid_argument, "image name must be 1..4096 characters");
  for (unsigned char c : name)
    if (c < 0x21 || c == 0x7f)
      return Error(Errc::invalid_argument, "image name \"" + std::string(name.substr(0, 80)) +
                                               "\": contains whitespace or control characters");
  return Status{};
}

static Result<Image> image_row(const Stmt& s, std::string_view where) {
  auto d = Digest::parse(s.text(1));
  if (!d) return std::move(d).error().wrap("metadata image " + s.text(0) + " (" + std::string(where) + ")");
  return Image{s.text(0), Target{*d, s.text(2), s.int64(3)}, s.int64(4), s.int64(5)};
}

static constexpr const char* kImageCols = "SELECT name, digest, media_type, size, created_at, updated_at FROM images";

Status DB::put_image(const Image& img) {
  TRY(validate_name(img.name));
  if (img.target.digest.empty()) return Error(Errc::invalid_argument, "put image " + img.name + ": empty target digest");
  if (img.target.size < 0) return Error(Errc::invalid_argument, "put image " + img.name + ": negative size");
  int64_t now = now_seconds();
  return write([&]() -> Status {
    TRY_ASSIGN(Stmt s, prepare("INSERT INTO images(name, digest, media_type, size, created_at, updated_at) "
                               "VALUES(?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT(name) DO UPDATE SET "
                               "digest = excluded.digest, media_type = excluded.media_type, "
                               "size = excluded.size, updated_at = excluded.updated_at"));
    s.bind(1, img.name).bind(2, img.target.digest.str()).bind(3, img.target.media_type);
    s.bind(4, img.target.size).bind(5, img.created_at ? img.created_at : now);
    if (auto r = s.run(); !r) return std::move(r).error().wrap("put image " + img.name);
    return Status{};
  });
}

Result<Image> DB::get_image(std::string_view name) {
  TRY_ASSIGN(Stmt s, prepare(std::string(kImageCols) + " WHERE name = ?"));
  s.bind(1, name);
  TRY_ASSIGN(bool row, s.step());
  if (!row) return Error(Errc::not_found, "image " + std::string(name.substr(0, 256)) + ": not found");
  return image_row(s, "get");
}

static Result<std::vector<Image>> collect_images(Stmt& s) {
  std::vector<Image> out;
  for (;;) {
    TRY_ASSIGN(bool row, s.step());
    if (!row) break;
    TRY_ASSIGN(Image img, image_row(s, "list"));
    out.push_back(std::move(img));
  }
  return out;
}

Result<std::vector<Image>> DB::list_images() {
  TRY_ASSIGN(Stmt s, prepare(std::string(kImageCols) + " ORDER BY name"));
  return collect_images(s);
}

Result<std::vector<Image>> DB::images_by_target(const Digest& d) {
  TRY_ASSIGN(Stmt s, prepare(std::string(kImageCols) + " WHERE digest = ? ORDER BY name"));
  s.bind(1, d.str());
  return collect_images(s);
}

Status DB::delete_image(std::string_view name) {
  TRY_ASSIGN(Stmt s, prepare("DELETE FROM images WHERE name = ?"));
  s.bind(1, name);
  TRY(s.run());
  if (sqlite3_changes(db_) == 0) return Error(Errc::not_found, "image " + std::string(name.substr(0, 256)) + ": not found");
  return Status{};
}

// ---- leases ----

static std::string random_id() {
  std::random_device rd;
  static const char* hex = "0123456789abcdef";
  std::string id(32, '0');
  for (size_t i = 0; i < id.size(); i += 8) {
    uint32_t x = rd();
    for (size_t j = 0; j < 8; j++) id[i + j] = hex[(x >> (4 * j)) & 15];
  }
  return id;
}

static Status validate_lease_id(std::string_view id) {
  if (id.empty() || id.size() > 256) return Error(Errc::invalid_argument, "lease id must be 1..256 characters");
  for (unsigned char c : id)
    if (c < 0x21 || c == 0x7f)
      return Error(Errc::invalid_argument, "lease id \"" + std::string(id.substr(0, 80)) + "\": invalid character");
  return Status{};
}

Result<Lease> DB::create_lease(std::string id, int64_t ttl_seconds) {
  if (id.empty()) id = random_id();
  TRY(validate_lease_id(id));
  if (ttl_seconds < 0) return Error(Errc::invalid_argument, "lease " + id + ": negative ttl");
  Lease l{id, now_seconds(), ttl_seconds ? now_seconds() + ttl_seconds : 0};
  TRY_ASSIGN(Stmt s, prepare("INSERT INTO leases(id, created_at, expires_at) VALUES(?, ?, ?)"));
  s.bind(1, l.id).bind(2, l.created_at).bind(3, l.expires_at);
  if (auto r = s.run(); !r) {
    if (r.error().code == Errc::already_exists) return Error(Errc::already_exists, "lease " + id + ": already exists");
    return std::move(r).error().wrap("create lease " + id);
  }
  return l;
}

Status DB::delete_lease(std::string_view id) {
  TRY_ASSIGN(Stmt s, prepare("DELETE FROM leases WHERE id = ?"));
  s.bind(1, id);
  TRY(s.run());
  if (sqlite3_changes(db_) == 0) return Error(Errc::not_found, "lease " + std::string(id.substr(0, 256)) + ": not found");
  return Status{};
}

Result<std::vector<Lease>> DB::list_leases() {
  TRY_ASSIGN(Stmt s, prepare("SELECT id, created_at, expires_at FROM leases ORDER BY created_at, id"));
  std::vector<Lease> out;
  for (;;) {
    TRY_ASSIGN(bool row, s.step());
    if (!row) break;
    out.push_back(Lease{s.text(0), s.int64(1), s.int64(2)});
  }
  return out;
}

Status DB::add_lease_resource(std::string_view lease_id, ResourceKind kind, std::string_view key) {
  if (key.empty() || key.size() > 4096) return Error(Errc::invalid_argument, "lease resource key must be 1..4096 characters");
  std::string what = std::string("lease ") + std::string(lease_id.substr(0, 256)) + ": add " +
                     resource_kind_name(kind) + " " + std::string(key.substr(0, 160));
  return write([&]() -> Status {
    TRY_ASSIGN(Stmt q, prepare("SELECT 1 FROM leases WHERE id = ?"));
    q.bind(1, lease_id);
    TRY_ASSIGN(bool exists, q.step());
    if (!exists) return Error(Errc::not_found, what + ": no such lease");
    TRY_ASSIGN(Stmt s, prepare("INSERT OR IGNORE INTO lease_resources(lease_id, kind, key) VALUES(?, ?, ?)"));
    s.bind(1, lease_id).bind(2, std::string_view(resource_kind_name(kind))).bind(3, key);
    if (auto r = s.run(); !r) return std::move(r).error().wrap(what);
    return Status{};
  });
}

Status DB::remove_lease_resource(std::string_view lease_id, ResourceKind kind, std::string_view key) {
  TRY_ASSIGN(Stmt s, prepare("DELETE FROM lease_resources WHERE lease_id = ? AND kind = ? AND key = ?"));
  s.bind(1, lease_id).bind(2, std::string_view(resource_kind_name(kind))).bind(3, key);
  return s.run();
}

Result<std::vector<LeaseResource>> DB::lease_resources(std::optional<std::string_view> lease_id) {
  std::string sql = "SELECT lease_id, kind, key FROM lease_resources";
  if (lease_id) sql += " WHERE lease_id = ?";
  sql += " ORDER BY lease_id, kind, key";
  TRY_ASSIGN(Stmt s, prepare(sql));
  if (lease_id) s.bind(1, *lease_id);
  std::vector<LeaseResource> out;
  for (;;) {
    TRY_ASSIGN(bool row, s.step());
    if (!row) break;
    auto k = parse_kind(s.text(1));
    if (!k) return Error(Errc::invalid_input, "metadata: lease " + s.text(0) + " has unknown resource kind " + s.text(1));
    out.push_back(LeaseResource{s.text(0), *k, s.text(2)});
  }
  return out;
}

Result<int> DB::expire_leases(std::optional<int64_t> now) {
  TRY_ASSIGN(Stmt s, prepare("DELETE FROM leases WHERE expires_at > 0 AND expires_at <= ?"));
  s.bind(1, now ? *now : now_seconds());
  TRY(s.run());
  return sqlite3_changes(db_);
}

}  // namespace berth::metadata
