// The security half of spec generation: capabilities, seccomp, devices.
#include <sys/prctl.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cctype>

#include "base/fs.h"
#include "engine/options_util.h"
#include "engine/spec_gen.h"
#include "runtime/spec.h"

namespace berth::engine {

using nlohmann::json;

namespace {

// Docker's (and containerd's, podman's) default capability set.
constexpr const char* kDefaultCaps[] = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",     "CAP_FOWNER",           "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",     "CAP_SETFCAP",          "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"};

// Every capability this kernel and libcap know and the caller's bounding
// set still holds, in number order: what --privileged and --cap-add ALL
// grant. Docker's GetAllCapabilities filters the same way since 20.10: a
// capability the caller lacks cannot be granted, and asking for it makes
// the runtime fail ("unable to apply caps") inside restricted hosts.
std::vector<std::string> all_capabilities() {
  int last = 40;
  if (auto t = read_file("/proc/sys/kernel/cap_last_cap", 64); t.ok()) {
    auto n = detail::parse_int(std::string_view(*t).substr(0, t->find('\n')));
    if (n && *n >= 0 && *n < 64) last = static_cast<int>(*n);
  }
  std::vector<std::string> out;
  for (int c = 0; c <= last; c++) {
    if (::prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1) continue;
    std::string n = runtime::cap_to_name(c);
    if (runtime::cap_from_name(n) == c) out.push_back(n);
  }
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string native_scmp_arch() {
  struct utsname u;
  if (::uname(&u) != 0) return "";
  std::string m = u.machine;
  if (m == "x86_64") return "SCMP_ARCH_X86_64";
  if (m == "aarch64") return "SCMP_ARCH_AARCH64";
  if (m.size() == 4 && m[0] == 'i' && m.substr(2) == "86") return "SCMP_ARCH_X86";
  if (m.rfind("arm", 0) == 0) return "SCMP_ARCH_ARM";
  if (m == "ppc64le") return "SCMP_ARCH_PPC64LE";
  if (m == "s390x") return "SCMP_ARCH_S390X";
  if (m == "riscv64") return "SCMP_ARCH_RISCV64";
  return "";
}

}  // namespace

Result<std::vector<std::string>> final_capabilities(const RunOptions& o) {
  if (o.privileged) return all_capabilities();
  std::vector<std::string> add, drop;
  for (const auto& c : o.cap_add) {
    TRY_ASSIGN(auto n, parse_capability(c, "--cap-add"));
    add.push_back(n);
  }
  for (const auto& c : o.cap_drop) {
    TRY_ASSIGN(auto n, parse_capability(c, "--cap-drop"));
    drop.push_back(n);
  }
  std::vector<std::string> caps;
  auto push = [&](const std::string& c) {
    if (c != "ALL" && !contains(caps, c)) caps.push_back(c);
  };
  if (contains(add, "ALL")) {
    for (const auto& c : all_capabilities())
      if (!contains(drop, c)) push(c);
  } else if (contains(drop, "ALL")) {
    for (const auto& c : add) push(c);
  } else {
    for (const char* c : kDefaultCaps)
      if (!contains(drop, c)) push(c);
    for (const auto& c : add) push(c);
  }
  return caps;
}

Result<json> seccomp_from_profile(const std::string& text, const std::vector<std::string>& caps) {
  auto bad = [](std::string why) { return Error(Errc::invalid_argument, "seccomp profile: " + why); };
  json in = json::parse(text, nullptr, false);
  if (in.is_discarded() || !in.is_object()) return bad("not a JSON object");
  json out = json::object();
  for (const char* k : {"defaultAction", "defaultErrnoRet", "listenerPath", "listenerMetadata", "flags"})
    if (in.contains(k)) out[k] = in[k];
  if (!out.contains("defaultAction")) return bad("defaultAction is required");
  bool has_arches = in.contains("architectures") && !in["architectures"].empty();
  bool has_map = in.contains("archMap") && !in["archMap"].empty();
  if (has_arches && has_map) return bad("use either architectures or archMap, not both");
  if (has_arches) out["architectures"] = in["architectures"];
  if (has_map) {
    if (!in["archMap"].is_array()) return bad("archMap must be an array");
    std::string native = native_scmp_arch();
    json arches = json::array();
    for (const auto& a : in["archMap"]) {
      if (!a.is_object() || !a.contains("architecture") || !a["architecture"].is_string())
        return bad("archMap entries need an architecture");
      if (a["architecture"] != native) continue;  // Docker keeps only the host's entry
      arches.push_back(a["architecture"]);
      if (a.contains("subArchitectures") && a["subArchitectures"].is_array())
        for (const auto& s : a["subArchitectures"]) arches.push_back(s);
    }
    out["architectures"] = std::move(arches);
  }
  json syscalls = json::array();
  if (in.contains("syscalls")) {
    if (!in["syscalls"].is_array()) return bad("syscalls must be an array");
    std::string arch = native_scmp_arch();
    // includes/excludes use Docker's arch names ("amd64") or SCMP ones.
    auto arch_matches = [&](const json& list) {
      if (!list.is_array()) return false;
      for (const auto& a : list) {
        if (!a.is_string()) continue;
        std::string s = a.get<std::string>();
        std::string up = s;
        for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if ("SCMP_ARCH_" + up == arch || s == arch) return true;
        if ((s == "amd64" && arch == "SCMP_ARCH_X86_64") || (s == "arm64" && arch == "SCMP_ARCH_AARCH64"))
          return true;
      }
      return false;
    };
    auto caps_match = [&](const json& list) {
      if (!list.is_array()) return false;
      for (const auto& c : list)
        if (c.is_string() && contains(caps, c.get<std::string>())) return true;
      return false;
    };
    for (const auto& s : in["syscalls"]) {
      if (!s.is_object()) return bad("syscalls entries must be objects");
      if (s.contains("name") && s.contains("names")) return bad("a syscall rule has both name and names");
      if (auto inc = s.find("includes"); inc != s.end() && inc->is_object()) {
        if (inc->contains("caps") && !(*inc)["caps"].empty() && !caps_match((*inc)["caps"])) continue;
        if (inc->contains("arches") && !(*inc)["arches"].empty() && !arch_matches((*inc)["arches"])) continue;
      }
      if (auto exc = s.find("excludes"); exc != s.end() && exc->is_object()) {
        if (exc->contains("caps") && caps_match((*exc)["caps"])) continue;
        if (exc->contains("arches") && arch_matches((*exc)["arches"])) continue;
      }
      json rule = json::object();
      if (s.contains("name")) rule["names"] = json::array({s["name"]});
      else if (s.contains("names")) rule["names"] = s["names"];
      for (const char* k : {"action", "errnoRet", "args"})
        if (s.contains(k) && !s[k].is_null()) rule[k] = s[k];
      syscalls.push_back(std::move(rule));
    }
  }
  out["syscalls"] = std::move(syscalls);
  return out;
}

}  // namespace berth::engine
