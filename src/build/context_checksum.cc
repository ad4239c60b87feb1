// Source::checksum: the content key of what COPY/ADD sources reach, with the
// per-file digests memoised across builds (docs/build-context.md).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "base/fs.h"
#include "build/context.h"
#include "build/context_walk.h"

namespace berth::build {

namespace {

constexpr size_t kMaxMemoEntries = 500000;
constexpr uint64_t kMaxMemoBytes = 128ull << 20;

// (dev, inode, size, mtime, ctime): ctime moves on every write, chmod and
// rename, and cannot be set from user space, so an unchanged key means
// unchanged bytes (an inode reused with the same size and nanosecond times
// is not a practical concern).
std::string memo_key(const struct stat& st) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%u:%u:%llu:%lld:%lld.%09ld:%lld.%09ld", major(st.st_dev), minor(st.st_dev),
                static_cast<unsigned long long>(st.st_ino), static_cast<long long>(st.st_size),
                static_cast<long long>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec,
                static_cast<long long>(st.st_ctim.tv_sec), st.st_ctim.tv_nsec);
  return buf;
}

class Memo {
 public:
  explicit Memo(std::string path) : path_(std::move(path)) {
    if (path_.empty()) return;
    // A missing, oversized or corrupt memo is only a slower build: start afresh.
    auto text = read_file(path_, kMaxMemoBytes);
    if (!text) return;
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || j.value("version", 0) != 1 || !j.contains("files") ||
        !j["files"].is_object())
      return;
    for (auto& [k, v] : j["files"].items())
      if (v.is_string()) files_.emplace(k, v.get<std::string>());
  }

  const std::string* find(const std::string& key) {
    auto it = files_.find(key);
    if (it == files_.end()) return nullptr;
    used_.insert(key);
    return &it->second;
  }
  void put(const std::string& key, std::string hex) {
    files_[key] = std::move(hex);
    used_.insert(key);
    dirty_ = true;
  }

  // Last writer wins when builds race: each write is a whole, valid file
  // (atomic rename), and a lost entry only costs a re-hash next time.
  Status save() {
    if (path_.empty() || !dirty_) return Status{};
    nlohmann::json files = nlohmann::json::object();
    bool trim = files_.size() > kMaxMemoEntries;
    for (auto& [k, v] : files_)
      if (!trim || used_.count(k)) files[k] = v;
    nlohmann::json j = {{"version", 1}, {"files", std::move(files)}};
    TRY(mkdir_p(dirname_of(path_), 0700));
    auto st = atomic_write_file(path_, j.dump(), 0600);
    if (!st) return std::move(st).error().wrap("build context checksum memo");
    return Status{};
  }

 private:
  std::string path_;
  std::unordered_map<std::string, std::string> files_;
  std::unordered_set<std::string> used_;
  bool dirty_ = false;
};

Result<std::string> hash_file(int pathfd, const std::string& shown) {
  UniqueFd fd(::open(detail::proc_fd_path(pathfd).c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) return sys_error("open " + shown + " in the build context");
  Hasher h;
  std::vector<char> buf(1 << 17);
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("read " + shown + " in the build context");
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
  }
  return h.finish().hex();
}

char type_char(mode_t m) {
  switch (m & S_IFMT) {
    case S_IFREG: return 'f';
    case S_IFDIR: return 'd';
    case S_IFLNK: return 'l';
    case S_IFIFO: return 'p';
    case S_IFCHR: return 'c';
    case S_IFBLK: return 'b';
    default: return 's';
  }
}

}  // namespace

Result<Digest> Source::checksum(const std::vector<std::string>& paths, const std::string& cache_dir) const {
  UniqueFd rootfd(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) return sys_error("open build context " + root_);
  Memo memo(cache_dir.empty() ? std::string() : path_join(cache_dir, "files.json"));
  Hasher h;
  for (auto& p : paths) {
    TRY_ASSIGN(auto r, detail::resolve_source(*this, rootfd.get(), p == "." ? "" : p, true));
    if (!r) return Error(Errc::not_found, "file not found in build context or excluded by .dockerignore: " + p);
    std::string head = "source " + p;
    h.update(head.data(), head.size() + 1);  // with its NUL: names cannot contain one
    TRY(detail::walk_source(*this, rootfd.get(), r->real, [&](const detail::WalkEntry& e) -> Status {
      std::string content;
      if (S_ISREG(e.st.st_mode)) {
        std::string key = memo_key(e.st);
        if (const std::string* hex = memo.find(key)) {
          content = *hex;
        } else {
          TRY_ASSIGN(content, hash_file(e.fd, e.real));
          memo.put(key, content);
        }
      } else if (S_ISCHR(e.st.st_mode) || S_ISBLK(e.st.st_mode)) {
        content = std::to_string(major(e.st.st_rdev)) + "," + std::to_string(minor(e.st.st_rdev));
      }
      char meta[96];
      std::snprintf(meta, sizeof meta, "%c %o %u %u", type_char(e.st.st_mode), e.st.st_mode & 07777,
                    e.st.st_uid, e.st.st_gid);
      std::string line = e.rel;
      line += '\0';
      line += meta;
      line += '\0';
      line += e.link;
      line += '\0';
      line += content;
      line += '\n';
      h.update(line);
      return Status{};
    }));
  }
  TRY(memo.save());
  return h.finish();
}

}  // namespace berth::build
