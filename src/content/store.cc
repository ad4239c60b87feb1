// berth/content: the read side, one-shot puts and listing of the blob store.
#include "content/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "base/fs.h"
#include "content/internal.h"

namespace berth::content {

namespace detail {

std::string ingest_root(const std::string& root) { return path_join(root, "ingest"); }

std::string blobs_dir(const std::string& root, DigestAlg alg) {
  return path_join(root, alg == DigestAlg::sha256 ? "blobs/sha256" : "blobs/sha512");
}

Result<bool> publish(const std::string& root, const std::string& src, const Digest& d) {
  std::string dir = blobs_dir(root, d.alg());
  std::string dst = path_join(dir, d.hex());
  // NOREPLACE: an existing blob is never swapped under a reader, and a
  // concurrent winner is detected rather than silently overwritten.
  int rc = ::renameat2(AT_FDCWD, src.c_str(), AT_FDCWD, dst.c_str(), RENAME_NOREPLACE);
  if (rc != 0 && errno == EINVAL) {
    // Filesystem without RENAME_NOREPLACE: link(2) has the same no-replace semantics.
    rc = ::link(src.c_str(), dst.c_str());
    if (rc == 0) ::unlink(src.c_str());
  }
  if (rc != 0) {
    if (errno == EEXIST) {
      // Another writer won. Refresh mtime so GC grace periods count from the
      // newest write, not the first.
      ::utimensat(AT_FDCWD, dst.c_str(), nullptr, 0);
      return false;
    }
    return sys_error("publish blob " + d.str() + ": rename " + src + " -> " + dst);
  }
  TRY(fsync_dir(dir));
  return true;
}

Status discard_dir(const std::string& root, const std::string& dir) {
  std::string trash = path_join(ingest_root(root), unique_name(kTrashPrefix));
  if (::rename(dir.c_str(), trash.c_str()) != 0) {
    if (errno == ENOENT) return Status{};
    return sys_error("discard ingest " + dir);
  }
  return remove_all(trash);
}

}  // namespace detail

using detail::kBufSize;

Result<Store> Store::open(const std::string& root) {
  if (root.empty()) return Error(Errc::invalid_argument, "content store: empty root path");
  // Both algorithm directories exist up front so publishing never has to
  // create (and fsync the parent of) a directory on the hot path.
  for (DigestAlg a : {DigestAlg::sha256, DigestAlg::sha512})
    if (auto s = mkdir_p(detail::blobs_dir(root, a)); !s) return std::move(s).error().wrap("open content store");
  if (auto s = mkdir_p(detail::ingest_root(root)); !s) return std::move(s).error().wrap("open content store");
  return Store(root);
}

std::string Store::blob_path(const Digest& d) const { return path_join(detail::blobs_dir(root_, d.alg()), d.hex()); }

bool Store::has(const Digest& d) const {
  struct stat st;
  return !d.empty() && ::stat(blob_path(d).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

static Error not_found(const Digest& d) { return Error(Errc::not_found, "blob " + d.str() + ": not found"); }

Result<Info> Store::info(const Digest& d) const {
  if (d.empty()) return Error(Errc::invalid_argument, "blob info: empty digest");
  struct stat st;
  if (::stat(blob_path(d).c_str(), &st) != 0) {
    if (errno == ENOENT) return not_found(d);
    return sys_error("stat blob " + d.str());
  }
  return Info{d, static_cast<uint64_t>(st.st_size), static_cast<int64_t>(st.st_mtim.tv_sec)};
}

Result<UniqueFd> Store::open_blob(const Digest& d) const {
  if (d.empty()) return Error(Errc::invalid_argument, "open blob: empty digest");
  UniqueFd fd(::open(blob_path(d).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return not_found(d);
    return sys_error("open blob " + d.str());
  }
  return fd;
}

Result<std::string> Store::read_blob(const Digest& d, uint64_t limit) const {
  TRY_ASSIGN(UniqueFd fd, open_blob(d));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return sys_error("stat blob " + d.str());
  if (static_cast<uint64_t>(st.st_size) > limit)
    return Error(Errc::limit, "blob " + d.str() + ": " + std::to_string(st.st_size) + " bytes exceeds limit of " +
                                  std::to_string(limit));
  std::string out(static_cast<size_t>(st.st_size), '\0');
  TRY_ASSIGN(size_t n, read_full(fd.get(), out.data(), out.size()));
  if (n != out.size()) return Error(Errc::io, "read blob " + d.str() + ": short read");
  return out;
}

// Hashes everything readable from fd; returns the digest, and the byte count via *n.
static Result<Digest> hash_fd(int fd, DigestAlg alg, uint64_t* n, const std::string& what) {
  auto buf = std::make_unique<char[]>(kBufSize);
  Hasher h(alg);
  for (;;) {
    auto r = read_full(fd, buf.get(), kBufSize);
    if (!r) return std::move(r).error().wrap(what);
    if (*r == 0) break;
    h.update(buf.get(), *r);
  }
  *n = h.bytes();
  return h.finish();
}

Status Store::verify(const Digest& d) const {
  TRY_ASSIGN(UniqueFd fd, open_blob(d));
  uint64_t n = 0;
  TRY_ASSIGN(Digest got, hash_fd(fd.get(), d.alg(), &n, "verify blob " + d.str()));
  if (!(got == d)) return Error(Errc::digest_mismatch, "blob " + d.str() + ": content hashes to " + got.str());
  return Status{};
}

Result<Digest> Store::put(std::string_view data, std::optional<Digest> expected) {
  DigestAlg alg = expected ? expected->alg() : DigestAlg::sha256;
  // Small content: hashing first is cheap and lets a repeated put skip all I/O.
  Digest got = Digest::of(data, alg);
  if (expected && !(got == *expected))
    return Error(Errc::digest_mismatch, "put blob: expected " + expected->str() + ", content hashes to " + got.str());
  if (has(got)) return got;
  // Already verified in memory: a single temp file (no ingest entry, no lock)
  // is enough. A crash leaves only an ingest/.tmp.* file for expiry.
  std::string tmp = path_join(detail::ingest_root(root_), unique_name(detail::kTmpPrefix));
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (!fd) return sys_error("put blob " + got.str() + ": create " + tmp);
  auto fail = [&](Error e) -> Error {
    ::unlink(tmp.c_str());
    return e;
  };
  if (auto w = write_all(fd.get(), data.data(), data.size()); !w) return fail(std::move(w).error().wrap("put blob " + got.str()));
  if (::fsync(fd.get()) != 0) return fail(sys_error("put blob " + got.str() + ": fsync"));
  fd.reset();
  auto pub = detail::publish(root_, tmp, got);
  if (!pub) return fail(std::move(pub).error());
  if (!*pub) ::unlink(tmp.c_str());  // another writer won
  return got;
}

// Hard-links `path` into the store. Returns nullopt (not an error) when the
// link is impossible (other filesystem, protected_hardlinks), so the caller copies.
static Result<std::optional<Digest>> put_linked(const std::string& root, const std::string& path,
                                                std::optional<Digest> expected) {
  std::string ingest = detail::ingest_root(root);
  std::string tmpdir = path_join(ingest, unique_name(detail::kTmpPrefix));
  if (::mkdir(tmpdir.c_str(), 0700) != 0) return sys_error("create " + tmpdir);
  std::string data = path_join(tmpdir, "data");
  auto cleanup = [&] { (void)remove_all(tmpdir); };
  if (::link(path.c_str(), data.c_str()) != 0) {
    int e = errno;
    cleanup();
    if (e == EXDEV || e == EPERM || e == EMLINK) return std::optional<Digest>{};
    return sys_error("link " + path + " -> " + data, e);
  }
  UniqueFd fd(::open(data.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    auto e = sys_error("open " + data);
    cleanup();
    return e;
  }
  uint64_t n = 0;
  auto got = hash_fd(fd.get(), expected ? expected->alg() : DigestAlg::sha256, &n, "import " + path);
  if (!got) {
    cleanup();
    return std::move(got).error();
  }
  if (expected && !(*got == *expected)) {
    cleanup();
    return Error(Errc::digest_mismatch, "import " + path + ": expected " + expected->str() + ", content hashes to " +
                                            got->str());
  }
  // The caller may never have synced its file; the blob must be durable.
  if (::fsync(fd.get()) != 0) {
    auto e = sys_error("fsync " + path);
    cleanup();
    return e;
  }
  auto pub = detail::publish(root, data, *got);
  cleanup();
  if (!pub) return std::move(pub).error();
  return std::optional<Digest>(*got);
}

Result<Digest> Store::put_file(const std::string& path, std::optional<Digest> expected, PutMode mode) {
  if (expected && has(*expected)) return *expected;
  UniqueFd src(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!src) return sys_error("import " + path + ": open");
  struct stat st;
  if (::fstat(src.get(), &st) != 0) return sys_error("import " + path + ": stat");
  if (!S_ISREG(st.st_mode)) return Error(Errc::invalid_argument, "import " + path + ": not a regular file");
  if (mode == PutMode::link_if_possible) {
    TRY_ASSIGN(std::optional<Digest> linked, put_linked(root_, path, expected));
    if (linked) return *linked;
  }
  ::posix_fadvise(src.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  TRY_ASSIGN(Writer w, writer("", expected ? expected->alg() : DigestAlg::sha256));
  auto buf = std::make_unique<char[]>(kBufSize);
  for (;;) {
    auto r = read_full(src.get(), buf.get(), kBufSize);
    if (!r) return std::move(r).error().wrap("import " + path);
    if (*r == 0) break;
    TRY(w.write(buf.get(), *r));
  }
  auto d = w.commit(expected);
  if (!d) return std::move(d).error().wrap("import " + path);
  return d;
}

Status Store::remove(const Digest& d) {
  if (d.empty()) return Error(Errc::invalid_argument, "remove blob: empty digest");
  std::string p = blob_path(d);
  if (::unlink(p.c_str()) != 0) {
    if (errno == ENOENT) return not_found(d);
    return sys_error("remove blob " + d.str());
  }
  return Status{};
}

Result<std::vector<Info>> Store::list() const {
  std::vector<Info> out;
  for (DigestAlg alg : {DigestAlg::sha256, DigestAlg::sha512}) {
    std::string dir = detail::blobs_dir(root_, alg);
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) {
      if (errno == ENOENT) continue;
      return sys_error("list blobs: open " + dir);
    }
    std::string prefix = alg == DigestAlg::sha256 ? "sha256:" : "sha512:";
    for (;;) {
      errno = 0;
      struct dirent* e = ::readdir(d.get());
      if (!e) {
        if (errno != 0) return sys_error("list blobs: read " + dir);
        break;
      }
      if (e->d_name[0] == '.') continue;
      // Names that are not valid digests are not blobs (stray files); skip them.
      auto dg = Digest::parse(prefix + e->d_name);
      if (!dg) continue;
      struct stat st;
      if (::fstatat(::dirfd(d.get()), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // removed concurrently
        return sys_error("list blobs: stat " + dg->str());
      }
      if (!S_ISREG(st.st_mode)) continue;
      out.push_back(Info{*dg, static_cast<uint64_t>(st.st_size), static_cast<int64_t>(st.st_mtim.tv_sec)});
    }
  }
  return out;
}

}  // namespace berth::content
