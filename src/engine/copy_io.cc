#include "engine/copy_io.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "base/fs.h"

namespace berth::engine::copy_detail {

namespace {

const char* archive_err(struct archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "malformed archive";
}

// A readable fd's copied xattrs. Filesystems without xattrs have none.
Status read_xattrs(int fd, std::vector<std::pair<std::string, std::string>>& out) {
  std::vector<char> names(4096);
  ssize_t n;
  while ((n = ::flistxattr(fd, names.data(), names.size())) < 0 && errno == ERANGE && names.size() < (1u << 20))
    names.resize(names.size() * 4);
  if (n < 0) return (errno == ENOTSUP || errno == ENODATA) ? Status{} : sys_error("list xattrs");
  for (ssize_t i = 0; i < n;) {
    std::string name(names.data() + i);
    i += static_cast<ssize_t>(name.size()) + 1;
    if (!copied_xattr(name)) continue;
    std::string value(65536, '\0');
    ssize_t v = ::fgetxattr(fd, name.c_str(), value.data(), value.size());
    if (v < 0) {
      if (errno == ENODATA) continue;  // removed meanwhile
      return sys_error("get xattr " + name);
    }
    value.resize(static_cast<size_t>(v));
    out.emplace_back(std::move(name), std::move(value));
  }
  return Status{};
}

std::string proc_fd(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

}  // namespace

bool copied_xattr(std::string_view name) {
  return name == "security.capability" || (name.starts_with("user.") && !name.starts_with("user.overlay."));
}

std::string clean_in_root(std::string_view p) { return path_clean("/" + std::string(p)).substr(1); }

std::string parent_of(const std::string& rel) {
  auto pos = rel.rfind('/');
  return pos == std::string::npos ? std::string() : rel.substr(0, pos);
}

std::string leaf_of(const std::string& rel) {
  auto pos = rel.rfind('/');
  return pos == std::string::npos ? rel : rel.substr(pos + 1);
}

std::string join_rel(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "/" + b;
}

// dirfd's path inside the root, from the kernel's own record of both; the
// lexical fallback only if that is not available (a directory deleted or
// outside the root's mount).
std::string real_in_root(int rootfd, int dirfd, const std::string& lexical) {
  char rb[4096], db[4096];
  ssize_t rn = ::readlink(proc_fd(rootfd).c_str(), rb, sizeof rb);
  ssize_t dn = ::readlink(proc_fd(dirfd).c_str(), db, sizeof db);
  if (rn <= 0 || dn <= 0 || rn >= static_cast<ssize_t>(sizeof rb) || dn >= static_cast<ssize_t>(sizeof db)) return lexical;
  std::string_view r(rb, static_cast<size_t>(rn)), d(db, static_cast<size_t>(dn));
  if (d == r) return "";
  if (r == "/") return std::string(d.substr(1));
  if (d.size() > r.size() && d.starts_with(r) && d[r.size()] == '/') return std::string(d.substr(r.size() + 1));
  return lexical;
}

Result<Found> resolve(const layer::detail::Root& root, std::string rel, bool follow_final) {
  for (int hops = 0; hops <= 40; hops++) {
    Found f;
    f.rel = rel;
    if (rel.empty()) {  // "/" itself
      f.parent.reset(root.open_dir(""));
      if (!f.parent) return sys_error("open the rootfs");
      if (::fstat(f.parent.get(), &f.st) != 0) return sys_error("stat the rootfs");
      f.parent_ok = f.exists = true;
      return f;
    }
    int p = root.open_dir(parent_of(rel));
    if (p < 0) {
      if (p == -ENOENT || p == -ENOTDIR) return f;  // neither it nor its parent exists
      return Error(Errc::io, "resolve /" + parent_of(rel) + " inside the rootfs", -p);
    }
    f.parent.reset(p);
    f.parent_ok = true;
    std::string lf = leaf_of(rel);
    if (::fstatat(p, lf.c_str(), &f.st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return f;
      return sys_error("stat /" + rel);
    }
    f.exists = true;
    if (!follow_final || !S_ISLNK(f.st.st_mode)) return f;
    char buf[4096];
    ssize_t n = ::readlinkat(p, lf.c_str(), buf, sizeof buf);
    if (n < 0) return sys_error("readlink /" + rel);
    if (static_cast<size_t>(n) >= sizeof buf) return Error(Errc::limit, "/" + rel + ": symlink target too long");
    std::string target(buf, static_cast<size_t>(n));
    // As the container sees it: absolute targets start at the rootfs, and
    // relative ones at the directory the link is really in (its parent path
    // may itself have gone through links, which a lexical "a/../b" would
    // get wrong). The result is resolved through Root again either way.
    rel = clean_in_root(target[0] == '/' ? target : real_in_root(root.fd(), p, parent_of(rel)) + "/" + target);
  }
  return Error(Errc::invalid_argument, "/" + rel + ": too many levels of symbolic links", ELOOP);
}

Result<UniqueFd> open_found(const Found& f) {
  UniqueFd fd(f.rel.empty() ? ::fcntl(f.parent.get(), F_DUPFD_CLOEXEC, 0)
                            : ::openat(f.parent.get(), leaf_of(f.rel).c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return sys_error("open /" + f.rel);
  return fd;
}

// ---- DirSink ----

std::string DirSink::in_root(const std::string& name) const { return join_rel(base_, name); }

// A fresh fd per call rather than a cache: a container may rename directories
// under us at any time, and re-resolving each parent through Root keeps every
// lookup confined whatever it did in between.
Result<UniqueFd> DirSink::parent(const std::string& rel_dir) {
  std::string full = in_root(rel_dir);
  int fd = root_.open_dir(full);
  if (fd == -ENOENT && create_parents) {
    UniqueFd cur(root_.open_dir(base_));
    if (!cur) return Error(Errc::not_found, "no such directory: " + label_ + base_, ENOENT);
    size_t i = 0;
    while (i <= rel_dir.size()) {
      size_t j = rel_dir.find('/', i);
      if (j == std::string::npos) j = rel_dir.size();
      std::string prefix = in_root(rel_dir.substr(0, j));
      std::string comp = rel_dir.substr(i, j - i);
      i = j + 1;
      int next = root_.open_dir(prefix);
      if (next == -ENOENT) {
        if (::mkdirat(cur.get(), comp.c_str(), 0755) != 0 && errno != EEXIST)
          return sys_error("mkdir " + label_ + prefix);
        next = root_.open_dir(prefix);
        if (next >= 0 && owners_.mode == Owners::Mode::fixed && root_user_ &&
            ::fchownat(next, "", owners_.uid, owners_.gid, AT_EMPTY_PATH) != 0)
          return sys_error("chown " + label_ + prefix);
      }
      if (next < 0) return Error(Errc::invalid_input, label_ + prefix + " is not a directory inside the root", -next);
      cur.reset(next);
    }
    return cur;
  }
  if (fd < 0) return Error(Errc::not_found, label_ + full + " is not a directory inside the root", -fd);
  return UniqueFd(fd);
}

Status DirSink::chown_fd(int fd, const struct stat& st) {
  uid_t uid;
  gid_t gid;
  switch (owners_.mode) {
    case Owners::Mode::caller:
      return Status{};
    case Owners::Mode::fixed:
      uid = owners_.uid;
      gid = owners_.gid;
      break;
    default:
      uid = st.st_uid;
      gid = st.st_gid;
  }
  // AT_EMPTY_PATH works on O_PATH fds, so symlinks and nodes opened without
  // following them are changed themselves, never their targets.
  if (::fchownat(fd, "", uid, gid, AT_EMPTY_PATH) != 0) {
    if (!root_user_ && (errno == EPERM || errno == EINVAL)) return Status{};  // unprivileged: keep ours
    return sys_error("chown");
  }
  return Status{};
}

Status DirSink::set_xattrs(int fd, const Entry& e) {
  for (auto& [k, v] : e.xattrs) {
    if (!copied_xattr(k)) continue;  // a tar may carry anything
    if (::fsetxattr(fd, k.c_str(), v.data(), v.size(), 0) != 0) {
      // No xattrs on this filesystem, or an unprivileged caller and a
      // security.* name: skipped, as tar and Docker do.
      if (errno == ENOTSUP || (!root_user_ && (errno == EPERM || errno == EACCES))) continue;
      return sys_error("set xattr " + k);
    }
  }
  return Status{};
}

Status DirSink::put(const Entry& e) {
  if (e.name.empty()) return Status{};  // the base itself: its metadata stays
  std::string shown = label_ + in_root(e.name);
  TRY_ASSIGN(UniqueFd pfd, parent(parent_of(e.name)));
  auto s = put_one(e, pfd.get(), leaf_of(e.name));
  if (!s) return std::move(s).error().wrap(shown);
  return s;
}

Status DirSink::put_one(const Entry& e, int pfd, const std::string& leaf) {
  const char* lf = leaf.c_str();
  mode_t type = e.st.st_mode & S_IFMT;
  bool want_dir = !e.hardlink && type == S_IFDIR;
  struct stat cur;
  bool exists = ::fstatat(pfd, lf, &cur, AT_SYMLINK_NOFOLLOW) == 0;
  if (!exists && errno != ENOENT) return sys_error("stat");
  // Docker's NoOverwriteDirNonDir: a copy never replaces a whole directory
  // by a file (or the reverse); that is what rm is for.
  if (exists && S_ISDIR(cur.st_mode) && !want_dir)
    return Error(Errc::invalid_argument, "cannot overwrite directory with non-directory");
  if (exists && !S_ISDIR(cur.st_mode) && want_dir)
    return Error(Errc::invalid_argument, "cannot overwrite non-directory with directory");
  if (exists && !want_dir && ::unlinkat(pfd, lf, 0) != 0 && errno != ENOENT) return sys_error("unlink");

  struct timespec ts[2] = {e.st.st_atim, e.st.st_mtim};
  if (e.hardlink) {
    TRY_ASSIGN(UniqueFd tp, parent(parent_of(*e.hardlink)));
    std::string tl = leaf_of(*e.hardlink);
    // Without AT_SYMLINK_FOLLOW: links the name itself, never what it points to.
    if (::linkat(tp.get(), tl.c_str(), pfd, lf, 0) != 0) return sys_error("hard link to " + *e.hardlink);
    return Status{};
  }
  switch (type) {
    case S_IFREG: {
      UniqueFd fd(::openat(pfd, lf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!fd) return sys_error("create");
      if (e.data) TRY(e.data([&](std::string_view chunk) { return write_all(fd.get(), chunk.data(), chunk.size()); }));
      // Owner, then mode (chown clears setuid/setgid), then times.
      TRY(chown_fd(fd.get(), e.st));
      // Like cp(1) without --preserve=ownership: a file that now belongs to
      // the caller (root, usually) loses setuid/setgid, so a container cannot
      // plant a setuid-root program on the host through `cp CTR:/x .`.
      mode_t mode = e.st.st_mode & 07777;
      if (owners_.mode == Owners::Mode::caller) mode &= ~static_cast<mode_t>(S_ISUID | S_ISGID);
      if (::fchmod(fd.get(), mode) != 0) return sys_error("chmod");
      TRY(set_xattrs(fd.get(), e));  // after chown, which drops security.capability
      if (::futimens(fd.get(), ts) != 0) return sys_error("set times");
      return Status{};
    }
    case S_IFDIR: {
      if (!exists && ::mkdirat(pfd, lf, 0700) != 0) return sys_error("mkdir");
      UniqueFd dfd(::openat(pfd, lf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dfd) return sys_error("open directory");
      TRY(chown_fd(dfd.get(), e.st));
      TRY(set_xattrs(dfd.get(), e));
      dirs_.push_back({e.name, static_cast<mode_t>(e.st.st_mode & 07777), {ts[0], ts[1]}});
      return Status{};
    }
    case S_IFLNK: {
      if (e.symlink.empty()) return Error(Errc::invalid_input, "symlink without a target");
      if (::symlinkat(e.symlink.c_str(), pfd, lf) != 0) return sys_error("symlink");
      break;
    }
    case S_IFIFO:
    case S_IFCHR:
    case S_IFBLK: {
      if (type != S_IFIFO && !devices) return Status{};
      if (::mknodat(pfd, lf, type | 0600, type == S_IFIFO ? 0 : e.st.st_rdev) != 0) {
        if (!root_user_ && errno == EPERM) return Status{};  // unprivileged: no device nodes
        return sys_error("mknod");
      }
      break;
    }
    default:
      return Status{};  // sockets: meaningless in a copy (tar skips them too)
  }
  // Symlinks and nodes: metadata through an O_PATH|O_NOFOLLOW fd checked to
  // be what we just made, so a swap by the container cannot redirect chmod
  // through a symlink (CVE-2021-32760).
  UniqueFd nfd(::openat(pfd, lf, O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!nfd) return sys_error("open");
  struct stat now;
  if (::fstat(nfd.get(), &now) != 0) return sys_error("stat");
  if ((now.st_mode & S_IFMT) != type) return Error(Errc::busy, "replaced while being copied");
  TRY(chown_fd(nfd.get(), e.st));
  if (type != S_IFLNK && ::chmod(proc_fd(nfd.get()).c_str(), e.st.st_mode & 07777) != 0) return sys_error("chmod");
  if (::utimensat(pfd, lf, ts, AT_SYMLINK_NOFOLLOW) != 0) return sys_error("set times");
  return Status{};
}

Status DirSink::finish() {
  std::unordered_set<std::string> done;
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    if (!done.insert(it->name).second) continue;  // a later entry for the same directory won
    auto pfd = parent(parent_of(it->name));
    if (!pfd) continue;
    std::string lf = leaf_of(it->name);
    UniqueFd dfd(::openat(pfd->get(), lf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dfd) continue;  // gone or replaced meanwhile (a running container)
    if (::fchmod(dfd.get(), it->mode) != 0) return sys_error("chmod " + label_ + in_root(it->name));
    if (::futimens(dfd.get(), it->times) != 0) return sys_error("set times " + label_ + in_root(it->name));
  }
  dirs_.clear();
  return Status{};
}

// ---- TarSink ----

Result<std::unique_ptr<TarSink>> TarSink::open(int fd) {
  std::unique_ptr<TarSink> t(new TarSink());
  t->a_ = archive_write_new();
  if (!t->a_) return Error(Errc::internal, "archive_write_new failed");
  if (archive_write_set_format_pax_restricted(t->a_) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(t->a_, 1) != ARCHIVE_OK ||
      archive_write_open_fd(t->a_, fd) != ARCHIVE_OK)
    return Error(Errc::io, std::string("tar output: ") + archive_err(t->a_));
  return t;
}

TarSink::~TarSink() {
  if (a_) archive_write_free(a_);
}

Status TarSink::put(const Entry& e) {
  std::unique_ptr<archive_entry, decltype(&archive_entry_free)> ae(archive_entry_new(), archive_entry_free);
  struct stat st = e.st;
  mode_t type = st.st_mode & S_IFMT;
  if (type == S_IFSOCK) return Status{};
  if (type != S_IFREG || e.hardlink) st.st_size = 0;
  archive_entry_copy_stat(ae.get(), &st);
  std::string name = e.name.empty() ? "." : e.name;
  if (type == S_IFDIR) name += '/';
  archive_entry_set_pathname(ae.get(), name.c_str());
  if (type == S_IFLNK) archive_entry_set_symlink(ae.get(), e.symlink.c_str());
  if (e.hardlink) archive_entry_set_hardlink(ae.get(), e.hardlink->c_str());
  for (auto& [k, v] : e.xattrs) archive_entry_xattr_add_entry(ae.get(), k.c_str(), v.data(), v.size());
  if (archive_write_header(a_, ae.get()) != ARCHIVE_OK)
    return Error(Errc::io, "tar entry \"" + name + "\": " + archive_err(a_));
  if (type == S_IFREG && !e.hardlink && e.data) {
    TRY(e.data([&](std::string_view chunk) -> Status {
      while (!chunk.empty()) {
        la_ssize_t n = archive_write_data(a_, chunk.data(), chunk.size());
        if (n <= 0) return Error(Errc::io, "tar entry \"" + name + "\": " + archive_err(a_));
        chunk.remove_prefix(static_cast<size_t>(n));
      }
      return Status{};
    }));
  }
  return Status{};
}

Status TarSink::finish() {
  if (archive_write_close(a_) != ARCHIVE_OK) return Error(Errc::io, std::string("tar output: ") + archive_err(a_));
  return Status{};
}

// ---- walking a tree through fds ----

namespace {

class Walker {
 public:
  explicit Walker(Sink& s) : sink_(s) {}
  Status visit(UniqueFd pathfd, const std::string& name, int depth);

 private:
  Sink& sink_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

// Exactly st_size bytes: a file that grows or shrinks while being copied
// (a running container) is cut or zero-padded, so a tar header never lies.
DataFn file_data(int pathfd, uint64_t size) {
  return [pathfd, size](const ChunkFn& out) -> Status {
    // Reopening the O_PATH fd through /proc opens that very inode: no second
    // lookup by name for a container to race.
    UniqueFd fd(::open(proc_fd(pathfd).c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd) return sys_error("open");
    std::vector<char> buf(std::min<uint64_t>(size, 1 << 17) + 1);
    uint64_t done = 0;
    while (done < size) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(size - done, buf.size() - 1));
      ssize_t n = ::read(fd.get(), buf.data(), want);
      if (n < 0) {
        if (errno == EINTR) continue;
        return sys_error("read");
      }
      if (n == 0) break;
      TRY(out(std::string_view(buf.data(), static_cast<size_t>(n))));
      done += static_cast<uint64_t>(n);
    }
    if (done < size) {
      std::fill(buf.begin(), buf.end(), 0);
      while (done < size) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(size - done, buf.size()));
        TRY(out(std::string_view(buf.data(), n)));
        done += n;
      }
    }
    return Status{};
  };
}

Status Walker::visit(UniqueFd pathfd, const std::string& name, int depth) {
  if (depth > 2048) return Error(Errc::limit, "\"" + name + "\": directories nested too deep");
  Entry e;
  e.name = name;
  if (::fstat(pathfd.get(), &e.st) != 0) return sys_error("stat \"" + name + "\"");
  mode_t type = e.st.st_mode & S_IFMT;
  if (type == S_IFLNK) {
    char buf[4096];
    ssize_t n = ::readlinkat(pathfd.get(), "", buf, sizeof buf);
    if (n < 0) return sys_error("readlink \"" + name + "\"");
    if (static_cast<size_t>(n) >= sizeof buf) return Error(Errc::limit, "\"" + name + "\": symlink target too long");
    e.symlink.assign(buf, static_cast<size_t>(n));
    return sink_.put(e);
  }
  if (type == S_IFREG) {
    if (e.st.st_nlink > 1) {
      auto [it, fresh] = links_.try_emplace({e.st.st_dev, e.st.st_ino}, name);
      if (!fresh) {
        e.hardlink = it->second;
        return sink_.put(e);
      }
    }
    e.data = file_data(pathfd.get(), static_cast<uint64_t>(e.st.st_size));
    {
      UniqueFd rfd(::open(proc_fd(pathfd.get()).c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
      if (!rfd) return sys_error("open \"" + name + "\"");
      TRY(read_xattrs(rfd.get(), e.xattrs));
    }
    return sink_.put(e);
  }
  if (type != S_IFDIR) return sink_.put(e);

  UniqueFd rd(::openat(pathfd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!rd) return sys_error("open directory \"" + name + "\"");
  TRY(read_xattrs(rd.get(), e.xattrs));
  TRY(sink_.put(e));
  DIR* d = ::fdopendir(rd.get());
  if (!d) return sys_error("opendir \"" + name + "\"");
  rd.release();
  std::vector<std::string> kids;
  errno = 0;
  while (struct dirent* de = ::readdir(d)) {
    if (!std::strcmp(de->d_name, ".") || !std::strcmp(de->d_name, "..")) continue;
    kids.emplace_back(de->d_name);
  }
  int dfd = ::dirfd(d);
  std::sort(kids.begin(), kids.end());  // deterministic order (tar output)
  Status out;
  for (auto& k : kids) {
    UniqueFd kfd(::openat(dfd, k.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!kfd) {
      if (errno == ENOENT) continue;  // removed since readdir (a running container)
      out = sys_error("open \"" + join_rel(name, k) + "\"");
      break;
    }
    out = visit(std::move(kfd), join_rel(name, k), depth + 1);
    if (!out) break;
  }
  ::closedir(d);
  return out;
}

}  // namespace

Status walk(int top, const std::string& top_name, Sink& sink) {
  UniqueFd fd(::fcntl(top, F_DUPFD_CLOEXEC, 0));
  if (!fd) return sys_error("dup");
  Walker w(sink);
  TRY(w.visit(std::move(fd), top_name, 0));
  return sink.finish();
}

// ---- reading a tar stream ----

Status read_tar(int in_fd, Sink& sink, const TarLimits& lim) {
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_tar(a.get());
  archive_read_support_format_empty(a.get());
  // Built-in decompressors only (filter_all may run external programs).
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_zstd(a.get());
  if (archive_read_open_fd(a.get(), in_fd, 1 << 16) != ARCHIVE_OK)
    return Error(Errc::invalid_input, std::string("not a tar stream: ") + archive_err(a.get()));
  std::unordered_set<std::string> created;
  uint64_t count = 0, bytes = 0;
  for (;;) {
    struct archive_entry* ae;
    int r = archive_read_next_header(a.get(), &ae);
    if (r == ARCHIVE_EOF) break;
    std::string nth = "tar entry #" + std::to_string(count + 1);
    if (r < ARCHIVE_WARN) return Error(Errc::invalid_input, nth + ": " + archive_err(a.get()));
    if (++count > lim.max_entries) return Error(Errc::limit, "more than " + std::to_string(lim.max_entries) + " tar entries");
    const char* raw = archive_entry_pathname(ae);
    if (!raw) return Error(Errc::invalid_input, nth + ": no name");
    std::string_view rawv(raw);
    std::string shown = "tar entry \"" + std::string(rawv.substr(0, 256)) + "\"";
    if (rawv.size() > lim.max_path) return Error(Errc::limit, shown + ": name too long");
    auto name = layer::detail::clean_name(rawv);
    if (!name) return Error(Errc::invalid_input, shown + ": " + name.error().message);
    Entry e;
    e.name = *name;
    e.st = *archive_entry_stat(ae);
    if (archive_entry_xattr_reset(ae) > 0) {
      const char* xn;
      const void* xv;
      size_t xs;
      while (archive_entry_xattr_next(ae, &xn, &xv, &xs) == ARCHIVE_OK) {
        if (!xn || !copied_xattr(xn)) continue;
        if (xs > 65536) return Error(Errc::limit, shown + ": xattr value too large");
        e.xattrs.emplace_back(xn, std::string(static_cast<const char*>(xv), xs));
      }
    }
    int64_t uid = archive_entry_uid(ae), gid = archive_entry_gid(ae);
    if (uid < 0 || uid > 0xfffffffe || gid < 0 || gid > 0xfffffffe)
      return Error(Errc::invalid_input, shown + ": uid/gid out of range");
    if (e.name.empty()) {
      if (!S_ISDIR(e.st.st_mode)) return Error(Errc::invalid_input, shown + ": the root entry must be a directory");
      continue;  // the extraction point keeps its own metadata
    }
    if (const char* hl = archive_entry_hardlink(ae)) {
      if (std::strlen(hl) > lim.max_path) return Error(Errc::limit, shown + ": link target too long");
      auto target = layer::detail::clean_name(hl);
      if (!target || !created.count(*target))
        return Error(Errc::invalid_input, shown + ": hard link to \"" + std::string(hl).substr(0, 256) +
                                              "\", which is not an earlier entry of this archive");
      e.hardlink = *target;
    } else {
      switch (e.st.st_mode & S_IFMT) {
        case S_IFREG:
        case S_IFDIR:
        case S_IFIFO:
        case S_IFCHR:
        case S_IFBLK:
          break;
        case S_IFLNK: {
          const char* t = archive_entry_symlink(ae);
          if (!t || !*t) return Error(Errc::invalid_input, shown + ": symlink without a target");
          if (std::strlen(t) > lim.max_path) return Error(Errc::limit, shown + ": symlink target too long");
          e.symlink = t;
          break;
        }
        default:
          return Error(Errc::invalid_input, shown + ": unsupported entry type");
      }
    }
    if (S_ISREG(e.st.st_mode) && !e.hardlink) {
      int64_t size = archive_entry_size(ae);
      if (size < 0) return Error(Errc::invalid_input, shown + ": negative size");
      if (static_cast<uint64_t>(size) > lim.max_bytes - bytes)
        return Error(Errc::limit, shown + ": more than " + std::to_string(lim.max_bytes) + " bytes of file data");
      bytes += static_cast<uint64_t>(size);
      struct archive* ap = a.get();
      e.data = [ap, size](const ChunkFn& out) -> Status {
        static const char zeros[65536] = {};
        int64_t pos = 0;
        auto pad = [&](int64_t to) -> Status {
          while (pos < to) {
            size_t n = static_cast<size_t>(std::min<int64_t>(to - pos, sizeof zeros));
            TRY(out(std::string_view(zeros, n)));
            pos += static_cast<int64_t>(n);
          }
          return Status{};
        };
        for (;;) {
          const void* buf;
          size_t len;
          la_int64_t off;
          int r = archive_read_data_block(ap, &buf, &len, &off);
          if (r == ARCHIVE_EOF) break;
          if (r < ARCHIVE_WARN) return Error(Errc::invalid_input, std::string("read data: ") + archive_err(ap));
          if (off < pos || off + static_cast<int64_t>(len) > size)
            return Error(Errc::invalid_input, "data beyond the declared size");
          TRY(pad(off));  // a sparse hole
          TRY(out(std::string_view(static_cast<const char*>(buf), len)));
          pos += static_cast<int64_t>(len);
        }
        return pad(size);
      };
    }
    if (auto s = sink.put(e); !s) return std::move(s).error().wrap(shown);
    created.insert(e.name);
  }
  return sink.finish();
}

}  // namespace berth::engine::copy_detail
