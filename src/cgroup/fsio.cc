#include "cgroup/fsio.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "base/fd.h"
#include "base/fs.h"

namespace berth::cgroup::fsio {
namespace {

constexpr int kMaxDepth = 64;
constexpr uint64_t kMaxFile = 4u << 20;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

bool parse_u64(const std::string& s, uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

void sleep_ms(long ms) {
  struct timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

}  // namespace

Status write(const std::string& dir, const std::string& file, const std::string& value) {
  std::string path = dir + "/" + file;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return sys_error("cgroup: open " + path);
  while (true) {
    ssize_t n = ::write(fd.get(), value.data(), value.size());
    if (n >= 0) return Status{};
    if (errno == EINTR) continue;
    int err = errno;
    return Error(Errc::io, "cgroup: write \"" + value + "\" to " + path, err);
  }
}

Result<std::string> read(const std::string& dir, const std::string& file) {
  return read_file(dir + "/" + file, kMaxFile);
}

Result<std::optional<uint64_t>> read_u64(const std::string& dir, const std::string& file) {
  TRY_ASSIGN(std::string s, read(dir, file));
  s = trim(s.substr(0, s.find('\n')));
  if (s == "max") return std::optional<uint64_t>();
  // memory.limit_in_bytes and friends may read "-1" on some kernels.
  if (s == "-1") return std::optional<uint64_t>();
  uint64_t v;
  if (!parse_u64(s, v)) return Error(Errc::invalid_input, "cgroup: " + dir + "/" + file + ": not a number: " + s);
  return std::optional<uint64_t>(v);
}

Result<std::map<std::string, uint64_t>> read_kv(const std::string& dir, const std::string& file) {
  TRY_ASSIGN(std::string s, read(dir, file));
  std::map<std::string, uint64_t> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t nl = s.find('\n', i);
    if (nl == std::string::npos) nl = s.size();
    std::string line = s.substr(i, nl - i);
    i = nl + 1;
    size_t sp = line.find(' ');
    if (sp == std::string::npos) continue;
    uint64_t v;
    if (parse_u64(trim(line.substr(sp + 1)), v)) out[line.substr(0, sp)] = v;
  }
  return out;
}

bool exists(const std::string& dir, const std::string& file) {
  struct stat st;
  return ::stat((dir + "/" + file).c_str(), &st) == 0;
}

Result<std::vector<std::string>> mkdirs(const std::string& root, const std::string& dir) {
  std::vector<std::string> created;
  if (dir.size() < root.size() || dir.compare(0, root.size(), root) != 0)
    return Error(Errc::internal, "cgroup: " + dir + " is not below " + root);
  size_t i = root.size();
  while (i < dir.size()) {
    size_t j = dir.find('/', i + 1);
    if (j == std::string::npos) j = dir.size();
    std::string cur = dir.substr(0, j);
    i = j;
    if (cur.size() <= root.size()) continue;
    if (::mkdir(cur.c_str(), 0755) == 0) {
      created.push_back(cur);
    } else if (errno != EEXIST) {
      return sys_error("cgroup: mkdir " + cur);
    } else {
      struct stat st;
      if (::lstat(cur.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return Error(Errc::invalid_argument, "cgroup: " + cur + " exists and is not a cgroup directory");
    }
  }
  return created;
}

Status rmdir_retry(const std::string& dir) {
  // ~1 s in total with backoff: a task that has just been reaped releases
  // its cgroup within milliseconds; callers check for live tasks first.
  long delay = 1;
  for (int attempt = 0;; ++attempt) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return Status{};
    int err = errno;
    if (err != EBUSY || attempt >= 12) {
      if (err == EBUSY) return Error(Errc::busy, "cgroup: rmdir " + dir + ": still has processes or children", err);
      return sys_error("cgroup: rmdir " + dir, err);
    }
    sleep_ms(delay);
    if (delay < 100) delay *= 2;
  }
}

static Status remove_tree_at(const std::string& dir, int depth) {
  if (depth > kMaxDepth) return Error(Errc::limit, "cgroup: " + dir + ": nested deeper than 64 levels");
  // A container's cgroup is almost always a leaf: one rmdir, no directory
  // read. EBUSY means children (or tasks still leaving): walk, then retry.
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return Status{};
  auto kids = children(dir);
  if (!kids.ok()) return kids.error().sys_errno == ENOENT ? Status{} : Status(std::move(kids).error());
  for (const auto& k : *kids) TRY(remove_tree_at(dir + "/" + k, depth + 1));
  return rmdir_retry(dir);
}

Status remove_tree(const std::string& dir) { return remove_tree_at(dir, 0); }

Result<std::vector<std::string>> children(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return sys_error("cgroup: opendir " + dir);
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (e->d_type == DT_DIR) out.push_back(name);
  }
  ::closedir(d);
  return out;
}

Status collect_pids(const std::string& dir, std::vector<pid_t>& out, int depth) {
  if (depth > kMaxDepth) return Error(Errc::limit, "cgroup: " + dir + ": nested deeper than 64 levels");
  auto procs = read(dir, "cgroup.procs");
  if (!procs.ok()) {
    // A child cgroup removed while we walk is not an error.
    if (procs.error().sys_errno == ENOENT && depth > 0) return Status{};
    return std::move(procs).error();
  }
  size_t i = 0;
  const std::string& s = *procs;
  while (i < s.size()) {
    size_t nl = s.find('\n', i);
    if (nl == std::string::npos) nl = s.size();
    uint64_t v;
    if (parse_u64(s.substr(i, nl - i), v) && v > 0 && v < (1u << 30)) out.push_back(static_cast<pid_t>(v));
    i = nl + 1;
  }
  TRY_ASSIGN(auto kids, children(dir));
  for (const auto& k : kids) TRY(collect_pids(dir + "/" + k, out, depth + 1));
  return Status{};
}

}  // namespace berth::cgroup::fsio
