// Tar layer extraction. The threat model is a layer crafted to write outside
// the target (CVE-2014-6407, CVE-2014-9356, CVE-2021-32760 and friends): the
// rules that keep it inside are
//   1. names are cleaned (a leading "/" is rooted at the target) and refused
//      when they contain "..";
//   2. parent directories are resolved with Root (RESOLVE_IN_ROOT semantics);
//   3. the last component is created/changed only through the parent fd with
//      *at() calls that do not follow it (O_NOFOLLOW|O_EXCL, AT_SYMLINK_NOFOLLOW,
//      linkat without AT_SYMLINK_FOLLOW), after unlinking what was there;
//   4. metadata of symlinks and hard links is never applied through the link.
#include <archive.h>
#include <dirent.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <unordered_set>
#include <vector>

#include "base/fs.h"
#include "base/userns.h"
#include "layer/layer.h"
#include "layer/pool.h"
#include "layer/resolve.h"
#include "layer/stream.h"
#include "libarchive/libarchive.h"

namespace berth::layer {

namespace {
// libarchive may report a failure without a message (found by fuzz_layer_apply:
// a NULL here crashed the error path).
const char* archive_err(struct archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "malformed archive";
}
}  // namespace

using detail::clean_name;
using detail::FilePool;
using berth::remove_tree_at;  // base/fs.h
using detail::Root;
using detail::TarStream;

namespace {

constexpr std::string_view kWhPrefix = ".wh.";
constexpr std::string_view kWhMeta = ".wh..wh.";
constexpr std::string_view kWhOpaque = ".wh..wh..opq";

// An entry-scoped failure; the caller prefixes layer and entry name.
Error fail(Errc c, std::string msg) { return Error(c, std::move(msg)); }
Error fail_sys(std::string what) { return sys_error(std::move(what)); }

std::pair<std::string, std::string> split_parent(const std::string& name) {
  auto pos = name.rfind('/');
  if (pos == std::string::npos) return {"", name};
  return {name.substr(0, pos), name.substr(pos + 1)};
}

bool is_under(const std::string& path, const std::string& prefix) {
  if (prefix.empty()) return true;
  return path.size() >= prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
         (path.size() == prefix.size() || path[prefix.size()] == '/');
}

// The umask without changing it (umask(2) can only set, and other threads may
// be creating files): /proc/self/status has it since Linux 4.7.
mode_t current_umask() {
  auto st = read_file("/proc/self/status", 1 << 16);
  if (!st) return 0777;
  auto pos = st->find("\nUmask:\t");
  if (pos == std::string::npos) return 0777;
  return static_cast<mode_t>(std::strtoul(st->c_str() + pos + 8, nullptr, 8)) & 0777;
}

using Xattrs = std::vector<std::pair<std::string, std::string>>;

// The entry's xattrs, validated, without the ones a layer may not set.
Result<Xattrs> entry_xattrs(struct archive_entry* e, size_t max_value) {
  Xattrs out;
  if (archive_entry_xattr_reset(e) == 0) return out;
  const char* xname;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &xname, &value, &size) == ARCHIVE_OK) {
    std::string_view n(xname);
    // Overlay metadata in a layer would let it forge whiteouts/redirects in our
    // own lowerdirs; layers never legitimately carry it.
    if (n.starts_with("trusted.overlay.") || n.starts_with("user.overlay.")) continue;
    if (n.empty() || n.size() > 255) return fail(Errc::invalid_input, "xattr name length out of range");
    if (size > max_value) return fail(Errc::limit, "xattr " + std::string(n) + " value too large");
    out.emplace_back(std::string(n), std::string(static_cast<const char*>(value), size));
  }
  return out;
}

// fd >= 0: set on the open file; else on (pfd, base) without following it,
// through the parent's /proc fd path (fsetxattr needs a real fd, and device
// nodes must not be opened).
Status put_xattrs(const Xattrs& xs, int fd, int pfd, const std::string& base, bool rootless,
                  std::atomic<uint64_t>& skipped) {
  for (auto& [k, v] : xs) {
    int r;
    if (fd >= 0) {
      r = ::fsetxattr(fd, k.c_str(), v.data(), v.size(), 0);
    } else {
      std::string p = "/proc/self/fd/" + std::to_string(pfd) + "/" + base;
      r = ::lsetxattr(p.c_str(), k.c_str(), v.data(), v.size(), 0);
    }
    if (r != 0) {
      // Filesystems without xattrs, unprivileged callers and trusted.* /
      // security.* namespaces they may not write: skipped, like peers do.
      if (errno == ENOTSUP || (rootless && (errno == EPERM || errno == EACCES))) {
        skipped++;
        continue;
      }
      return fail_sys("set xattr " + k);
    }
  }
  return Status{};
}

Status clear_slot_at(int pfd, const std::string& base, bool keep_dir, bool* is_dir, dev_t dev) {
  struct stat st;
  *is_dir = false;
  if (::fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Status{};
    return fail_sys("stat");
  }
  if (S_ISDIR(st.st_mode)) {
    if (keep_dir) {
      *is_dir = true;
      return Status{};
    }
    return remove_tree_at(pfd, base.c_str(), dev);
  }
  if (::unlinkat(pfd, base.c_str(), 0) != 0 && errno != ENOENT) return fail_sys("unlink");
  return Status{};
}

// Runs create() (an *at call that fails with EEXIST when the name is taken);
// if the name exists, removes what is there (recursively for a directory)
// and tries once more. Creating first saves a stat per entry on fresh trees.
template <class F>
Status detail_create_at(int pfd, const std::string& base, dev_t dev, F create, const std::string& what) {
  if (create() == 0) return Status{};
  if (errno != EEXIST) return fail_sys(what);
  bool is_dir;
  TRY(clear_slot_at(pfd, base, false, &is_dir, dev));
  if (create() != 0) return fail_sys(what);
  return Status{};
}

// A small regular file, complete with its bytes, ready to be created on any thread.
struct FileJob {
  std::shared_ptr<UniqueFd> parent;
  std::string name, base, data;
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  bool chown = false, chmod = false;
  struct timespec times[2];
  Xattrs xattrs;
};

constexpr int64_t kPooledMaxSize = 1 << 20;

Status run_file_job(const FileJob& j, dev_t dev, bool rootless, std::atomic<uint64_t>& skipped) {
  int pfd = j.parent->get();
  UniqueFd fd;
  TRY(detail_create_at(pfd, j.base, dev, [&] {
    fd.reset(::openat(pfd, j.base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, j.mode & 0777));
    return fd ? 0 : -1;
  }, "create"));
  TRY(write_all(fd.get(), j.data.data(), j.data.size()));
  if (j.chown && ::fchown(fd.get(), j.uid, j.gid) != 0) return fail_sys("chown");
  if (j.chmod && ::fchmod(fd.get(), j.mode) != 0) return fail_sys("chmod");
  TRY(put_xattrs(j.xattrs, fd.get(), -1, j.base, rootless, skipped));
  if (::futimens(fd.get(), j.times) != 0) return fail_sys("set times");
  return Status{};
}

struct DirMeta {
  std::string name;
  mode_t mode;
  struct timespec times[2];
};

class Applier {
 public:
  Applier(Root root, const ApplyOptions& o, bool rootless, unsigned threads)
      : root_(std::move(root)), o_(o), rootless_(rootless),
        userns_(o.userns.value_or(in_user_namespace())), umask_(current_umask()), euid_(::geteuid()),
        egid_(::getegid()) {
    if (threads > 1) pool_ = std::make_unique<FilePool>(threads);
  }
  // Waits for pooled file jobs. Their errors already name their entry.
  Status sync() {
    if (!pool_) return Status{};
    pending_files_.clear();
    pending_dirs_.clear();
    auto s = pool_->drain();
    if (!s) pool_error_ = true;
    return s;
  }
  bool pool_error() const { return pool_error_; }
  uint64_t skipped() const { return skipped_; }

  Status entry(struct archive* a, struct archive_entry* e, const std::string& name, ApplyStats& stats);
  Status finish_dirs();

 private:
  // An O_PATH fd for the parent directory `rel`, cached across consecutive
  // entries of one directory. create: make missing components (0755).
  Result<int> parent(const std::string& rel, bool create);
  void invalidate(const std::string& changed) {
    if (cached_valid_ && is_under(cached_name_, changed)) cached_valid_ = false;
  }
  Status clear_slot(int pfd, const std::string& base, bool keep_dir, bool* is_dir) {
    return clear_slot_at(pfd, base, keep_dir, is_dir, root_.dev());
  }
  template <class F>
  Status create_at(int pfd, const std::string& base, F create, const std::string& what) {
    return detail_create_at(pfd, base, root_.dev(), create, what);
  }
  // Small regular files go to the pool; anything that changes the namespace
  // in ways later entries depend on waits for it first (sync()).
  Status pooled_file(struct archive* a, struct archive_entry* e, const std::string& name, int pfd,
                     const std::string& base);
  bool conflicts_with_pending(const std::string& name) const;
  void note_pending(const std::string& name);
  Status write_file(struct archive* a, struct archive_entry* e, int pfd, const std::string& base, ApplyStats& stats);
  Status set_xattrs(struct archive_entry* e, int fd, int pfd, const std::string& base, ApplyStats& stats) {
    TRY_ASSIGN(auto xs, entry_xattrs(e, o_.max_xattr_value));
    return put_xattrs(xs, fd, pfd, base, rootless_ || userns_, skipped_);
  }
  Status set_owner_mode_times(struct archive_entry* e, int pfd, const std::string& base, bool chmod);
  Status whiteout(const std::string& parent_rel, const std::string& target, ApplyStats& stats);
  Status opaque(const std::string& dir_rel);
  Status empty_dir_except_layer(int dfd, const std::string& rel);
  Status hardlink(struct archive_entry* e, const std::string& name, int pfd, const std::string& base);

  Root root_;
  const ApplyOptions& o_;
  bool rootless_;
  bool userns_;  // root of a user namespace: see ApplyOptions::userns
  mode_t umask_;  // 0777 when unknown: then every file gets an explicit chmod
  uid_t euid_;
  gid_t egid_;
  bool cached_setgid_ = false;  // the cached parent makes new files inherit its group
  std::string cached_name_;
  std::shared_ptr<UniqueFd> cached_fd_;  // shared with queued file jobs
  bool cached_valid_ = false;
  bool pool_error_ = false;
  std::atomic<uint64_t> skipped_{0};
  // Names of files queued since the last sync() and all their ancestors.
  std::unordered_set<std::string> pending_files_, pending_dirs_;
  // Names this layer created: whiteouts and opaque markers only hide what
  // lower layers had (image-spec layer.md), never this layer's own entries.
  std::unordered_set<std::string> created_;
  std::vector<DirMeta> dirs_;
  std::vector<std::pair<std::string, mode_t>> unlocked_;  // rootless: dirs opened up, original modes
  // Last, so it is destroyed (drained and joined) before anything its jobs use.
  std::unique_ptr<FilePool> pool_;
};

Result<int> Applier::parent(const std::string& rel, bool create) {
  if (cached_valid_ && cached_name_ == rel) return cached_fd_->get();
  int fd = root_.open_dir(rel);
  if (fd == -ENOENT && create) {
    // Walk down, creating what is missing. Each step re-resolves from the
    // root so symlinks met on the way are still confined.
    UniqueFd cur(root_.open_dir(""));
    size_t i = 0;
    while (i <= rel.size()) {
      size_t j = rel.find('/', i);
      if (j == std::string::npos) j = rel.size();
      std::string prefix = rel.substr(0, j);
      std::string comp = rel.substr(i, j - i);
      i = j + 1;
      int next = root_.open_dir(prefix);
      if (next == -ENOENT) {
        if (::mkdirat(cur.get(), comp.c_str(), 0755) != 0 && errno != EEXIST) return fail_sys("mkdir " + prefix);
        created_.insert(prefix);
        next = root_.open_dir(prefix);
      }
      if (next < 0)
        return Error(Errc::invalid_input, "parent \"" + prefix + "\" is not a directory inside the root", -next);
      cur.reset(next);
    }
    fd = cur.release();
  }
  if (fd < 0) return Error(Errc::invalid_input, "parent \"" + rel + "\" is not a directory inside the root", -fd);
  cached_fd_ = std::make_shared<UniqueFd>(fd);
  cached_name_ = rel;
  cached_valid_ = true;
  struct stat pst;
  bool stat_ok = ::fstat(fd, &pst) == 0;
  cached_setgid_ = !stat_ok || (pst.st_mode & S_ISGID);
  // Unprivileged, a lower layer's 0555 directory (or 0500 /root) cannot be
  // written into: open it up for the duration and restore it in finish_dirs().
  if (rootless_ && stat_ok && pst.st_uid == euid_ && (pst.st_mode & 0300) != 0300) {
    std::string p = "/proc/self/fd/" + std::to_string(fd);
    if (::chmod(p.c_str(), (pst.st_mode & 07777) | 0700) == 0) unlocked_.emplace_back(rel, pst.st_mode & 07777);
  }
  return fd;
}

Status Applier::write_file(struct archive* a, struct archive_entry* e, int pfd, const std::string& base,
                           ApplyStats& stats) {
  // Created with its final permission bits (the umask permitting), so the
  // common case needs neither chown nor chmod: a syscall per file matters
  // with tens of thousands of files.
  mode_t mode = archive_entry_mode(e) & 07777;
  UniqueFd fd;
  TRY(create_at(pfd, base, [&] {
    fd.reset(::openat(pfd, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0777));
    return fd ? 0 : -1;
  }, "create"));
  int64_t size = archive_entry_size(e);
  const void* buf;
  size_t len;
  la_int64_t off;
  int64_t end = 0;
  for (;;) {
    int r = archive_read_data_block(a, &buf, &len, &off);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return fail(Errc::invalid_input, std::string("read data: ") + archive_err(a));
    if (off < 0 || off + static_cast<int64_t>(len) > size)
      return fail(Errc::invalid_input, "data beyond the declared size");
    const char* p = static_cast<const char*>(buf);
    while (len > 0) {
      ssize_t n = ::pwrite(fd.get(), p, len, off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail_sys("write");
      }
      p += n;
      len -= static_cast<size_t>(n);
      off += n;
    }
    end = std::max<int64_t>(end, off);
  }
  if (end < size && ::ftruncate(fd.get(), size) != 0) return fail_sys("truncate");  // trailing sparse hole
  // Owner, then mode (chown clears setuid/setgid), then xattrs (chown clears
  // security.capability), then times (everything above touches ctime only).
  auto uid = static_cast<uid_t>(archive_entry_uid(e));
  auto gid = static_cast<gid_t>(archive_entry_gid(e));
  bool chown = !rootless_ && (uid != euid_ || gid != egid_ || cached_setgid_);
  if (chown && ::fchown(fd.get(), uid, gid) != 0) return fail_sys("chown");
  if (((mode & 07000) || (mode & umask_)) && ::fchmod(fd.get(), mode) != 0) return fail_sys("chmod");
  TRY(set_xattrs(e, fd.get(), -1, base, stats));
  struct timespec ts[2];
  ts[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
  ts[0] = archive_entry_atime_is_set(e) ? timespec{archive_entry_atime(e), archive_entry_atime_nsec(e)} : ts[1];
  if (::futimens(fd.get(), ts) != 0) return fail_sys("set times");
  return Status{};
}

Status Applier::set_owner_mode_times(struct archive_entry* e, int pfd, const std::string& base, bool chmod) {
  if (!rootless_ && ::fchownat(pfd, base.c_str(), static_cast<uid_t>(archive_entry_uid(e)),
                               static_cast<gid_t>(archive_entry_gid(e)), AT_SYMLINK_NOFOLLOW) != 0)
    return fail_sys("chown");
  if (chmod && ::fchmodat(pfd, base.c_str(), archive_entry_mode(e) & 07777, AT_SYMLINK_NOFOLLOW) != 0)
    return fail_sys("chmod");
  return Status{};
}

Status Applier::hardlink(struct archive_entry* e, const std::string& name, int pfd, const std::string& base) {
  const char* raw = archive_entry_hardlink(e);
  if (std::strlen(raw) > o_.max_path) return fail(Errc::limit, "hard link target too long");
  auto target = clean_name(raw);
  if (!target) return fail(Errc::invalid_input, "hard link target \"" + std::string(raw) + "\": " + target.error().message);
  if (target->empty()) return fail(Errc::invalid_input, "hard link to the root directory");
  if (*target == name) return fail(Errc::invalid_input, "hard link to itself");
  // Plain references, not a structured binding: clang-14 cannot capture those in lambdas.
  auto tsplit = split_parent(*target);
  const std::string& tparent = tsplit.first;
  const std::string& tbase = tsplit.second;
  // Resolve the target's parent separately: it must not evict our cached parent fd.
  UniqueFd tpfd(root_.open_dir(tparent));
  if (!tpfd) return fail(Errc::invalid_input, "hard link target \"" + *target + "\" not found in the layer tree");
  struct stat st;
  if (::fstatat(tpfd.get(), tbase.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return fail(Errc::invalid_input, "hard link target \"" + *target + "\" not found in the layer tree");
  if (S_ISDIR(st.st_mode)) return fail(Errc::invalid_input, "hard link to a directory \"" + *target + "\"");
  // flags = 0: a link to a symlink links the symlink itself, never its target.
  return create_at(pfd, base, [&] { return ::linkat(tpfd.get(), tbase.c_str(), pfd, base.c_str(), 0); },
                   "link to \"" + *target + "\"");
}

Status Applier::whiteout(const std::string& parent_rel, const std::string& target, ApplyStats& stats) {
  std::string full = parent_rel.empty() ? target : parent_rel + "/" + target;
  if (created_.count(full)) return Status{};
  invalidate(full);
  if (o_.whiteouts == Whiteouts::flatten) {
    auto pfd = parent(parent_rel, false);
    if (!pfd) return Status{};  // nothing below to hide
    return remove_tree_at(*pfd, target.c_str(), root_.dev());
  }
  TRY_ASSIGN(int pfd, parent(parent_rel, true));
  bool is_dir;
  TRY(clear_slot(pfd, target, false, &is_dir));
  if (::mknodat(pfd, target.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0) return fail_sys("create whiteout device");
  if (::fchownat(pfd, target.c_str(), 0, 0, AT_SYMLINK_NOFOLLOW) != 0 && !rootless_) return fail_sys("chown whiteout");
  return Status{};
}

Status Applier::empty_dir_except_layer(int dfd, const std::string& rel) {
  UniqueFd rd(::openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!rd) return fail_sys("open");
  DIR* d = ::fdopendir(rd.get());
  if (!d) return fail_sys("opendir");
  rd.release();
  std::vector<std::pair<std::string, bool>> kids;
  while (struct dirent* de = ::readdir(d)) {
    if (!std::strcmp(de->d_name, ".") || !std::strcmp(de->d_name, "..")) continue;
    kids.emplace_back(de->d_name, de->d_type == DT_DIR);
  }
  Status out;
  for (auto& [kid, isdir] : kids) {
    std::string krel = rel.empty() ? kid : rel + "/" + kid;
    if (!created_.count(krel)) {
      out = remove_tree_at(::dirfd(d), kid.c_str(), root_.dev());
    } else if (isdir) {
      UniqueFd kfd(::openat(::dirfd(d), kid.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (kfd) out = empty_dir_except_layer(kfd.get(), krel);
    }
    if (!out) break;
  }
  ::closedir(d);
  return out;
}

Status Applier::opaque(const std::string& dir_rel) {
  if (o_.whiteouts == Whiteouts::flatten) {
    UniqueFd dfd(root_.open_dir(dir_rel));
    if (!dfd) return Status{};
    invalidate(dir_rel);
    return empty_dir_except_layer(dfd.get(), dir_rel);
  }
  TRY_ASSIGN(int pfd0, parent(dir_rel, true));
  (void)pfd0;
  UniqueFd pathfd(root_.open_dir(dir_rel));
  if (!pathfd) return fail_sys("open opaque directory");
  UniqueFd dfd(::openat(pathfd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) return fail_sys("open opaque directory");
  const char* xattr = userns_ ? "user.overlay.opaque" : "trusted.overlay.opaque";
  if (::fsetxattr(dfd.get(), xattr, "y", 1, 0) != 0) return fail_sys(std::string("set ") + xattr);
  return Status{};
}

bool Applier::conflicts_with_pending(const std::string& name) const {
  if (pending_files_.empty()) return false;
  // The same name, or a queued file below it (name replaces their directory).
  if (pending_files_.count(name) || pending_dirs_.count(name)) return true;
  // A queued file where name needs a directory.
  for (size_t p = name.find('/'); p != std::string::npos; p = name.find('/', p + 1))
    if (pending_files_.count(name.substr(0, p))) return true;
  return false;
}

void Applier::note_pending(const std::string& name) {
  pending_files_.insert(name);
  for (size_t p = name.find('/'); p != std::string::npos; p = name.find('/', p + 1))
    pending_dirs_.insert(name.substr(0, p));
}

Status Applier::pooled_file(struct archive* a, struct archive_entry* e, const std::string& name, int pfd,
                            const std::string& base) {
  FileJob j;
  j.parent = cached_fd_;  // parent() always leaves the directory it returned in the cache
  if (!j.parent || j.parent->get() != pfd) return Error(Errc::internal, "parent cache out of sync");
  j.name = name;
  j.base = base;
  int64_t size = archive_entry_size(e);
  j.data.resize(static_cast<size_t>(size));
  const void* buf;
  size_t len;
  la_int64_t off;
  for (;;) {
    int r = archive_read_data_block(a, &buf, &len, &off);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return fail(Errc::invalid_input, std::string("read data: ") + archive_err(a));
    if (off < 0 || off + static_cast<int64_t>(len) > size) return fail(Errc::invalid_input, "data beyond the declared size");
    std::memcpy(j.data.data() + off, buf, len);
  }
  j.mode = archive_entry_mode(e) & 07777;
  j.uid = static_cast<uid_t>(archive_entry_uid(e));
  j.gid = static_cast<gid_t>(archive_entry_gid(e));
  j.chown = !rootless_ && (j.uid != euid_ || j.gid != egid_ || cached_setgid_);
  j.chmod = (j.mode & 07000) || (j.mode & umask_);
  j.times[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
  j.times[0] = archive_entry_atime_is_set(e) ? timespec{archive_entry_atime(e), archive_entry_atime_nsec(e)} : j.times[1];
  TRY_ASSIGN(j.xattrs, entry_xattrs(e, o_.max_xattr_value));
  note_pending(name);
  dev_t dev = root_.dev();
  bool rootless = rootless_ || userns_;
  auto s = pool_->submit(
      [j = std::move(j), dev, rootless, this]() -> Status {
        auto st = run_file_job(j, dev, rootless, skipped_);
        if (!st) return std::move(st).error().wrap("entry \"" + j.name.substr(0, 256) + "\"");
        return st;
      },
      static_cast<size_t>(size) + 512);
  if (!s) pool_error_ = true;
  return s;
}

Status Applier::entry(struct archive* a, struct archive_entry* e, const std::string& name, ApplyStats& stats) {
  auto split = split_parent(name);
  const std::string& parent_rel = split.first;
  const std::string& base = split.second;
  // Only plain small files run concurrently; everything else waits for them,
  // and so does a file whose name collides with a queued one.
  bool pooled = pool_ && !name.empty() && !base.starts_with(kWhPrefix) && archive_entry_hardlink(e) == nullptr &&
                archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) >= 0 &&
                archive_entry_size(e) <= kPooledMaxSize && archive_entry_sparse_count(e) == 0;
  if (!pooled || conflicts_with_pending(name)) TRY(sync());

  if (std::string_view(name).starts_with(kWhMeta)) {  // AUFS bookkeeping (.wh..wh.plnk/...): not content
    stats.skipped++;
    return Status{};
  }
  if (base.starts_with(kWhPrefix)) {
    if (base == kWhOpaque) return opaque(parent_rel);
    if (base.starts_with(kWhMeta)) {  // AUFS bookkeeping (.wh..wh.plnk etc.): not content
      stats.skipped++;
      return Status{};
    }
    std::string target = base.substr(kWhPrefix.size());
    if (target.empty() || target == "." || target == "..")
      return fail(Errc::invalid_input, "malformed whiteout");
    return whiteout(parent_rel, target, stats);
  }

  mode_t type = archive_entry_filetype(e);
  bool is_link = archive_entry_hardlink(e) != nullptr;
  int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
  if (uid < 0 || uid > 0xfffffffe || gid < 0 || gid > 0xfffffffe) return fail(Errc::invalid_input, "uid/gid out of range");

  if (name.empty()) {  // "." or "./": the root itself
    if (type != AE_IFDIR) return fail(Errc::invalid_input, "the root entry must be a directory");
    if (!rootless_ && ::fchownat(root_.fd(), "", static_cast<uid_t>(uid), static_cast<gid_t>(gid), AT_EMPTY_PATH) != 0)
      return fail_sys("chown");
    dirs_.push_back({name, static_cast<mode_t>(archive_entry_mode(e) & 07777),
                     {{archive_entry_mtime(e), archive_entry_mtime_nsec(e)}, {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}}});
    return Status{};
  }

  if (!is_link && (type == AE_IFCHR || type == AE_IFBLK) && (rootless_ || userns_)) {
    stats.skipped++;
    return Status{};
  }
  if (!is_link && type == AE_IFSOCK) {
    stats.skipped++;
    return Status{};
  }
  if (!is_link && type == AE_IFREG && archive_entry_size(e) > static_cast<int64_t>(o_.max_file_size))
    return fail(Errc::limit, "file size " + std::to_string(archive_entry_size(e)) + " exceeds the limit");

  invalidate(name);
  TRY_ASSIGN(int pfd, parent(parent_rel, true));
  created_.insert(name);

  if (is_link) return hardlink(e, name, pfd, base);

  struct timespec ts[2];
  ts[1] = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
  ts[0] = archive_entry_atime_is_set(e) ? timespec{archive_entry_atime(e), archive_entry_atime_nsec(e)} : ts[1];

  switch (type) {
    case AE_IFREG:
      return pooled ? pooled_file(a, e, name, pfd, base) : write_file(a, e, pfd, base, stats);
    case AE_IFDIR: {
      // Created owner-writable; the real mode and times are applied after the
      // contents (finish_dirs), so a 0555 dir can still be filled and its
      // mtime is not bumped by its children.
      if (::mkdirat(pfd, base.c_str(), 0700) != 0) {
        if (errno != EEXIST) return fail_sys("mkdir");
        bool existing_dir;
        TRY(clear_slot(pfd, base, true, &existing_dir));
        if (!existing_dir && ::mkdirat(pfd, base.c_str(), 0700) != 0) return fail_sys("mkdir");
      }
      bool chown = !rootless_ && (uid != euid_ || gid != egid_ || cached_setgid_);
      if (chown || archive_entry_xattr_count(e) > 0) {
        UniqueFd dfd(::openat(pfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!dfd) return fail_sys("open directory");
        if (chown && ::fchown(dfd.get(), static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0)
          return fail_sys("chown");
        TRY(set_xattrs(e, dfd.get(), -1, base, stats));
      }
      dirs_.push_back({name, static_cast<mode_t>(archive_entry_mode(e) & 07777), {ts[0], ts[1]}});
      return Status{};
    }
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(e);
      if (!target || !*target) return fail(Errc::invalid_input, "symlink without a target");
      if (std::strlen(target) > o_.max_path) return fail(Errc::limit, "symlink target too long");
      TRY(create_at(pfd, base, [&] { return ::symlinkat(target, pfd, base.c_str()); }, "symlink"));
      TRY(set_owner_mode_times(e, pfd, base, false));  // no chmod through a symlink, ever (CVE-2021-32760)
      break;
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
      dev_t dev = type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
      TRY(create_at(pfd, base, [&] { return ::mknodat(pfd, base.c_str(), type | 0600, dev); }, "mknod"));
      TRY(set_owner_mode_times(e, pfd, base, true));
      break;
    }
    default:
      return fail(Errc::invalid_input, "unsupported entry type " + std::to_string(type));
  }
  TRY(set_xattrs(e, -1, pfd, base, stats));
  if (::utimensat(pfd, base.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) return fail_sys("set times");
  return Status{};
}

Status Applier::finish_dirs() {
  std::unordered_set<std::string> done;
  cached_valid_ = false;
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    if (!done.insert(it->name).second) continue;  // a later entry for the same dir won
    UniqueFd dfd;
    if (it->name.empty()) {
      dfd.reset(::openat(root_.fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    } else {
      auto [parent_rel, base] = split_parent(it->name);
      UniqueFd pfd(root_.open_dir(parent_rel));
      if (!pfd) continue;  // removed by a later whiteout
      dfd.reset(::openat(pfd.get(), base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    }
    if (!dfd) continue;  // replaced by a non-directory later in the layer
    if (::fchmod(dfd.get(), it->mode) != 0) return sys_error("chmod \"" + it->name + "\"");
    if (::futimens(dfd.get(), it->times) != 0) return sys_error("set times \"" + it->name + "\"");
  }
  for (auto it = unlocked_.rbegin(); it != unlocked_.rend(); ++it) {
    if (done.count(it->first)) continue;  // this layer set the directory's mode itself
    UniqueFd dfd(root_.open_dir(it->first));
    if (!dfd) continue;
    std::string p = "/proc/self/fd/" + std::to_string(dfd.get());
    if (::chmod(p.c_str(), it->second) != 0) return sys_error("restore mode of \"" + it->first + "\"");
  }
  return Status{};
}

struct ReadCtx {
  TarStream* stream;
  std::optional<Error> error;
};

la_ssize_t read_cb(struct archive* a, void* ud, const void** buf) {
  auto* ctx = static_cast<ReadCtx*>(ud);
  auto chunk = ctx->stream->next();
  if (!chunk) {
    ctx->error = chunk.error();
    archive_set_error(a, EIO, "%s", chunk.error().message.c_str());
    return -1;
  }
  *buf = chunk->data();
  return static_cast<la_ssize_t>(chunk->size());
}

}  // namespace

Result<ApplyStats> apply_layer_fd(int blob_fd, const std::string& target, const ApplyOptions& o) {
  UniqueFd owned(blob_fd);
  std::string label = o.label.empty() ? "layer" : "layer " + o.label;
  auto wrap = [&](Error e) { return std::move(e.wrap(label)); };
  bool rootless = o.rootless.value_or(::geteuid() != 0);
  auto root = Root::open(target, o.force_walk_resolver);
  if (!root) return wrap(std::move(root).error());
  unsigned threads = o.threads;
  if (threads == 0) threads = std::clamp(std::thread::hardware_concurrency(), 2u, 4u);
  Applier ap(std::move(*root), o, rootless, threads);

  // libarchive is loaded on first use (libarchive/libarchive.h): without it
  // say so, rather than "not a tar stream" after starting the decompressor.
  if (auto st = libarchive::status(); !st.ok()) return wrap(std::move(st).error());
  TRY_ASSIGN(auto stream, TarStream::start(std::move(owned), o.alg, o.max_uncompressed_size));
  ReadCtx ctx{stream.get(), std::nullopt};
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_tar(a.get());
  archive_read_support_format_empty(a.get());
  if (archive_read_open(a.get(), &ctx, nullptr, read_cb, nullptr) != ARCHIVE_OK) {
    if (ctx.error) return wrap(*ctx.error);
    return wrap(Error(Errc::invalid_input, std::string("not a tar stream: ") + archive_err(a.get())));
  }
  ApplyStats stats;
  for (;;) {
    struct archive_entry* e;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (ctx.error) return wrap(*ctx.error);
      return wrap(Error(Errc::invalid_input, std::string("entry #") + std::to_string(stats.entries + 1) + ": " +
                                                 archive_err(a.get())));
    }
    const char* raw = archive_entry_pathname(e);
    if (!raw) raw = archive_entry_pathname_utf8(e);
    if (!raw) return wrap(Error(Errc::invalid_input, "entry #" + std::to_string(stats.entries + 1) + ": no name"));
    std::string_view rawv(raw);
    std::string shown(rawv.substr(0, 256));
    if (++stats.entries > o.max_entries) return wrap(Error(Errc::limit, "more than " + std::to_string(o.max_entries) + " entries"));
    if (rawv.size() > o.max_path) return wrap(Error(Errc::limit, "entry \"" + shown + "...\": name too long"));
    auto name = clean_name(rawv);
    if (!name) return wrap(Error(Errc::invalid_input, "entry \"" + shown + "\": " + name.error().message));
    if (auto s = ap.entry(a.get(), e, *name, stats); !s) {
      if (ctx.error) return wrap(*ctx.error);
      Error err = std::move(s).error();
      if (ap.pool_error()) return wrap(std::move(err));  // names its own entry
      return wrap(std::move(err.wrap("entry \"" + shown + "\"")));
    }
  }
  if (auto s = ap.sync(); !s) return wrap(std::move(s).error());
  TRY(ap.finish_dirs());
  stats.skipped += ap.skipped();
  auto sum = stream->finish();
  if (!sum) return wrap(std::move(sum).error());
  stats.compression = sum->compression;
  stats.blob_digest = sum->blob_digest;
  stats.diff_id = sum->diff_id;
  stats.compressed_size = sum->compressed_size;
  stats.uncompressed_size = sum->uncompressed_size;
  if (o.expected_blob_digest && !(*o.expected_blob_digest == stats.blob_digest))
    return wrap(Error(Errc::digest_mismatch, "blob digest mismatch: expected " + o.expected_blob_digest->str() +
                                                 ", got " + stats.blob_digest.str()));
  if (o.expected_diff_id && !(*o.expected_diff_id == stats.diff_id))
    return wrap(Error(Errc::digest_mismatch,
                      "diff_id mismatch: expected " + o.expected_diff_id->str() + ", got " + stats.diff_id.str()));
  return stats;
}

Result<ApplyStats> apply_layer(const std::string& blob_path, const std::string& target, const ApplyOptions& o) {
  int fd = ::open(blob_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return sys_error("open layer " + blob_path);
  return apply_layer_fd(fd, target, o);
}

}  // namespace berth::layer
