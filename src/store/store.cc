// berth/store: opening the store root, the store lock, write sessions.
#include "store/store.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "base/fs.h"

namespace berth {

static std::string absolute(std::string p) {
  if (p.empty() || p[0] == '/') return p;
  char buf[4096];
  if (!::getcwd(buf, sizeof buf)) return p;
  return path_join(buf, p);
}

std::string default_root(std::string_view flag) {
  if (!flag.empty()) return absolute(std::string(flag));
  if (const char* env = std::getenv("BERTH_ROOT"); env && *env) return absolute(env);
  if (::geteuid() == 0) return "/var/lib/berth";
  // XDG base-directory spec: relative values are invalid and must be ignored.
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && xdg[0] == '/') return path_join(xdg, "berth");
  std::string home;
  if (const char* h = std::getenv("HOME"); h && *h) {
    home = h;
  } else if (struct passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_dir) {
    home = pw->pw_dir;
  }
  if (home.empty()) home = "/tmp";  // no home at all: still a usable, per-boot location
  return path_join(home, ".local/share/berth");
}

Result<Store> Store::open(const std::string& root_in) {
  if (root_in.empty()) return Error(Errc::invalid_argument, "store: empty root path");
  std::string root = absolute(root_in);
  if (auto s = mkdir_p(root, 0700); !s) return std::move(s).error().wrap("open store");
  TRY_ASSIGN(content::Store c, content::Store::open(root));
  auto db = metadata::DB::open(path_join(root, "metadata.db"));
  if (!db) return std::move(db).error().wrap("open store " + root);
  if (auto s = mkdir_p(path_join(root, "snapshots"), 0700); !s) return std::move(s).error().wrap("open store");
  return Store(root, std::move(c), std::move(db).value());
}

std::string Store::snapshots_dir() const { return path_join(root_, "snapshots"); }

std::string Store::snapshot_path(const Digest& chain_id) const {
  return path_join(snapshots_dir(), chain_id.encoded_path());
}

Result<StoreLock> Store::lock(int op, bool wait) {
  std::string p = path_join(root_, "lock");
  UniqueFd fd(::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return sys_error("open store lock " + p);
  for (;;) {
    if (::flock(fd.get(), op | (wait ? 0 : LOCK_NB)) == 0) break;
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK)
      return Error(Errc::busy, "store " + root_ + ": " +
                                   (op == LOCK_EX ? "writers are active" : "garbage collection is running"));
    return sys_error("lock " + p);
  }
  return StoreLock(std::move(fd));
}

Result<StoreLock> Store::lock_shared(bool wait) { return lock(LOCK_SH, wait); }
Result<StoreLock> Store::lock_exclusive(bool wait) { return lock(LOCK_EX, wait); }

// ---- WriteSession ----

Result<WriteSession> WriteSession::begin(Store& store, int64_t ttl_seconds) {
  TRY_ASSIGN(StoreLock l, store.lock_shared());
  auto lease = store.db().create_lease("", ttl_seconds);
  if (!lease) return std::move(lease).error().wrap("begin write session");
  return WriteSession(&store, std::move(l), lease->id);
}

WriteSession::WriteSession(WriteSession&& o) noexcept
    : store_(std::exchange(o.store_, nullptr)),
      lock_(std::move(o.lock_)),
      lease_id_(std::move(o.lease_id_)),
      done_(std::exchange(o.done_, true)) {}

WriteSession::~WriteSession() {
  if (store_ && !done_) (void)store_->db().delete_lease(lease_id_);
}

Status WriteSession::protect(metadata::ResourceKind kind, std::string_view key) {
  if (!store_ || done_) return Error(Errc::invalid_argument, "write session already committed");
  return store_->db().add_lease_resource(lease_id_, kind, key);
}

Status WriteSession::commit(std::span<const metadata::Image> images) {
  if (!store_ || done_) return Error(Errc::invalid_argument, "write session already committed");
  metadata::DB& db = store_->db();
  Status s = db.write([&]() -> Status {
    for (const auto& img : images) TRY(db.put_image(img));
    // Someone may have expired our lease already; naming the images is what counts.
    auto d = db.delete_lease(lease_id_);
    if (!d && d.error().code != Errc::not_found) return d;
    return Status{};
  });
  if (!s) return s;
  done_ = true;
  lock_.release();
  return Status{};
}

void WriteSession::detach() {
  done_ = true;
  lock_.release();
}

}  // namespace berth
