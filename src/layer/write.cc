// Deterministic tar layer writer: DFS with children sorted bytewise, PAX
// (restricted: plain ustar headers unless an extension is needed), numeric
// owners, hard links by (dev, inode), xattrs, overlay upper dirs translated
// back to OCI whiteouts. The stream is hashed before compression (diff_id)
// and after (blob digest) as it is written.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "base/fs.h"
#include "base/userns.h"
#include "layer/layer.h"
#include "layer/pgzip.h"

namespace berth::layer {

namespace {
// libarchive may report a failure without a message (found by fuzz_layer_apply:
// a NULL here crashed the error path).
const char* archive_err(struct archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "malformed archive";
}
}  // namespace

namespace {

// Compressor + hashers behind libarchive's write callback.
class Sink {
 public:
  Sink(int fd, const WriteOptions& o) : fd_(fd), o_(o), diff_(o.alg), blob_(o.alg) {}
  ~Sink() {
    if (zc_) ZSTD_freeCCtx(zc_);
  }

  Status init() {
    if (o_.compression == Compression::gzip) {
      unsigned threads = o_.threads ? o_.threads : std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
      gz_ = std::make_unique<detail::ParallelGzip>(o_.level, threads,
                                                   [this](const void* p, size_t n) { return emit(p, n); });
    } else if (o_.compression == Compression::zstd) {
      zc_ = ZSTD_createCCtx();
      if (!zc_) return Error(Errc::internal, "zstd: out of memory");
      ZSTD_CCtx_setParameter(zc_, ZSTD_c_compressionLevel, o_.level < 0 ? 3 : o_.level);
      ZSTD_CCtx_setParameter(zc_, ZSTD_c_checksumFlag, 1);
    }
    out_.resize(1 << 20);
    return Status{};
  }

  Status write(const void* data, size_t len, bool final) {
    diff_.update(data, len);
    raw_bytes_ += len;
    switch (o_.compression) {
      case Compression::none:
        return emit(data, len);
      case Compression::gzip:
        TRY(gz_->write(data, len));
        return final ? gz_->finish() : Status{};
      case Compression::zstd: {
        ZSTD_inBuffer in{data, len, 0};
        for (;;) {
          ZSTD_outBuffer ob{out_.data(), out_.size(), 0};
          size_t rem = ZSTD_compressStream2(zc_, &ob, &in, final ? ZSTD_e_end : ZSTD_e_continue);
          if (ZSTD_isError(rem)) return Error(Errc::internal, std::string("zstd: ") + ZSTD_getErrorName(rem));
          TRY(emit(out_.data(), ob.pos));
          if (final ? rem == 0 : in.pos == in.size) break;
        }
        return Status{};
      }
    }
    return Status{};
  }

  void fill(WriteStats& s) {
    s.diff_id = diff_.finish();
    s.blob_digest = o_.compression == Compression::none ? s.diff_id : blob_.finish();
    s.uncompressed_size = raw_bytes_;
    s.compressed_size = out_bytes_;
  }

  std::optional<Error> error;

 private:
  Status emit(const void* p, size_t n) {
    if (n == 0) return Status{};
    if (o_.compression != Compression::none) blob_.update(p, n);
    out_bytes_ += n;
    return write_all(fd_, p, n);
  }

  int fd_;
  const WriteOptions& o_;
  Hasher diff_, blob_;
  std::unique_ptr<detail::ParallelGzip> gz_;
  ZSTD_CCtx* zc_ = nullptr;
  std::vector<char> out_;
  uint64_t raw_bytes_ = 0, out_bytes_ = 0;
};

la_ssize_t write_cb(struct archive* a, void* ud, const void* buf, size_t n) {
  auto* s = static_cast<Sink*>(ud);
  if (auto st = s->write(buf, n, false); !st) {
    s->error = std::move(st).error();
    archive_set_error(a, EIO, "%s", s->error->message.c_str());
    return -1;
  }
  return static_cast<la_ssize_t>(n);
}

bool skip_xattr(std::string_view n) {
  // Overlay bookkeeping is translated (opaque) or meaningless outside this
  // host; SELinux labels are the host's, not the image's.
  return n.starts_with("trusted.overlay.") || n.starts_with("user.overlay.") || n == "security.selinux";
}

class Writer {
 public:
  Writer(struct archive* a, const WriteOptions& o, WriteStats& s)
      : a_(a), o_(o), s_(s),
        opaque_xattr_(o.userns.value_or(in_user_namespace()) ? "user.overlay.opaque" : "trusted.overlay.opaque") {}

  Status walk(int dirfd, const std::string& rel);

 private:
  Status add(int dirfd, const std::string& name, const std::string& rel, const struct stat& st);
  Status header(struct archive_entry* e, const std::string& what) {
    if (archive_write_header(a_, e) < ARCHIVE_WARN)
      return Error(Errc::io, "write header for \"" + what + "\": " + archive_err(a_));
    s_.entries++;
    return Status{};
  }
  Status whiteout_entry(const std::string& rel, const struct stat& st);
  void base_entry(struct archive_entry* e, const std::string& rel, const struct stat& st) {
    archive_entry_set_pathname(e, rel.c_str());
    archive_entry_set_uid(e, st.st_uid);
    archive_entry_set_gid(e, st.st_gid);
    archive_entry_set_mode(e, st.st_mode);
    if (o_.fixed_mtime)
      archive_entry_set_mtime(e, *o_.fixed_mtime, 0);
    else
      archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  }
  Status add_xattrs(struct archive_entry* e, int dirfd, const std::string& name, bool* opaque);

  struct archive* a_;
  const WriteOptions& o_;
  WriteStats& s_;
  const char* opaque_xattr_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

Status Writer::add_xattrs(struct archive_entry* e, int dirfd, const std::string& name, bool* opaque) {
  std::string p = "/proc/self/fd/" + std::to_string(dirfd) + "/" + name;
  std::vector<char> names(4096);
  ssize_t n;
  for (;;) {
    n = ::llistxattr(p.c_str(), names.data(), names.size());
    if (n >= 0) break;
    if (errno == ERANGE) {
      names.resize(names.size() * 4);
      continue;
    }
    if (errno == ENOTSUP) return Status{};
    return sys_error("list xattrs of " + name);
  }
  std::vector<std::string> keys;
  for (ssize_t i = 0; i < n;) {
    std::string k(&names[i]);
    i += static_cast<ssize_t>(k.size()) + 1;
    keys.push_back(std::move(k));
  }
  std::sort(keys.begin(), keys.end());
  for (auto& k : keys) {
    std::vector<char> v(65536);
    ssize_t vn = ::lgetxattr(p.c_str(), k.c_str(), v.data(), v.size());
    if (vn < 0) {
      if (errno == ENODATA) continue;
      return sys_error("read xattr " + k + " of " + name);
    }
    if (o_.overlay_upper && k == opaque_xattr_ && vn == 1 && v[0] == 'y') *opaque = true;
    if (skip_xattr(k)) continue;
    archive_entry_xattr_add_entry(e, k.c_str(), v.data(), static_cast<size_t>(vn));
  }
  return Status{};
}

Status Writer::whiteout_entry(const std::string& rel, const struct stat& st) {
  std::unique_ptr<struct archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(), archive_entry_free);
  struct stat ws = st;
  ws.st_mode = S_IFREG | 0;
  ws.st_uid = ws.st_gid = 0;
  base_entry(e.get(), rel, ws);
  archive_entry_set_size(e.get(), 0);
  return header(e.get(), rel);
}

Status Writer::add(int dirfd, const std::string& name, const std::string& rel, const struct stat& st) {
  auto [parent, base] = [&]() -> std::pair<std::string, std::string> {
    auto pos = rel.rfind('/');
    if (pos == std::string::npos) return {"", rel};
    return {rel.substr(0, pos + 1), rel.substr(pos + 1)};
  }();
  if (o_.overlay_upper && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
    return whiteout_entry(parent + ".wh." + base, st);

  std::unique_ptr<struct archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(), archive_entry_free);
  base_entry(e.get(), S_ISDIR(st.st_mode) ? rel + "/" : rel, st);
  bool opaque = false;
  TRY(add_xattrs(e.get(), dirfd, name, &opaque));

  if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
    auto [it, fresh] = links_.emplace(std::make_pair(st.st_dev, st.st_ino), rel);
    if (!fresh) {
      archive_entry_set_hardlink(e.get(), it->second.c_str());
      archive_entry_set_size(e.get(), 0);
      return header(e.get(), rel);
    }
  }
  if (S_ISLNK(st.st_mode)) {
    std::vector<char> buf(static_cast<size_t>(st.st_size) + 2);
    ssize_t n = ::readlinkat(dirfd, name.c_str(), buf.data(), buf.size());
    if (n < 0) return sys_error("readlink " + rel);
    archive_entry_set_symlink(e.get(), std::string(buf.data(), static_cast<size_t>(n)).c_str());
    return header(e.get(), rel);
  }
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    archive_entry_set_rdevmajor(e.get(), major(st.st_rdev));
    archive_entry_set_rdevminor(e.get(), minor(st.st_rdev));
    return header(e.get(), rel);
  }
  if (S_ISFIFO(st.st_mode)) return header(e.get(), rel);
  if (S_ISSOCK(st.st_mode)) return Status{};  // not representable in tar; sockets are runtime state
  if (S_ISDIR(st.st_mode)) {
    TRY(header(e.get(), rel));
    if (opaque) {
      struct stat ws = st;
      TRY(whiteout_entry(rel + "/.wh..wh..opq", ws));
    }
    UniqueFd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) return sys_error("open " + rel);
    return walk(sub.get(), rel);
  }
  // Regular file.
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return sys_error("open " + rel);
  archive_entry_set_size(e.get(), st.st_size);
  TRY(header(e.get(), rel));
  std::vector<char> buf(1 << 20);
  int64_t left = st.st_size;
  while (left > 0) {
    TRY_ASSIGN(size_t n, read_full(fd.get(), buf.data(), std::min<int64_t>(left, buf.size())));
    if (n == 0) return Error(Errc::io, rel + ": file shrank while being archived");
    if (archive_write_data(a_, buf.data(), n) < 0) return Error(Errc::io, "write " + rel + ": " + archive_err(a_));
    left -= static_cast<int64_t>(n);
  }
  return Status{};
}

Status Writer::walk(int dirfd, const std::string& rel) {
  UniqueFd rd(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!rd) return sys_error("open " + (rel.empty() ? std::string(".") : rel));
  DIR* d = ::fdopendir(rd.get());
  if (!d) return sys_error("opendir " + rel);
  rd.release();
  std::vector<std::string> names;
  while (auto* de = ::readdir(d)) {
    if (!std::strcmp(de->d_name, ".") || !std::strcmp(de->d_name, "..")) continue;
    names.emplace_back(de->d_name);
  }
  std::sort(names.begin(), names.end());
  Status out;
  for (auto& n : names) {
    struct stat st;
    if (::fstatat(::dirfd(d), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      out = sys_error("stat " + n);
      break;
    }
    out = add(::dirfd(d), n, rel.empty() ? n : rel + "/" + n, st);
    if (!out) break;
  }
  ::closedir(d);
  return out;
}

}  // namespace

Result<WriteStats> write_layer(const std::string& dir, int out_fd, const WriteOptions& o) {
  UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return sys_error("open " + dir);
  Sink sink(out_fd, o);
  TRY(sink.init());
  std::unique_ptr<struct archive, decltype(&archive_write_free)> a(archive_write_new(), archive_write_free);
  archive_write_set_format_pax_restricted(a.get());
  // No padding to 10 KiB records: the stream ends after the two zero blocks.
  archive_write_set_bytes_per_block(a.get(), 0);
  if (archive_write_open(a.get(), &sink, nullptr, write_cb, nullptr) != ARCHIVE_OK)
    return Error(Errc::internal, std::string("tar writer: ") + archive_err(a.get()));
  WriteStats stats;
  Writer w(a.get(), o, stats);
  if (auto s = w.walk(root.get(), ""); !s) {
    if (sink.error) return sink.error->wrap("write layer of " + dir);
    return std::move(s).error().wrap("write layer of " + dir);
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    if (sink.error) return sink.error->wrap("write layer of " + dir);
    return Error(Errc::io, "write layer of " + dir + ": " + archive_err(a.get()));
  }
  TRY(sink.write(nullptr, 0, true));
  sink.fill(stats);
  return stats;
}

}  // namespace berth::layer
