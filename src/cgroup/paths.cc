#include "cgroup/paths.h"

#include <vector>

namespace berth::cgroup {
namespace {

constexpr size_t kMaxPath = 4096;
constexpr size_t kMaxComponent = 255;

Error bad(const std::string& what, const std::string& value, const std::string& why) {
  std::string shown = value.size() > 120 ? value.substr(0, 120) + "..." : value;
  for (auto& c : shown)
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  return Error(Errc::invalid_argument, "cgroup: " + what + " \"" + shown + "\": " + why);
}

// Splits on '/', dropping empty components, refusing ones that would escape
// or that the kernel would treat specially.
Result<std::vector<std::string>> components(const std::string& what, const std::string& p) {
  if (p.size() > kMaxPath) return bad(what, p, "longer than 4096 bytes");
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&]() -> Status {
    if (cur.empty()) return Status{};
    if (cur == "." || cur == "..") return bad(what, p, "contains a \"" + cur + "\" component");
    if (cur.size() > kMaxComponent) return bad(what, p, "has a component longer than 255 bytes");
    out.push_back(std::move(cur));
    cur.clear();
    return Status{};
  };
  for (char c : p) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return bad(what, p, "contains a control character");
    if (c == '/') {
      TRY(flush());
    } else {
      cur.push_back(c);
    }
  }
  TRY(flush());
  return out;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

bool looks_like_systemd_path(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  size_t a = p.find(':');
  if (a == std::string::npos) return false;
  size_t b = p.find(':', a + 1);
  if (b == std::string::npos || p.find(':', b + 1) != std::string::npos) return false;
  std::string slice = p.substr(0, a);
  return slice.empty() || ends_with(slice, ".slice");
}

Result<std::string> expand_slice(const std::string& slice) {
  if (slice.empty() || slice == "-.slice") return std::string("/");
  if (!ends_with(slice, ".slice")) return bad("systemd slice", slice, "does not end in .slice");
  std::string base = slice.substr(0, slice.size() - 6);
  if (base.empty() || slice.find('/') != std::string::npos)
    return bad("systemd slice", slice, "is not a valid slice name");
  if (base.front() == '-' || base.back() == '-' || base.find("--") != std::string::npos)
    return bad("systemd slice", slice, "has a leading, trailing or doubled '-'");
  for (char c : base)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return bad("systemd slice", slice, "contains a control character");
  // Every '-' opens a parent slice: a-b-c.slice lives in a.slice/a-b.slice/.
  std::string out, prefix;
  size_t i = 0;
  while (true) {
    size_t j = base.find('-', i);
    prefix = base.substr(0, j);
    out += "/" + prefix + ".slice";
    if (j == std::string::npos) break;
    i = j + 1;
  }
  if (out.size() > kMaxPath) return bad("systemd slice", slice, "expands past 4096 bytes");
  return out;
}

Result<std::string> resolve_path(const std::string& cgroups_path, const std::string& container_id, bool systemd) {
  if (systemd || looks_like_systemd_path(cgroups_path)) {
    if (!looks_like_systemd_path(cgroups_path))
      return bad("cgroupsPath", cgroups_path, "expected systemd form \"slice:prefix:name\"");
    size_t a = cgroups_path.find(':'), b = cgroups_path.find(':', a + 1);
    std::string slice = cgroups_path.substr(0, a);
    std::string prefix = cgroups_path.substr(a + 1, b - a - 1);
    std::string name = cgroups_path.substr(b + 1);
    if (name.empty()) name = container_id;
    if (name.empty()) return bad("cgroupsPath", cgroups_path, "has no unit name and no container id");
    // systemd's own default for a system-manager runtime.
    if (slice.empty()) slice = "system.slice";
    TRY_ASSIGN(std::string parent, expand_slice(slice));
    // A name that is itself a slice becomes a nested slice, as in runc.
    std::string unit = ends_with(name, ".slice") ? name : (prefix.empty() ? name : prefix + "-" + name) + ".scope";
    TRY_ASSIGN(auto parts, components("cgroupsPath", unit));
    if (parts.size() != 1) return bad("cgroupsPath", cgroups_path, "unit name contains '/'");
    std::string full = (parent == "/" ? "" : parent) + "/" + unit;
    if (full.size() > kMaxPath) return bad("cgroupsPath", cgroups_path, "longer than 4096 bytes");
    return full;
  }
  if (cgroups_path.empty()) {
    TRY_ASSIGN(auto parts, components("container id", container_id));
    if (parts.size() != 1 || container_id.find('/') != std::string::npos)
      return bad("container id", container_id, "is not a single path component");
    return std::string(kBerthSubtree) + "/" + parts[0];
  }
  TRY_ASSIGN(auto parts, components("cgroupsPath", cgroups_path));
  if (cgroups_path[0] == '/') {
    if (parts.empty()) return bad("cgroupsPath", cgroups_path, "is the root cgroup");
    return join(parts);
  }
  if (parts.empty()) return bad("cgroupsPath", cgroups_path, "is empty after normalisation");
  std::string out = std::string(kBerthSubtree) + join(parts);
  if (out.size() > kMaxPath) return bad("cgroupsPath", cgroups_path, "longer than 4096 bytes");
  return out;
}

}  // namespace berth::cgroup
