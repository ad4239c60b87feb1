#include "cgroup/layout.h"

#include <algorithm>
#include <mutex>

#include "base/fs.h"

namespace berth::cgroup {
namespace {

constexpr size_t kMaxMountinfo = 8u << 20;

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(sep, i);
    if (j == std::string_view::npos) j = s.size();
    out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' &&
        s[i + 3] <= '7') {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// v1 superblock options that are not controllers.
bool is_controller_option(std::string_view o) {
  static constexpr std::string_view kNot[] = {"rw", "ro", "noprefix", "clone_children", "xattr", "cpuset_v2_mode",
                                              "nosuid", "nodev", "noexec", "relatime", "favordynmods"};
  if (o.empty() || o.rfind("release_agent=", 0) == 0) return false;
  return std::find(std::begin(kNot), std::end(kNot), o) == std::end(kNot);
}

}  // namespace

bool Hierarchy::has(std::string_view c) const {
  return std::find(controllers.begin(), controllers.end(), c) != controllers.end();
}

const Hierarchy* HostLayout::find_v1(std::string_view c) const {
  for (const auto& h : v1)
    if (h.has(c)) return &h;
  return nullptr;
}

bool HostLayout::v2_has(std::string_view c) const {
  return std::find(v2_controllers.begin(), v2_controllers.end(), c) != v2_controllers.end();
}

Result<HostLayout> parse_mountinfo(std::string_view text) {
  if (text.size() > kMaxMountinfo) return Error(Errc::limit, "cgroup: mountinfo larger than 8 MiB");
  HostLayout out;
  size_t lineno = 0;
  for (std::string_view line : split(text, '\n')) {
    ++lineno;
    if (line.empty()) continue;
    auto fields = split(line, ' ');
    // id parent maj:min root mountpoint options [optional...] - fstype source superopts
    auto dash = std::find(fields.begin(), fields.end(), std::string_view("-"));
    if (fields.size() < 7 || dash == fields.end() || fields.end() - dash < 4 || dash - fields.begin() < 6)
      return Error(Errc::invalid_input, "cgroup: mountinfo line " + std::to_string(lineno) + ": malformed");
    std::string_view fstype = dash[1];
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    std::string root = unescape(fields[3]);
    std::string mountpoint = unescape(fields[4]);
    if (fstype == "cgroup2") {
      // The first cgroup2 mount wins; later ones are usually container bind mounts.
      if (out.v2_mount.empty()) {
        out.v2_mount = mountpoint;
        out.v2_root = root;
      }
      continue;
    }
    Hierarchy h;
    for (auto o : split(dash[3], ','))
      if (is_controller_option(o)) h.controllers.emplace_back(o);
    if (h.controllers.empty()) continue;
    // The same hierarchy may be mounted twice; keep the first mount.
    bool dup = false;
    for (const auto& e : out.v1) dup |= e.controllers == h.controllers;
    if (dup) continue;
    h.mountpoint = std::move(mountpoint);
    h.root = std::move(root);
    out.v1.push_back(std::move(h));
  }
  bool v1_resources = false;
  for (const auto& h : out.v1)
    for (const auto& c : h.controllers) v1_resources |= c.rfind("name=", 0) != 0;
  if (v1_resources)
    out.layout = out.v2_mount.empty() ? Layout::v1 : Layout::hybrid;
  else if (!out.v2_mount.empty())
    out.layout = Layout::v2;
  else
    return Error(Errc::unsupported, "cgroup: no cgroup filesystem is mounted (see /proc/self/mountinfo)");
  return out;
}

Result<HostLayout> detect() {
  TRY_ASSIGN(std::string text, read_file("/proc/self/mountinfo", kMaxMountinfo));
  TRY_ASSIGN(HostLayout l, parse_mountinfo(text));
  if (!l.v2_mount.empty()) {
    auto c = read_file(path_join(l.v2_mount, "cgroup.controllers"), 4096);
    if (c.ok())
      for (auto f : split(*c, ' ')) {
        while (!f.empty() && (f.back() == '\n' || f.back() == ' ')) f.remove_suffix(1);
        if (!f.empty()) l.v2_controllers.emplace_back(f);
      }
  }
  return l;
}

const HostLayout* host() {
  static std::once_flag once;
  static HostLayout* cached = nullptr;
  std::call_once(once, [] {
    auto r = detect();
    if (r.ok()) cached = new HostLayout(std::move(*r));
  });
  return cached;
}

Layout host_layout() {
  const HostLayout* h = host();
  return h ? h->layout : Layout::v2;
}

std::string dir_for(const std::string& mountpoint, const std::string& root, const std::string& path) {
  if (root.empty() || root == "/") return path == "/" ? mountpoint : mountpoint + path;
  // A bind-mounted subtree (e.g. inside a container): only paths beneath its root show.
  if (path == root) return mountpoint;
  if (path.size() > root.size() && path.compare(0, root.size(), root) == 0 && path[root.size()] == '/')
    return mountpoint + path.substr(root.size());
  return {};
}

}  // namespace berth::cgroup
