#include "layer/resolve.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <vector>

namespace berth::layer::detail {

namespace {

std::atomic<bool> g_no_openat2{false};

int sys_openat2(int dirfd, const char* path, uint64_t flags, uint64_t resolve) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = flags;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

void split(std::string_view p, std::deque<std::string>& out, bool front) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    if (j > i) parts.emplace_back(p.substr(i, j - i));
    i = j + 1;
  }
  if (front)
    out.insert(out.begin(), parts.begin(), parts.end());
  else
    out.insert(out.end(), parts.begin(), parts.end());
}

}  // namespace

Result<Root> Root::open(const std::string& dir, bool force_walk) {
  UniqueFd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return sys_error("open " + dir);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return sys_error("stat " + dir);
  bool use2 = !force_walk && !g_no_openat2.load(std::memory_order_relaxed);
  if (use2) {
    int probe = sys_openat2(fd.get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_IN_ROOT);
    if (probe < 0 && errno == ENOSYS) {
      g_no_openat2 = true;
      use2 = false;
    } else if (probe >= 0) {
      ::close(probe);
    }
  }
  return Root(std::move(fd), st.st_dev, use2);
}

int Root::open_dir(std::string_view rel) const {
  if (rel.empty()) {
    int d = ::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0);
    return d < 0 ? -errno : d;
  }
  if (!openat2_) return walk(rel);
  std::string p(rel);
  int r;
  do {
    r = sys_openat2(fd_.get(), p.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC,
                    RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
  } while (r < 0 && errno == EAGAIN);  // a concurrent rename elsewhere on the fs; retry
  return r < 0 ? -errno : r;
}

// The openat2 fallback: same semantics, one component at a time. Each
// component is opened O_PATH|O_NOFOLLOW relative to the previous one, so a
// symlink is never followed by the kernel; we read it and splice its target
// into the remaining path, restarting from the root for absolute targets and
// clamping ".." at the root.
int Root::walk(std::string_view rel) const {
  std::deque<std::string> todo;
  split(rel, todo, false);
  std::vector<UniqueFd> stack;  // descended directories; empty = at the root
  int links = 0;
  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c == ".") continue;
    if (c == "..") {
      if (!stack.empty()) stack.pop_back();
      continue;
    }
    int cur = stack.empty() ? fd_.get() : stack.back().get();
    UniqueFd f(::openat(cur, c.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!f) return -errno;
    struct stat st;
    if (::fstat(f.get(), &st) != 0) return -errno;
    if (S_ISLNK(st.st_mode)) {
      if (++links > 40) return -ELOOP;
      char buf[4096];
      ssize_t n = ::readlinkat(f.get(), "", buf, sizeof buf);
      if (n < 0) return -errno;
      if (static_cast<size_t>(n) >= sizeof buf) return -ENAMETOOLONG;
      std::string_view target(buf, static_cast<size_t>(n));
      if (!target.empty() && target[0] == '/') stack.clear();
      split(target, todo, true);
      continue;
    }
    if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
    if (st.st_dev != dev_) return -EXDEV;
    stack.push_back(std::move(f));
  }
  if (stack.empty()) {
    int d = ::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0);
    return d < 0 ? -errno : d;
  }
  return stack.back().release();
}

Result<std::string> clean_name(std::string_view raw) {
  if (raw.empty()) return Error(Errc::invalid_input, "empty name");
  // Absolute names are rooted at the layer root, as Docker's and containerd's
  // appliers treat them (umoci writes "/" for the root entry): "/etc/x" is
  // "etc/x" inside the target, never the host's /etc.
  while (!raw.empty() && raw.front() == '/') raw.remove_prefix(1);
  std::string out;
  out.reserve(raw.size());
  size_t i = 0;
  while (i <= raw.size()) {
    size_t j = raw.find('/', i);
    if (j == std::string_view::npos) j = raw.size();
    std::string_view c = raw.substr(i, j - i);
    i = j + 1;
    if (c.empty() || c == ".") continue;
    if (c == "..") return Error(Errc::invalid_input, "\"..\" in name");
    if (!out.empty()) out += '/';
    out.append(c);
  }
  return out;
}

}  // namespace berth::layer::detail
