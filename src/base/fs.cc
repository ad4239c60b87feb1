#include "base/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <vector>

namespace berth {

// Leaf first: the directory usually exists or only its last component is
// missing, so one mkdir (plus a stat on EEXIST) instead of one per component
// (a `run --rm` made ~70 failing mkdirs walking down from "/").
Status mkdir_p(const std::string& path_in, mode_t mode) {
  std::string path = path_in;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (path.empty()) return Status{};
  if (::mkdir(path.c_str(), mode) != 0) {
    int err = errno;
    if (err == ENOENT) {
      size_t slash = path.find_last_of('/');
      if (slash == std::string::npos || slash == 0) return sys_error("mkdir " + path, err);
      TRY(mkdir_p(path.substr(0, slash), mode));
      if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return sys_error("mkdir " + path);
    } else if (err != EEXIST) {
      return sys_error("mkdir " + path, err);
    }
  } else {
    return Status{};
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return sys_error("stat " + path);
  if (!S_ISDIR(st.st_mode)) return Error(Errc::io, "mkdir " + path + ": exists and is not a directory");
  return Status{};
}

Status fsync_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return sys_error("open " + dir);
  if (::fsync(fd.get()) != 0) return sys_error("fsync " + dir);
  return Status{};
}

ssize_t write_nosigpipe(int fd, const void* data, size_t len) {
  sigset_t pipe_set, old_mask, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
  ssize_t w = ::write(fd, data, len);
  int saved = errno;
  if (w < 0 && errno == EPIPE && !was_pending) {
    timespec zero{0, 0};
    while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  errno = saved;
  return w;
}

Status write_all(int fd, const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("write");
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return Status{};
}

Result<size_t> read_full(int fd, void* buf, size_t len) {
  char* p = static_cast<char*>(buf);
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::read(fd, p + got, len - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("read");
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

std::string unique_name(std::string_view prefix) {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  char buf[64];
  std::snprintf(buf, sizeof buf, ".%d.%08x%04x", ::getpid(), rd(), counter++ & 0xffff);
  return std::string(prefix) + buf;
}

std::string dirname_of(const std::string& path) {
  auto pos = path.find_last_of('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

std::string path_clean(std::string_view p) {
  if (p.empty()) return ".";
  bool rooted = p[0] == '/';
  std::vector<std::string_view> out;
  size_t dotdots = 0;  // leading ".." kept in a relative path
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    std::string_view c = p.substr(i, j - i);
    i = j + 1;
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (out.size() > dotdots) {
        out.pop_back();
      } else if (!rooted) {
        out.push_back(c);
        dotdots++;
      }
      continue;
    }
    out.push_back(c);
  }
  std::string r = rooted ? "/" : "";
  for (size_t k = 0; k < out.size(); k++) {
    if (k) r += '/';
    r.append(out[k]);
  }
  return r.empty() ? "." : r;
}

std::string path_join(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  std::string r(a);
  if (r.back() != '/') r += '/';
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  r += b;
  return r;
}

Status atomic_write_file(const std::string& path, std::string_view data, mode_t mode) {
  std::string dir = dirname_of(path);
  std::string tmp = path_join(dir, unique_name(".tmp"));
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) return sys_error("create " + tmp);
  auto fail = [&](Error e) {
    ::unlink(tmp.c_str());
    return e;
  };
  if (auto s = write_all(fd.get(), data.data(), data.size()); !s) return fail(std::move(s).error().wrap(tmp));
  if (::fchmod(fd.get(), mode) != 0) return fail(sys_error("chmod " + tmp));
  if (::fsync(fd.get()) != 0) return fail(sys_error("fsync " + tmp));
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail(sys_error("rename " + tmp + " -> " + path));
  return fsync_dir(dir);
}

Result<std::string> read_file(const std::string& path, uint64_t limit) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return sys_error("open " + path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return sys_error("stat " + path);
  if (static_cast<uint64_t>(st.st_size) > limit)
    return Error(Errc::limit, path + ": " + std::to_string(st.st_size) + " bytes exceeds limit of " +
                                  std::to_string(limit));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > limit) return Error(Errc::limit, path + ": exceeds limit of " + std::to_string(limit) + " bytes");
  }
  return out;
}

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

Status remove_tree_at(int dirfd, const char* name, dev_t dev) {
  struct stat st;
  if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Status{};
    return sys_error(std::string("stat ") + name);
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != dev) return Error(Errc::busy, std::string("remove ") + name + ": is a mount point");
    int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return sys_error(std::string("open ") + name);
    // Directories without write/exec permission (e.g. from layers) must still go.
    if ((st.st_mode & 0300) != 0300) ::fchmod(fd, 0700);
    DIR* d = ::fdopendir(fd);
    if (!d) {
      ::close(fd);
      return sys_error(std::string("opendir ") + name);
    }
    Status st_out;
    while (struct dirent* e = ::readdir(d)) {
      if (!std::strcmp(e->d_name, ".") || !std::strcmp(e->d_name, "..")) continue;
      // Not a directory (the type is in the entry): no stat needed, and a
      // file can be neither a mount point nor something to descend into.
      if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) {
        if (::unlinkat(::dirfd(d), e->d_name, 0) == 0 || errno == ENOENT) continue;
        if (errno != EISDIR && errno != EPERM) {
          st_out = sys_error(std::string("unlink ") + e->d_name);
          break;
        }
      }
      if (auto s = remove_tree_at(::dirfd(d), e->d_name, dev); !s) {
        st_out = std::move(s);
        break;
      }
    }
    ::closedir(d);
    if (!st_out) return st_out;
    if (::unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) return sys_error(std::string("rmdir ") + name);
    return Status{};
  }
  if (::unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) return sys_error(std::string("unlink ") + name);
  return Status{};
}

Status remove_all(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return errno == ENOENT ? Status{} : sys_error("stat " + path);
  std::string parent = dirname_of(path);
  UniqueFd pfd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!pfd) return sys_error("open " + parent);
  std::string base = path.substr(path.find_last_of('/') + 1);
  if (auto s = remove_tree_at(pfd.get(), base.c_str(), st.st_dev); !s) return std::move(s).error().wrap("remove " + path);
  return Status{};
}

Result<TempDir> TempDir::create(const std::string& parent, std::string_view prefix) {
  if (auto s = mkdir_p(parent); !s) return std::move(s).error();
  std::string tmpl = path_join(parent, std::string(prefix) + ".XXXXXX");
  if (!::mkdtemp(tmpl.data())) return sys_error("mkdtemp " + tmpl);
  return TempDir(tmpl);
}

TempDir::~TempDir() {
  if (!path_.empty()) (void)remove_all(path_);
}

}  // namespace berth
