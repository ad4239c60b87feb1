// The build context: resolving and expanding COPY sources inside the root,
// walking them with .dockerignore applied, and extracting a context tar.
#include "build/context.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <deque>
#include <set>

#include "base/fs.h"
#include "build/context_walk.h"
#include "build/ignore_match.h"
#include "layer/layer.h"

namespace berth::build {

namespace detail {

namespace {

constexpr int kMaxLinks = 40;
constexpr int kMaxDepth = 4096;

std::vector<std::string> split(std::string_view p) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    if (j > i) out.emplace_back(p.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (auto& p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

std::string join_rel(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "/" + b;
}

Result<std::string> read_link(int fd, const std::string& shown) {
  char buf[4096];
  ssize_t n = ::readlinkat(fd, "", buf, sizeof buf);
  if (n < 0) return sys_error("readlink " + shown);
  if (static_cast<size_t>(n) >= sizeof buf) return Error(Errc::limit, shown + ": symlink target too long");
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

std::string proc_fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

bool visible(const IgnoreMatcher& ig, const std::string& real, bool is_dir) {
  if (ig.empty() || real.empty()) return true;
  if (!ig.excluded(real)) return true;
  return is_dir && ig.may_reinclude_under(real);
}

// The component walk of layer::detail::Root, keeping the names: we need the
// real path to apply .dockerignore to what is actually read.
Result<std::optional<Resolved>> resolve_source(const Source& src, int rootfd, std::string_view rel,
                                               bool follow_last) {
  std::deque<std::string> todo;
  for (auto& c : split(rel)) todo.push_back(std::move(c));
  std::vector<std::string> names;
  std::vector<UniqueFd> fds;
  int links = 0;
  Resolved r;
  if (::fstat(rootfd, &r.st) != 0) return sys_error("stat the build context " + src.root());
  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c == ".") continue;
    if (c == "..") {
      if (!names.empty()) {
        names.pop_back();
        fds.pop_back();
      }
      if (todo.empty() && ::fstat(fds.empty() ? rootfd : fds.back().get(), &r.st) != 0)
        return sys_error("stat " + src.root());
      continue;
    }
    int cur = fds.empty() ? rootfd : fds.back().get();
    UniqueFd f(::openat(cur, c.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!f) {
      if (errno == ENOENT || errno == ENOTDIR) return std::optional<Resolved>();
      return sys_error("open " + join_rel(join(names), c) + " in " + src.root());
    }
    struct stat st;
    if (::fstat(f.get(), &st) != 0) return sys_error("stat " + join_rel(join(names), c));
    std::string here = join_rel(join(names), c);
    if (S_ISLNK(st.st_mode) && (follow_last || !todo.empty())) {
      if (!visible(src.ignore(), here, false)) return std::optional<Resolved>();
      if (++links > kMaxLinks) return Error(Errc::invalid_argument, here + ": too many levels of symbolic links", ELOOP);
      TRY_ASSIGN(std::string target, read_link(f.get(), here));
      if (!target.empty() && target[0] == '/') {  // absolute: from the context root, never the host's
        names.clear();
        fds.clear();
      }
      auto parts = split(target);
      todo.insert(todo.begin(), parts.begin(), parts.end());
      if (todo.empty() && ::fstat(fds.empty() ? rootfd : fds.back().get(), &r.st) != 0)
        return sys_error("stat " + src.root());
      continue;
    }
    if (!todo.empty() && !S_ISDIR(st.st_mode)) return std::optional<Resolved>();
    if (names.size() >= kMaxDepth) return Error(Errc::limit, here + ": directories nested too deep");
    names.push_back(std::move(c));
    fds.push_back(std::move(f));
    r.st = st;
  }
  r.real = join(names);
  if (!visible(src.ignore(), r.real, S_ISDIR(r.st.st_mode))) return std::optional<Resolved>();
  return std::optional<Resolved>(std::move(r));
}

Result<UniqueFd> open_real(int rootfd, const std::string& real) {
  if (real.empty()) {
    UniqueFd d(::fcntl(rootfd, F_DUPFD_CLOEXEC, 0));
    if (!d) return sys_error("dup");
    return d;
  }
  // Every component is opened O_NOFOLLOW: a path resolved earlier that has
  // since been swapped for a symlink fails instead of leaving the root.
  UniqueFd cur(::fcntl(rootfd, F_DUPFD_CLOEXEC, 0));
  if (!cur) return sys_error("dup");
  for (auto& c : split(real)) {
    UniqueFd next(::openat(cur.get(), c.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!next) return sys_error("open " + real + " in the build context");
    cur = std::move(next);
  }
  return cur;
}

namespace {

class Walker {
 public:
  Walker(const Source& s, const VisitFn& v) : src_(s), visit_(v) {}

  Status entry(UniqueFd fd, const std::string& rel, const std::string& real, int depth) {
    if (depth > kMaxDepth) return Error(Errc::limit, real + ": directories nested too deep");
    WalkEntry e;
    e.rel = rel;
    e.real = real;
    e.fd = fd.get();
    if (::fstat(fd.get(), &e.st) != 0) return sys_error("stat " + real + " in the build context");
    bool is_dir = S_ISDIR(e.st.st_mode);
    bool excluded = depth > 0 && !src_.ignore().empty() && src_.ignore().excluded(real);
    if (excluded && !(is_dir && src_.ignore().may_reinclude_under(real))) return Status{};
    if (S_ISLNK(e.st.st_mode)) {
      TRY_ASSIGN(e.link, read_link(fd.get(), real));
    }
    if (!is_dir) {
      if (excluded) return Status{};
      TRY(flush());
      return visit_(e);
    }
    pending_.push_back({std::move(fd), e});
    pending_.back().e.fd = pending_.back().fd.get();
    if (!excluded) TRY(flush());
    Status st = children(pending_.back().fd.get(), rel, real, depth);
    pending_.pop_back();
    if (flushed_ > pending_.size()) flushed_ = pending_.size();
    return st;
  }

 private:
  struct Pending {
    UniqueFd fd;
    WalkEntry e;
  };

  Status flush() {
    for (; flushed_ < pending_.size(); flushed_++) TRY(visit_(pending_[flushed_].e));
    return Status{};
  }

  Status children(int dirfd, const std::string& rel, const std::string& real, int depth) {
    UniqueFd rd(::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!rd) return sys_error("open directory " + (real.empty() ? "." : real) + " in the build context");
    DIR* d = ::fdopendir(rd.get());
    if (!d) return sys_error("opendir " + real);
    rd.release();
    std::vector<std::string> kids;
    while (struct dirent* de = ::readdir(d)) {
      std::string_view n = de->d_name;
      if (n == "." || n == "..") continue;
      kids.emplace_back(n);
    }
    std::sort(kids.begin(), kids.end());
    Status out;
    for (auto& k : kids) {
      UniqueFd kfd(::openat(::dirfd(d), k.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!kfd) {
        if (errno == ENOENT) continue;  // removed since readdir
        out = sys_error("open " + join_rel(real, k) + " in the build context");
        break;
      }
      out = entry(std::move(kfd), join_rel(rel, k), join_rel(real, k), depth + 1);
      if (!out) break;
    }
    ::closedir(d);
    return out;
  }

  const Source& src_;
  const VisitFn& visit_;
  std::vector<Pending> pending_;  // directories entered; the first flushed_ were reported
  size_t flushed_ = 0;
};

}  // namespace

Status walk_source(const Source& src, int rootfd, const std::string& real_top, const VisitFn& visit) {
  TRY_ASSIGN(UniqueFd top, open_real(rootfd, real_top));
  Walker w(src, visit);
  return w.entry(std::move(top), "", real_top, 0);
}

}  // namespace detail

Result<Source> Source::dir(std::string root, IgnoreMatcher ignore) {
  struct stat st;
  if (::stat(root.c_str(), &st) != 0) return sys_error("build context " + root);
  if (!S_ISDIR(st.st_mode)) return Error(Errc::invalid_argument, "build context " + root + ": not a directory");
  Source s;
  s.root_ = std::move(root);
  s.ignore_ = std::move(ignore);
  return s;
}

namespace {

std::string not_found(const std::string& p) {
  return "file not found in build context or excluded by .dockerignore: " + (p.empty() ? std::string(".") : p);
}

}  // namespace

Result<std::vector<std::string>> Source::match(std::string_view pattern) const {
  UniqueFd rootfd(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) return sys_error("open build context " + root_);
  // "/x", "../x" and "./x" all name x at the context root (filepath.Clean("/" + p)).
  std::string cleaned = path_clean("/" + std::string(pattern)).substr(1);
  auto comps = detail::split(cleaned);
  bool wild = std::any_of(comps.begin(), comps.end(), [](const std::string& c) { return detail::has_wildcard(c); });
  if (!wild) {
    TRY_ASSIGN(auto r, detail::resolve_source(*this, rootfd.get(), cleaned, false));
    if (!r) return Error(Errc::not_found, not_found(cleaned));
    // COPY follows a source that is a symlink (inside the root): it must lead somewhere.
    TRY_ASSIGN(auto followed, detail::resolve_source(*this, rootfd.get(), cleaned, true));
    if (!followed) return Error(Errc::not_found, not_found(cleaned));
    return std::vector<std::string>{r->real.empty() ? "." : r->real};
  }
  // Component by component, like filepath.Glob: literal components are
  // looked up, wildcard ones matched against the directory's entries.
  std::vector<std::string> cur{""};  // real paths of directories reached so far
  for (size_t k = 0; k < comps.size(); k++) {
    bool last = k + 1 == comps.size();
    std::set<std::string> next;
    if (!detail::has_wildcard(comps[k])) {
      for (auto& base : cur) {
        TRY_ASSIGN(auto r, detail::resolve_source(*this, rootfd.get(), detail::join_rel(base, comps[k]), !last));
        if (r && (last || S_ISDIR(r->st.st_mode))) next.insert(r->real);
        if (r && last) {
          TRY_ASSIGN(auto followed, detail::resolve_source(*this, rootfd.get(), r->real, true));
          if (!followed) next.erase(r->real);
        }
      }
    } else {
      auto g = detail::compile_glob(comps[k]);
      if (!g) return Error(Errc::invalid_argument, "COPY source " + std::string(pattern) + ": " + g.error().message);
      for (auto& base : cur) {
        TRY_ASSIGN(UniqueFd dfd, detail::open_real(rootfd.get(), base));
        UniqueFd rd(::openat(dfd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!rd) continue;  // replaced meanwhile
        DIR* d = ::fdopendir(rd.get());
        if (!d) return sys_error("opendir " + base);
        rd.release();
        std::vector<std::string> names;
        while (struct dirent* de = ::readdir(d)) {
          std::string_view n = de->d_name;
          if (n == "." || n == ".." || !detail::glob_matches(**g, n)) continue;
          names.emplace_back(n);
        }
        ::closedir(d);
        for (auto& n : names) {
          auto r = detail::resolve_source(*this, rootfd.get(), detail::join_rel(base, n), !last);
          if (!r) return std::move(r).error();
          if (!*r || !(last || S_ISDIR((*r)->st.st_mode))) continue;
          if (last) {  // a matched symlink is followed when copied: skip one that leads nowhere
            auto followed = detail::resolve_source(*this, rootfd.get(), (*r)->real, true);
            if (!followed) return std::move(followed).error();
            if (!*followed) continue;
          }
          next.insert((*r)->real);
        }
      }
    }
    cur.assign(next.begin(), next.end());
    if (cur.empty()) break;
  }
  if (cur.empty())
    return Error(Errc::not_found, "no source files were specified: " + std::string(pattern) + " matches nothing");
  for (auto& c : cur)
    if (c.empty()) c = ".";
  return cur;
}

// The caller keeps its fd (stdin, usually): apply_layer_fd consumes a dup.
Status extract_context_tar(int fd, const std::string& dir) {
  UniqueFd owned(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!owned) return sys_error("build context tar: dup fd " + std::to_string(fd));
  UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d) return sys_error("build context directory " + dir);
  DIR* dp = ::fdopendir(d.release());
  if (!dp) return sys_error("opendir " + dir);
  bool empty = true;
  while (struct dirent* de = ::readdir(dp)) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") empty = false;
  }
  ::closedir(dp);
  if (!empty) return Error(Errc::invalid_argument, "build context directory " + dir + ": not empty");
  layer::ApplyOptions opts;
  opts.label = "build context tar";
  opts.whiteouts = layer::Whiteouts::flatten;
  auto r = layer::apply_layer_fd(owned.release(), dir, opts);
  if (!r) return std::move(r).error().wrap("reading the build context from stdin");
  return Status{};
}

}  // namespace berth::build
