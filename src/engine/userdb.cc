#include "engine/userdb.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/fs.h"
#include "layer/resolve.h"

namespace berth::engine {

namespace {

constexpr int64_t kMaxId = 2147483647;  // moby/sys/user: ids are 0..2^31-1

// Names reach error messages; keep them on one line.
std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 256)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  return out;
}

std::optional<int64_t> parse_id(std::string_view s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  for (;;) {
    size_t j = line.find(':', i);
    out.push_back(line.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) return out;
    i = j + 1;
  }
}

// Calls f(line) for every line that is neither too long, empty, a comment,
// nor an NIS "+"/"-" include (which name no local entry).
template <class F>
void each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.size() > kMaxDbLine) continue;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#' || line[0] == '+' || line[0] == '-') continue;
    if (line.find('\0') != std::string_view::npos) continue;
    f(line);
  }
}

Error no_user(std::string_view name) {
  return Error(Errc::not_found, "unable to find user " + printable(name) + ": no matching entries in passwd file");
}
Error no_group(std::string_view name) {
  return Error(Errc::not_found, "unable to find group " + printable(name) + ": no matching entries in group file");
}

}  // namespace

std::vector<PasswdEntry> parse_passwd(std::string_view text) {
  std::vector<PasswdEntry> out;
  each_line(text, [&](std::string_view line) {
    auto f = fields(line);
    if (f.size() < 4 || f[0].empty()) return;  // name:pass:uid:gid at least
    auto uid = parse_id(f[2]), gid = parse_id(f[3]);
    if (!uid || !gid || *uid > kMaxId || *gid > kMaxId) return;
    PasswdEntry e;
    e.name = std::string(f[0]);
    e.uid = static_cast<uint32_t>(*uid);
    e.gid = static_cast<uint32_t>(*gid);
    if (f.size() > 5) e.home = std::string(f[5]);
    out.push_back(std::move(e));
  });
  return out;
}

std::vector<GroupEntry> parse_group(std::string_view text) {
  std::vector<GroupEntry> out;
  each_line(text, [&](std::string_view line) {
    auto f = fields(line);
    if (f.size() < 3 || f[0].empty()) return;  // name:pass:gid[:members]
    auto gid = parse_id(f[2]);
    if (!gid || *gid > kMaxId) return;
    GroupEntry g;
    g.name = std::string(f[0]);
    g.gid = static_cast<uint32_t>(*gid);
    if (f.size() > 3) {
      std::string_view m = f[3];
      while (!m.empty()) {
        size_t c = m.find(',');
        std::string_view one = m.substr(0, c);
        while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
        while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
        if (!one.empty()) g.members.emplace_back(one);
        m.remove_prefix(c == std::string_view::npos ? m.size() : c + 1);
      }
    }
    out.push_back(std::move(g));
  });
  return out;
}

Result<ResolvedUser> resolve_user_in(std::string_view spec, const std::optional<std::string>& passwd,
                                     const std::optional<std::string>& group) {
  size_t colon = spec.find(':');
  std::string_view user_arg = spec.substr(0, colon);
  std::string_view group_arg = colon == std::string_view::npos ? std::string_view() : spec.substr(colon + 1);
  if (user_arg.empty()) user_arg = "0";  // "" and ":grp" mean root, as in Docker
  auto uid_num = parse_id(user_arg);
  if (uid_num && *uid_num > kMaxId) return Error(Errc::invalid_argument, "uids and gids must be in range 0-2147483647");

  ResolvedUser u;
  bool matched = false;
  if (passwd) {
    // moby matches the name or the numeric id, first entry wins.
    for (auto& e : parse_passwd(*passwd)) {
      if (e.name == user_arg || (uid_num && e.uid == *uid_num)) {
        u.name = e.name;
        u.uid = e.uid;
        u.gid = e.gid;
        if (!e.home.empty()) u.home = e.home;
        matched = true;
        break;
      }
    }
  }
  if (!matched) {
    if (!uid_num) return no_user(user_arg);
    u.uid = static_cast<uint32_t>(*uid_num);
  }
  if (group_arg.empty() && !matched) return u;

  std::vector<GroupEntry> groups;
  if (group) groups = parse_group(*group);
  if (!group_arg.empty()) {
    for (auto& g : groups)
      if (g.name == group_arg || std::to_string(g.gid) == group_arg) {
        u.gid = g.gid;
        return u;
      }
    auto gid = parse_id(group_arg);
    if (!gid) return no_group(group_arg);
    if (*gid > kMaxId) return Error(Errc::invalid_argument, "uids and gids must be in range 0-2147483647");
    u.gid = static_cast<uint32_t>(*gid);
    return u;
  }
  for (auto& g : groups)
    for (auto& m : g.members)
      if (m == u.name) {
        u.additional_gids.push_back(g.gid);
        break;
      }
  return u;
}

Result<std::optional<std::string>> read_rootfs_file(const std::string& rootfs, std::string_view rel, size_t limit) {
  TRY_ASSIGN(auto root, layer::detail::Root::open(rootfs));
  std::string path(rel);
  for (int hops = 0;; hops++) {
    if (hops > 40) return sys_error(std::string(rel) + " in " + rootfs, ELOOP);
    while (!path.empty() && path[0] == '/') path.erase(0, 1);
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    if (base.empty() || base == "." || base == "..")
      return Error(Errc::invalid_input, std::string(rel) + " in " + rootfs + " is not a regular file");
    int d = root.open_dir(dir);
    if (d == -ENOENT || d == -ENOTDIR) return std::optional<std::string>();
    if (d < 0) return sys_error("open " + std::string(rel) + " in " + rootfs, -d);
    UniqueFd dfd(d);
    // O_NOFOLLOW: a final symlink is read and resolved again inside the
    // root, never followed by the kernel from here; O_NONBLOCK: a FIFO
    // planted at etc/passwd cannot hang us before the S_ISREG check.
    UniqueFd fd(::openat(dfd.get(), base.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
    if (!fd) {
      int e = errno;
      if (e == ENOENT) return std::optional<std::string>();
      if (e != ELOOP) return sys_error("open " + std::string(rel) + " in " + rootfs, e);
      char buf[4096];
      ssize_t n = ::readlinkat(dfd.get(), base.c_str(), buf, sizeof buf);
      if (n < 0) return sys_error("readlink " + std::string(rel) + " in " + rootfs);
      if (static_cast<size_t>(n) >= sizeof buf) return sys_error("readlink " + std::string(rel), ENAMETOOLONG);
      std::string target(buf, static_cast<size_t>(n));
      path = !target.empty() && target[0] == '/' ? target : dir + "/" + target;
      continue;
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return sys_error("stat " + std::string(rel) + " in " + rootfs);
    if (!S_ISREG(st.st_mode))
      return Error(Errc::invalid_input, std::string(rel) + " in " + rootfs + " is not a regular file");
    if (static_cast<uint64_t>(st.st_size) > limit)
      return Error(Errc::limit, std::string(rel) + " in " + rootfs + " is larger than " + std::to_string(limit) + " bytes");
    // Sized from fstat, not from the limit: zero-filling an 8 MiB buffer for
    // a 100-byte /etc/passwd cost several ms on every `run`. The buffer grows
    // only if the file grew after fstat, and never past limit + 1.
    std::string out(static_cast<size_t>(st.st_size) + 1, '\0');
    TRY_ASSIGN(size_t got, read_full(fd.get(), out.data(), out.size()));
    while (got == out.size() && out.size() <= limit) {
      size_t old = out.size();
      out.resize(std::min(limit + 1, old * 2));
      TRY_ASSIGN(size_t more, read_full(fd.get(), out.data() + old, out.size() - old));
      got = old + more;
    }
    if (got > limit)  // grew after fstat
      return Error(Errc::limit, std::string(rel) + " in " + rootfs + " is larger than " + std::to_string(limit) + " bytes");
    out.resize(got);
    return std::optional<std::string>(std::move(out));
  }
}

Result<ResolvedUser> resolve_user(const std::string& rootfs, std::string_view user_spec) {
  TRY_ASSIGN(auto passwd, read_rootfs_file(rootfs, "etc/passwd"));
  TRY_ASSIGN(auto group, read_rootfs_file(rootfs, "etc/group"));
  return resolve_user_in(user_spec, passwd, group);
}

Result<std::vector<uint32_t>> resolve_groups(const std::string& rootfs, const std::vector<std::string>& names) {
  std::vector<uint32_t> out;
  if (names.empty()) return out;
  TRY_ASSIGN(auto text, read_rootfs_file(rootfs, "etc/group"));
  std::vector<GroupEntry> groups;
  if (text) groups = parse_group(*text);
  for (const auto& n : names) {
    auto num = parse_id(n);
    if (num) {
      if (*num > kMaxId) return Error(Errc::invalid_argument, "uids and gids must be in range 0-2147483647");
      out.push_back(static_cast<uint32_t>(*num));
      continue;
    }
    bool found = false;
    for (auto& g : groups)
      if (g.name == n) {
        out.push_back(g.gid);
        found = true;
        break;
      }
    if (!found) return no_group(n);
  }
  return out;
}

}  // namespace berth::engine
