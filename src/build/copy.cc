// COPY/ADD: Docker's destination rules on top of a Writer that can only
// write inside the rootfs (docs/build-context.md).
#include "build/copy.h"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "base/fs.h"
#include "build/context_walk.h"
#include "build/copy_writer.h"

namespace berth::build {

namespace detail {

namespace {

std::string shown(const std::string& rel) { return "/" + rel; }

bool copied_xattr(std::string_view name) {
  return name == "security.capability" || (name.starts_with("user.") && !name.starts_with("user.overlay."));
}

// security.capability and user.* (what Docker's context tar carries); SELinux
// labels and overlay metadata belong to the host, not to the image.
Status copy_xattrs(int from, int to, const std::string& rel, bool root_user) {
  std::vector<char> names(4096);
  ssize_t n;
  while ((n = ::flistxattr(from, names.data(), names.size())) < 0 && errno == ERANGE && names.size() < (1u << 20))
    names.resize(names.size() * 4);
  if (n < 0) return (errno == ENOTSUP || errno == ENODATA) ? Status{} : sys_error("list xattrs of " + rel);
  for (ssize_t i = 0; i < n;) {
    std::string name(names.data() + i);
    i += static_cast<ssize_t>(name.size()) + 1;
    if (!copied_xattr(name)) continue;
    std::string value(65536, '\0');
    ssize_t v = ::fgetxattr(from, name.c_str(), value.data(), value.size());
    if (v < 0) {
      if (errno == ENODATA) continue;
      return sys_error("get xattr " + name + " of " + rel);
    }
    if (::fsetxattr(to, name.c_str(), value.data(), static_cast<size_t>(v), 0) != 0) {
      if (errno == ENOTSUP || (!root_user && (errno == EPERM || errno == EACCES))) continue;
      return sys_error("set xattr " + name + " on " + shown(rel));
    }
  }
  return Status{};
}

// copy_file_range first (reflinks on btrfs/xfs, in-kernel copy elsewhere),
// then sendfile, then read/write for filesystems that support neither.
Status copy_data(int in, int out, const std::string& rel) {
  bool cfr = true, sf = true;
  for (;;) {
    ssize_t n = -1;
    if (cfr) {
      n = ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
      if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP || errno == EPERM)) {
        cfr = false;
        continue;
      }
    } else if (sf) {
      n = ::sendfile(out, in, nullptr, 1 << 30);
      if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
        sf = false;
        continue;
      }
    } else {
      char buf[1 << 16];
      n = ::read(in, buf, sizeof buf);
      if (n > 0) TRY(write_all(out, buf, static_cast<size_t>(n)));
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("copy data to " + shown(rel));
    }
    if (n == 0) return Status{};
  }
}

}  // namespace

bool Writer::is_dir(const std::string& rel) const {
  int fd = root_.open_dir(rel);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

Result<UniqueFd> Writer::parent(const std::string& rel) const {
  int fd = root_.open_dir(parent_of(rel));
  if (fd < 0) return Error(Errc::invalid_argument, shown(parent_of(rel)) + " is not a directory in the image", -fd);
  return UniqueFd(fd);
}

Status Writer::set_owner(int fd, const char* path, int flags) {
  if (::fchownat(fd, path, uid(), gid(), flags) != 0) {
    if (!root_user_ && (errno == EPERM || errno == EINVAL)) return Status{};  // rootless: files stay ours
    return sys_error("chown");
  }
  return Status{};
}

Result<bool> Writer::make_dirs(const std::string& rel, const Item* last) {
  int fd = root_.open_dir(rel);
  if (fd >= 0) {
    ::close(fd);
    return false;
  }
  if (fd != -ENOENT) return Error(Errc::invalid_argument, shown(rel) + " is not a directory in the image", -fd);
  UniqueFd cur(root_.open_dir(""));
  if (!cur) return sys_error("open the rootfs");
  bool created = false;
  size_t i = 0;
  while (i <= rel.size()) {
    size_t j = rel.find('/', i);
    if (j == std::string::npos) j = rel.size();
    std::string prefix = rel.substr(0, j), comp = rel.substr(i, j - i);
    i = j + 1;
    int next = root_.open_dir(prefix);
    if (next == -ENOENT) {
      bool is_last = j == rel.size();
      // A dangling symlink here would make mkdirat fail with EEXIST: an
      // error, never a directory created where the link points.
      if (::mkdirat(cur.get(), comp.c_str(), 0700) != 0) return sys_error("mkdir " + shown(prefix));
      UniqueFd d(::openat(cur.get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!d) return sys_error("open " + shown(prefix));
      auto st = set_owner(d.get(), "", AT_EMPTY_PATH);
      if (!st) return std::move(st).error().wrap(shown(prefix));
      // The destination made for a directory's contents takes the source
      // directory's mode, not --chmod (buildah; the e2e fixture compares).
      mode_t mode = is_last && last ? (last->st.st_mode & 07777) : 0755;
      if (::fchmod(d.get(), mode) != 0) return sys_error("chmod " + shown(prefix));
      if (is_last && last) {
        UniqueFd in(last->fd >= 0 ? ::open(proc_fd_path(last->fd).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1);
        if (in) TRY(copy_xattrs(in.get(), d.get(), prefix, root_user_));
        dirs_.push_back({prefix, mode, last->st.st_mtim});
      }
      created = is_last;
      next = root_.open_dir(prefix);
    }
    if (next < 0) return Error(Errc::invalid_argument, shown(prefix) + " is not a directory in the image", -next);
    cur.reset(next);
  }
  return created;
}

// Makes room for the new entry: merges into directories (even through a
// symlink such as Debian's /lib -> usr/lib, as BuildKit's copy does), refuses
// to replace a directory by a file, and unlinks anything else (a symlink is
// replaced, never written through).
Status Writer::replace_prepare(int pfd, const std::string& leaf, const std::string& rel, bool want_dir,
                               bool* exists_dir) {
  *exists_dir = false;
  struct stat cur;
  if (::fstatat(pfd, leaf.c_str(), &cur, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Status{};
    return sys_error("stat " + shown(rel));
  }
  bool dir_like = S_ISDIR(cur.st_mode) || (S_ISLNK(cur.st_mode) && is_dir(rel));
  if (dir_like && !want_dir)
    return Error(Errc::invalid_argument, "cannot replace directory " + shown(rel) + " with a non-directory");
  if (dir_like) {
    *exists_dir = true;
    return Status{};
  }
  if (::unlinkat(pfd, leaf.c_str(), 0) != 0 && errno != ENOENT) return sys_error("replace " + shown(rel));
  return Status{};
}

Status Writer::put(const std::string& rel, const Item& it, bool apply_dir_meta) {
  if (rel.empty()) return Status{};  // the rootfs itself keeps its metadata
  TRY_ASSIGN(UniqueFd pfd, parent(rel));
  std::string leaf = leaf_of(rel);
  const char* lf = leaf.c_str();
  mode_t type = it.st.st_mode & S_IFMT;
  bool exists_dir = false;
  TRY(replace_prepare(pfd.get(), leaf, rel, type == S_IFDIR, &exists_dir));
  mode_t mode = mode_of(it.st);
  struct timespec times[2] = {it.st.st_mtim, it.st.st_mtim};
  switch (type) {
    case S_IFREG: {
      UniqueFd in(::open(proc_fd_path(it.fd).c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
      if (!in) return sys_error("open the source of " + shown(rel));
      UniqueFd out(::openat(pfd.get(), lf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!out) return sys_error("create " + shown(rel));
      TRY(copy_data(in.get(), out.get(), rel));
      // Owner, then mode (chown clears setuid/setgid), then the xattrs
      // (chown drops security.capability), then times.
      auto st = set_owner(out.get(), "", AT_EMPTY_PATH);
      if (!st) return std::move(st).error().wrap(shown(rel));
      if (::fchmod(out.get(), mode) != 0) return sys_error("chmod " + shown(rel));
      TRY(copy_xattrs(in.get(), out.get(), rel, root_user_));
      if (::futimens(out.get(), times) != 0) return sys_error("set times of " + shown(rel));
      return Status{};
    }
    case S_IFDIR: {
      if (exists_dir && !apply_dir_meta) return Status{};
      if (!exists_dir && ::mkdirat(pfd.get(), lf, 0700) != 0) return sys_error("mkdir " + shown(rel));
      UniqueFd d(::openat(pfd.get(), lf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!d) {
        // A symlink to a directory: merged into, the link and its target left as they are.
        if (exists_dir && (errno == ELOOP || errno == ENOTDIR)) return Status{};
        return sys_error("open " + shown(rel));
      }
      auto st = set_owner(d.get(), "", AT_EMPTY_PATH);
      if (!st) return std::move(st).error().wrap(shown(rel));
      if (it.fd >= 0) {
        UniqueFd in(::open(proc_fd_path(it.fd).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (in) TRY(copy_xattrs(in.get(), d.get(), rel, root_user_));
      }
      dirs_.push_back({rel, mode, it.st.st_mtim});
      return Status{};
    }
    case S_IFLNK:
      if (::symlinkat(it.link.c_str(), pfd.get(), lf) != 0) return sys_error("symlink " + shown(rel));
      break;
    case S_IFIFO:
    case S_IFCHR:
    case S_IFBLK:
      if (::mknodat(pfd.get(), lf, type | 0600, type == S_IFIFO ? 0 : it.st.st_rdev) != 0) {
        if (!root_user_ && errno == EPERM) return Status{};  // rootless: no device nodes, as tar does
        return sys_error("mknod " + shown(rel));
      }
      break;
    default:
      return Status{};  // sockets mean nothing in an image
  }
  // Links and nodes: metadata through an O_PATH|O_NOFOLLOW fd checked to be
  // what was just made, never through a name that could have become a link.
  UniqueFd n(::openat(pfd.get(), lf, O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!n) return sys_error("open " + shown(rel));
  struct stat now;
  if (::fstat(n.get(), &now) != 0) return sys_error("stat " + shown(rel));
  if ((now.st_mode & S_IFMT) != type) return Error(Errc::busy, shown(rel) + ": replaced while being copied");
  auto st = set_owner(n.get(), "", AT_EMPTY_PATH);
  if (!st) return std::move(st).error().wrap(shown(rel));
  if (type != S_IFLNK && ::chmod(proc_fd_path(n.get()).c_str(), mode) != 0) return sys_error("chmod " + shown(rel));
  if (::utimensat(pfd.get(), lf, times, AT_SYMLINK_NOFOLLOW) != 0) return sys_error("set times of " + shown(rel));
  return Status{};
}

Status Writer::put_data(const std::string& rel, const std::string& data, mode_t mode, const struct timespec& mtime) {
  TRY_ASSIGN(UniqueFd pfd, parent(rel));
  std::string leaf = leaf_of(rel);
  bool exists_dir = false;
  TRY(replace_prepare(pfd.get(), leaf, rel, false, &exists_dir));
  UniqueFd out(::openat(pfd.get(), leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out) return sys_error("create " + shown(rel));
  TRY(write_all(out.get(), data.data(), data.size()));
  auto st = set_owner(out.get(), "", AT_EMPTY_PATH);
  if (!st) return std::move(st).error().wrap(shown(rel));
  if (::fchmod(out.get(), mode & 07777) != 0) return sys_error("chmod " + shown(rel));
  struct timespec times[2] = {mtime, mtime};
  if (::futimens(out.get(), times) != 0) return sys_error("set times of " + shown(rel));
  return Status{};
}

Status Writer::finish() {
  std::unordered_set<std::string> done;
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    if (!done.insert(it->rel).second) continue;
    TRY_ASSIGN(UniqueFd pfd, parent(it->rel));
    UniqueFd d(::openat(pfd.get(), leaf_of(it->rel).c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d) return sys_error("open " + shown(it->rel));
    if (::fchmod(d.get(), it->mode) != 0) return sys_error("chmod " + shown(it->rel));
    struct timespec times[2] = {it->mtime, it->mtime};
    if (::futimens(d.get(), times) != 0) return sys_error("set times of " + shown(it->rel));
  }
  dirs_.clear();
  return Status{};
}

}  // namespace detail

namespace {

constexpr const char* kMultiSource =
    "When using COPY with more than one source file, the destination must be a directory and end with a /";

struct Dest {
  std::string rel;   // cleaned, inside the rootfs
  bool slash = false;  // written as a directory ("dir/", ".", "/")
};

Dest dest_of(const std::string& dest, const CopyOptions& o) {
  Dest d;
  std::string full = !dest.empty() && dest[0] == '/' ? dest : detail::join_path(o.workdir.empty() ? "/" : o.workdir, dest);
  d.rel = detail::clean_in_root(full);
  d.slash = dest.empty() || dest.back() == '/' || dest == "." || dest.ends_with("/.") || d.rel.empty();
  return d;
}

}  // namespace

Status copy_into(const Source& src, const std::vector<std::string>& paths, const std::string& rootfs,
                 const std::string& dest, const CopyOptions& o) {
  if (paths.empty()) return Error(Errc::invalid_argument, "COPY to " + dest + ": no source files were specified");
  TRY_ASSIGN(auto root, layer::detail::Root::open(rootfs));
  detail::Writer w(std::move(root), o);
  Dest d = dest_of(dest, o);
  bool dest_dir = d.slash || w.is_dir(d.rel);
  if (paths.size() > 1 && !dest_dir) return Error(Errc::invalid_argument, std::string(kMultiSource) + " (" + dest + ")");
  UniqueFd rootfd;
  for (auto& p : paths) {
    if (detail::is_url(p)) {
      if (!o.add) return Error(Errc::invalid_argument, "COPY " + p + ": source can't be a URL (use ADD)");
      if (dest_dir) TRY(w.make_dirs(d.rel));
      else TRY(w.make_dirs(detail::parent_of(d.rel)));
      TRY(detail::add_url(p, w, d.rel, dest_dir));
      continue;
    }
    if (!rootfd) {
      rootfd.reset(::open(src.root().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!rootfd) return sys_error("open build context " + src.root());
    }
    // A source that is a symlink is followed inside the root (Docker, buildah
    // and BuildKit copy what it points to, under the link's name); links
    // below a copied directory stay links.
    TRY_ASSIGN(auto r, detail::resolve_source(src, rootfd.get(), p == "." ? "" : p, true));
    if (!r) return Error(Errc::not_found, "file not found in build context or excluded by .dockerignore: " + p);
    if (o.add && S_ISREG(r->st.st_mode)) {
      TRY_ASSIGN(UniqueFd fd, detail::open_real(rootfd.get(), r->real));
      TRY_ASSIGN(bool archive, detail::is_archive(fd.get(), p));
      if (archive) {
        TRY(w.make_dirs(d.rel));  // an archive always lands in a directory, as Docker's ADD does
        TRY(detail::extract_archive(fd.get(), p, d.rel, rootfs, o));
        continue;
      }
    }
    if (S_ISDIR(r->st.st_mode)) {
      // A directory's contents, not the directory itself.
      TRY(detail::walk_source(src, rootfd.get(), r->real, [&](const detail::WalkEntry& e) -> Status {
        detail::Item it{e.st, e.link, e.fd};
        if (e.rel.empty()) {
          TRY(w.make_dirs(d.rel, &it));
          return Status{};
        }
        return w.put(detail::join_path(d.rel, e.rel), it);
      }));
      continue;
    }
    std::string target = dest_dir ? detail::join_path(d.rel, detail::leaf_of(p)) : d.rel;
    if (target.empty()) return Error(Errc::invalid_argument, "COPY " + p + ": cannot replace the root directory with a file");
    TRY(w.make_dirs(detail::parent_of(target)));
    TRY(detail::walk_source(src, rootfd.get(), r->real, [&](const detail::WalkEntry& e) -> Status {
      return w.put(target, detail::Item{e.st, e.link, e.fd});
    }));
  }
  return w.finish();
}

Status write_heredoc_file(const std::string& rootfs, const std::string& dest, const std::string& name,
                          const std::string& content, const CopyOptions& o) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
    return Error(Errc::invalid_argument, "COPY heredoc \"" + name + "\": not a valid file name");
  TRY_ASSIGN(auto root, layer::detail::Root::open(rootfs));
  detail::Writer w(std::move(root), o);
  Dest d = dest_of(dest, o);
  bool dest_dir = d.slash || w.is_dir(d.rel);
  std::string target = dest_dir ? detail::join_path(d.rel, name) : d.rel;
  TRY(w.make_dirs(detail::parent_of(target)));
  struct timespec now;
  ::clock_gettime(CLOCK_REALTIME, &now);
  TRY(w.put_data(target, content, o.chmod ? *o.chmod : 0644, now));
  return w.finish();
}

}  // namespace berth::build
