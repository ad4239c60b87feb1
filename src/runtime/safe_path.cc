#include "runtime/safe_path.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

namespace berth::runtime {

Result<UniqueFd> open_in_root(int rootfd, std::string_view path, int flags, uint64_t extra_resolve) {
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | extra_resolve;
  std::string p(path);
  while (!p.empty() && p[0] == '/') p.erase(0, 1);
  if (p.empty()) p = ".";
  for (;;) {
    long fd = ::syscall(SYS_openat2, rootfd, p.c_str(), &how, sizeof how);
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    if (errno == EINTR || errno == EAGAIN) continue;
    return sys_error("open " + std::string(path) + " in the container rootfs");
  }
}

namespace {
std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> comps;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string c = p.substr(i, j - i);
    if (!c.empty() && c != ".") comps.push_back(c);
    i = j + 1;
  }
  return comps;
}
}  // namespace

Result<UniqueFd> mkpath_in_root(int rootfd, std::string_view path, bool file, uint64_t extra_resolve) {
  auto existing = open_in_root(rootfd, path, O_PATH, extra_resolve);
  if (existing.ok() || existing.error().sys_errno != ENOENT) return existing;
  std::vector<std::string> comps = split_path(std::string(path));
  std::vector<std::string> done;  // resolved, existing directories below the root
  int hops = 0;
  // Walk from the root: every step re-resolves inside the root, and a
  // dangling symlink is followed by hand, relative to the root, so whatever a
  // racing container swaps in, creation never leaves the rootfs.
  while (!comps.empty()) {
    std::string c = comps.front();
    comps.erase(comps.begin());
    if (c == "..") {
      if (!done.empty()) done.pop_back();
      continue;
    }
    std::string parent = "/";
    for (const auto& d : done) parent += d + "/";
    std::string sofar = parent + c;
    auto next = open_in_root(rootfd, sofar, O_PATH, extra_resolve);
    if (next.ok()) {
      done.push_back(c);
      continue;
    }
    if (next.error().sys_errno != ENOENT) return next;
    TRY_ASSIGN(auto dir, open_in_root(rootfd, parent, O_DIRECTORY | O_RDONLY, extra_resolve));
    char target[4096];
    ssize_t n = ::readlinkat(dir.get(), c.c_str(), target, sizeof target - 1);
    if (n >= 0) {
      if (++hops > 40) return Error(Errc::invalid_input, "too many symlinks creating " + std::string(path));
      if (extra_resolve & RESOLVE_NO_SYMLINKS)
        return Error(Errc::permission, "create " + std::string(path) + ": " + sofar + " is a symlink");
      target[n] = 0;
      auto more = split_path(target);
      if (target[0] == '/') done.clear();
      comps.insert(comps.begin(), more.begin(), more.end());
      continue;
    }
    bool last = comps.empty();
    if (last && file) {
      int fd = ::openat(dir.get(), c.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd < 0 && errno != EEXIST) return sys_error("create " + sofar + " in the container rootfs");
      if (fd >= 0) ::close(fd);
    } else if (::mkdirat(dir.get(), c.c_str(), 0755) != 0 && errno != EEXIST) {
      return sys_error("mkdir " + sofar + " in the container rootfs");
    }
    done.push_back(c);
  }
  std::string full;
  for (const auto& d : done) full += "/" + d;
  return open_in_root(rootfd, full.empty() ? "/" : full, O_PATH, extra_resolve);
}

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

Status move_tree_to(int tree_fd, int target_fd, std::string_view what) {
  if (::move_mount(tree_fd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    return sys_error("mount " + std::string(what));
  return Status{};
}

Status bind_fd_onto(int src_fd, int target_fd, bool recursive, uint64_t attr_set, std::string_view what) {
  unsigned int flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH;
  if (recursive) flags |= AT_RECURSIVE;
  UniqueFd tree(::open_tree(src_fd, "", flags));
  if (!tree) return sys_error("clone mount for " + std::string(what));
  if (attr_set) {
    struct mount_attr attr = {};
    attr.attr_set = attr_set;
    if (::mount_setattr(tree.get(), "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr, sizeof attr) != 0)
      return sys_error("set attributes on " + std::string(what));
  }
  return move_tree_to(tree.get(), target_fd, what);
}

}  // namespace berth::runtime
