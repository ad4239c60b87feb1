#include "runtime/spec.h"

#include <sched.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/personality.h>
#include <sys/resource.h>

#include <cstring>

#include "base/fs.h"

namespace berth::runtime {

using nlohmann::json;

namespace {

Error bad(std::string_view where, std::string_view why) {
  return Error(Errc::invalid_input, "config.json: " + std::string(where) + ": " + std::string(why));
}

// Typed field readers: absent is fine (the default stays), the wrong type is not.
Status get_string(const json& o, const char* key, std::string& out, std::string_view where) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return Status{};
  if (!it->is_string()) return bad(std::string(where) + "." + key, "must be a string");
  out = it->get<std::string>();
  return Status{};
}

Status get_bool(const json& o, const char* key, bool& out, std::string_view where) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return Status{};
  if (!it->is_boolean()) return bad(std::string(where) + "." + key, "must be a boolean");
  out = it->get<bool>();
  return Status{};
}

template <class T>
Status get_uint(const json& o, const char* key, T& out, std::string_view where) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return Status{};
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0))
    return bad(std::string(where) + "." + key, "must be a non-negative integer");
  uint64_t v = it->get<uint64_t>();
  if (v > static_cast<uint64_t>(std::numeric_limits<T>::max()))
    return bad(std::string(where) + "." + key, "out of range");
  out = static_cast<T>(v);
  return Status{};
}

Status get_strings(const json& o, const char* key, std::vector<std::string>& out, std::string_view where) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return Status{};
  std::string w = std::string(where) + "." + key;
  if (!it->is_array()) return bad(w, "must be an array of strings");
  out.clear();
  for (const auto& e : *it) {
    if (!e.is_string()) return bad(w, "must be an array of strings");
    out.push_back(e.get<std::string>());
  }
  return Status{};
}

Status check_object(const json& o, std::string_view where) {
  if (!o.is_object()) return bad(where, "must be an object");
  return Status{};
}

// config.md: a capability that "cannot be mapped to a relevant kernel
// interface ... MUST be logged as a warning"; runtimes "SHOULD NOT fail".
Status parse_caps(const json& o, Capabilities& caps, std::vector<std::string>& warnings) {
  TRY(check_object(o, "process.capabilities"));
  struct Set {
    const char* key;
    std::vector<int>* out;
  } sets[] = {{"bounding", &caps.bounding}, {"effective", &caps.effective}, {"inheritable", &caps.inheritable},
              {"permitted", &caps.permitted}, {"ambient", &caps.ambient}};
  for (auto& s : sets) {
    std::vector<std::string> names;
    TRY(get_strings(o, s.key, names, "process.capabilities"));
    for (const auto& n : names) {
      int c = cap_from_name(n);
      if (c < 0) {
        warnings.push_back(std::string("process.capabilities.") + s.key + ": unknown capability " + n + " ignored");
        continue;
      }
      s.out->push_back(c);
    }
  }
  return Status{};
}

struct RlimitName {
  const char* name;
  int res;
};
constexpr RlimitName kRlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},       {"RLIMIT_FSIZE", RLIMIT_FSIZE},       {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},   {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

Status parse_user(const json& o, User& u) {
  TRY(check_object(o, "process.user"));
  TRY(get_uint(o, "uid", u.uid, "process.user"));
  TRY(get_uint(o, "gid", u.gid, "process.user"));
  if (o.contains("umask") && !o["umask"].is_null()) {
    uint32_t m = 0;
    TRY(get_uint(o, "umask", m, "process.user"));
    if (m > 0777) return bad("process.user.umask", "must be at most 0777");
    u.umask = m;
  }
  if (auto it = o.find("additionalGids"); it != o.end() && !it->is_null()) {
    if (!it->is_array()) return bad("process.user.additionalGids", "must be an array of integers");
    for (const auto& g : *it) {
      if (!g.is_number_unsigned() || g.get<uint64_t>() > UINT32_MAX)
        return bad("process.user.additionalGids", "must be an array of non-negative integers");
      u.additional_gids.push_back(g.get<uint32_t>());
    }
  }
  return Status{};
}

Status parse_hooks(const json& o, std::vector<Hook>& out, const std::string& where) {
  if (o.is_null()) return Status{};
  if (!o.is_array()) return bad(where, "must be an array");
  for (size_t i = 0; i < o.size(); ++i) {
    std::string w = where + "[" + std::to_string(i) + "]";
    TRY(check_object(o[i], w));
    Hook h;
    TRY(get_string(o[i], "path", h.path, w));
    if (h.path.empty() || h.path[0] != '/') return bad(w + ".path", "must be an absolute path");
    TRY(get_strings(o[i], "args", h.args, w));
    TRY(get_strings(o[i], "env", h.env, w));
    if (o[i].contains("timeout") && !o[i]["timeout"].is_null()) {
      if (!o[i]["timeout"].is_number_integer() || o[i]["timeout"].get<int64_t>() <= 0 ||
          o[i]["timeout"].get<int64_t>() > 86400)
        return bad(w + ".timeout", "must be a positive number of seconds");
      h.timeout = o[i]["timeout"].get<int>();
    }
    out.push_back(std::move(h));
  }
  return Status{};
}

Status parse_idmaps(const json& o, std::vector<IdMapping>& out, const char* where) {
  if (o.is_null()) return Status{};
  if (!o.is_array()) return bad(where, "must be an array");
  for (const auto& m : o) {
    TRY(check_object(m, where));
    IdMapping im;
    TRY(get_uint(m, "containerID", im.container_id, where));
    TRY(get_uint(m, "hostID", im.host_id, where));
    TRY(get_uint(m, "size", im.size, where));
    if (im.size == 0) return bad(where, "size must be positive");
    out.push_back(im);
  }
  return Status{};
}

bool is_abs_clean(const std::string& p) { return !p.empty() && p[0] == '/'; }

Status parse_linux(const json& o, Linux& l) {
  TRY(check_object(o, "linux"));
  if (auto it = o.find("namespaces"); it != o.end() && !it->is_null()) {
    if (!it->is_array()) return bad("linux.namespaces", "must be an array");
    for (const auto& n : *it) {
      TRY(check_object(n, "linux.namespaces"));
      std::string type, path;
      TRY(get_string(n, "type", type, "linux.namespaces"));
      TRY(get_string(n, "path", path, "linux.namespaces"));
      Namespace ns{NsType::pid, path};
      static constexpr NsType all[] = {NsType::pid, NsType::network, NsType::mount, NsType::ipc,
                                       NsType::uts, NsType::user,    NsType::cgroup, NsType::time};
      bool found = false;
      for (auto t : all)
        if (type == ns_type_name(t)) ns.type = t, found = true;
      if (!found) return bad("linux.namespaces", "unknown namespace type \"" + type + "\"");
      if (!path.empty() && path[0] != '/') return bad("linux.namespaces", type + " path must be absolute");
      for (const auto& e : l.namespaces)
        if (e.type == ns.type) return bad("linux.namespaces", "duplicate namespace " + type);
      l.namespaces.push_back(ns);
    }
  }
  if (o.contains("uidMappings")) TRY(parse_idmaps(o["uidMappings"], l.uid_mappings, "linux.uidMappings"));
  if (o.contains("gidMappings")) TRY(parse_idmaps(o["gidMappings"], l.gid_mappings, "linux.gidMappings"));
  if (auto it = o.find("devices"); it != o.end() && !it->is_null()) {
    if (!it->is_array()) return bad("linux.devices", "must be an array");
    for (const auto& d : *it) {
      TRY(check_object(d, "linux.devices"));
      Device dev;
      std::string type;
      TRY(get_string(d, "type", type, "linux.devices"));
      TRY(get_string(d, "path", dev.path, "linux.devices"));
      if (!is_abs_clean(dev.path)) return bad("linux.devices", "path \"" + dev.path + "\" must be absolute");
      if (type != "c" && type != "b" && type != "u" && type != "p")
        return bad("linux.devices", dev.path + ": type must be c, b, u or p");
      dev.type = type[0];
      if (d.contains("major") && !d["major"].is_number_integer()) return bad("linux.devices", dev.path + ": bad major");
      if (d.contains("minor") && !d["minor"].is_number_integer()) return bad("linux.devices", dev.path + ": bad minor");
      dev.major = d.value("major", int64_t{0});
      dev.minor = d.value("minor", int64_t{0});
      if (dev.major < 0 || dev.minor < 0 || dev.major > 0xfff || dev.minor > 0xfffff)
        return bad("linux.devices", dev.path + ": major/minor out of range");
      uint32_t v = 0;
      if (d.contains("fileMode") && !d["fileMode"].is_null()) {
        TRY(get_uint(d, "fileMode", v, "linux.devices"));
        dev.file_mode = v;
      }
      if (d.contains("uid") && !d["uid"].is_null()) {
        TRY(get_uint(d, "uid", v, "linux.devices"));
        dev.uid = v;
      }
      if (d.contains("gid") && !d["gid"].is_null()) {
        TRY(get_uint(d, "gid", v, "linux.devices"));
        dev.gid = v;
      }
      l.devices.push_back(std::move(dev));
    }
  }
  TRY(get_string(o, "cgroupsPath", l.cgroups_path, "linux"));
  if (auto it = o.find("resources"); it != o.end() && !it->is_null()) {
    TRY(check_object(*it, "linux.resources"));
    l.resources = *it;
  }
  if (auto it = o.find("seccomp"); it != o.end() && !it->is_null()) {
    TRY(check_object(*it, "linux.seccomp"));
    l.seccomp = *it;
  }
  if (auto it = o.find("sysctl"); it != o.end() && !it->is_null()) {
    TRY(check_object(*it, "linux.sysctl"));
    for (auto& [k, v] : it->items()) {
      if (!v.is_string()) return bad("linux.sysctl." + k, "must be a string");
      l.sysctl[k] = v.get<std::string>();
    }
  }
  TRY(get_strings(o, "maskedPaths", l.masked_paths, "linux"));
  TRY(get_strings(o, "readonlyPaths", l.readonly_paths, "linux"));
  for (const auto& p : l.masked_paths)
    if (!is_abs_clean(p)) return bad("linux.maskedPaths", "\"" + p + "\" must be absolute");
  for (const auto& p : l.readonly_paths)
    if (!is_abs_clean(p)) return bad("linux.readonlyPaths", "\"" + p + "\" must be absolute");
  TRY(get_string(o, "rootfsPropagation", l.rootfs_propagation, "linux"));
  static const char* props[] = {"", "shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable"};
  bool okp = false;
  for (auto* p : props) okp |= l.rootfs_propagation == p;
  if (!okp) return bad("linux.rootfsPropagation", "unknown propagation \"" + l.rootfs_propagation + "\"");
  TRY(get_string(o, "mountLabel", l.mount_label, "linux"));
  if (auto it = o.find("personality"); it != o.end() && !it->is_null()) {
    TRY(check_object(*it, "linux.personality"));
    std::string domain;
    TRY(get_string(*it, "domain", domain, "linux.personality"));
    if (domain == "LINUX") l.personality = PER_LINUX;
    else if (domain == "LINUX32") l.personality = PER_LINUX32;
    else return bad("linux.personality.domain", "must be LINUX or LINUX32, not \"" + domain + "\"");
  }
  if (auto it = o.find("timeOffsets"); it != o.end() && !it->is_null()) {
    TRY(check_object(*it, "linux.timeOffsets"));
    for (auto& [k, v] : it->items()) {
      if (k != "monotonic" && k != "boottime") return bad("linux.timeOffsets", "unknown clock \"" + k + "\"");
      TRY(check_object(v, "linux.timeOffsets." + k));
      int64_t secs = 0;
      uint32_t nanos = 0;
      if (v.contains("secs")) {
        if (!v["secs"].is_number_integer()) return bad("linux.timeOffsets." + k + ".secs", "must be an integer");
        secs = v["secs"].get<int64_t>();
      }
      TRY(get_uint(v, "nanosecs", nanos, "linux.timeOffsets." + k));
      l.time_offsets[k] = {secs, nanos};
    }
  }
  return Status{};
}

}  // namespace

const char* ns_type_name(NsType t) {
  switch (t) {
    case NsType::pid: return "pid";
    case NsType::network: return "network";
    case NsType::mount: return "mount";
    case NsType::ipc: return "ipc";
    case NsType::uts: return "uts";
    case NsType::user: return "user";
    case NsType::cgroup: return "cgroup";
    case NsType::time: return "time";
  }
  return "?";
}

const char* ns_proc_name(NsType t) {
  switch (t) {
    case NsType::pid: return "pid";
    case NsType::network: return "net";
    case NsType::mount: return "mnt";
    case NsType::ipc: return "ipc";
    case NsType::uts: return "uts";
    case NsType::user: return "user";
    case NsType::cgroup: return "cgroup";
    case NsType::time: return "time";
  }
  return "?";
}

int ns_clone_flag(NsType t) {
  switch (t) {
    case NsType::pid: return CLONE_NEWPID;
    case NsType::network: return CLONE_NEWNET;
    case NsType::mount: return CLONE_NEWNS;
    case NsType::ipc: return CLONE_NEWIPC;
    case NsType::uts: return CLONE_NEWUTS;
    case NsType::user: return CLONE_NEWUSER;
    case NsType::cgroup: return CLONE_NEWCGROUP;
    case NsType::time: return CLONE_NEWTIME;
  }
  return 0;
}

const Namespace* Linux::ns(NsType t) const {
  for (const auto& n : namespaces)
    if (n.type == t) return &n;
  return nullptr;
}

int cap_from_name(std::string_view name) {
  std::string n(name);
  for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (n.rfind("cap_", 0) != 0) return -1;
  cap_value_t v;
  if (::cap_from_name(n.c_str(), &v) != 0) return -1;
  // libcap accepts numeric names too ("cap_41"); the spec wants real names.
  if (n.size() > 4 && std::isdigit(static_cast<unsigned char>(n[4]))) return -1;
  return v;
}

std::string cap_to_name(int cap) {
  char* s = ::cap_to_name(cap);
  std::string out = s ? s : "";
  if (s) ::cap_free(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

int signal_from_name(std::string_view s) {
  if (s.empty()) return -1;
  if (std::isdigit(static_cast<unsigned char>(s[0]))) {
    int v = 0;
    for (char c : s) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
      v = v * 10 + (c - '0');
      if (v > 64) return -1;
    }
    return v > 0 ? v : -1;
  }
  std::string n(s);
  for (auto& c : n) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (n.rfind("SIG", 0) == 0) n = n.substr(3);
  static const struct {
    const char* n;
    int v;
  } sigs[] = {{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ILL", SIGILL},     {"TRAP", SIGTRAP},
              {"ABRT", SIGABRT}, {"IOT", SIGIOT},   {"BUS", SIGBUS},   {"FPE", SIGFPE},     {"KILL", SIGKILL},
              {"USR1", SIGUSR1}, {"SEGV", SIGSEGV}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},
              {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
              {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU},
              {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
              {"POLL", SIGPOLL}, {"PWR", SIGPWR},   {"SYS", SIGSYS}};
  for (const auto& e : sigs)
    if (n == e.n) return e.v;
  if (n.rfind("RTMIN", 0) == 0 || n.rfind("RTMAX", 0) == 0) {
    bool min = n[3] == 'I';
    std::string rest = n.substr(5);
    int off = 0;
    if (!rest.empty()) {
      if (rest[0] != '+' && rest[0] != '-') return -1;
      for (size_t i = 1; i < rest.size(); ++i) {
        if (!std::isdigit(static_cast<unsigned char>(rest[i]))) return -1;
        off = off * 10 + (rest[i] - '0');
        if (off > 64) return -1;
      }
      if (rest[0] == '-') off = -off;
    }
    int v = (min ? SIGRTMIN : SIGRTMAX) + off;
    return v >= SIGRTMIN && v <= SIGRTMAX ? v : -1;
  }
  return -1;
}

Result<Process> parse_process(const json& o, std::string_view where) {
  if (!o.is_object()) return bad(where, "must be an object");
  Process p;
  TRY(get_bool(o, "terminal", p.terminal, "process"));
  if (auto it = o.find("consoleSize"); it != o.end() && !it->is_null()) {
    TRY(check_object(*it, "process.consoleSize"));
    TRY(get_uint(*it, "height", p.console_height, "process.consoleSize"));
    TRY(get_uint(*it, "width", p.console_width, "process.consoleSize"));
  }
  if (auto it = o.find("user"); it != o.end() && !it->is_null()) TRY(parse_user(*it, p.user));
  TRY(get_strings(o, "args", p.args, "process"));
  if (p.args.empty()) return bad("process.args", "must contain at least the program");
  if (p.args[0].empty()) return bad("process.args[0]", "must not be empty");
  TRY(get_strings(o, "env", p.env, "process"));
  for (const auto& e : p.env)
    if (e.find('=') == std::string::npos || e[0] == '=')
      return bad("process.env", "\"" + e + "\" is not KEY=value");
  if (!o.contains("cwd")) return bad("process.cwd", "is required");
  TRY(get_string(o, "cwd", p.cwd, "process"));
  if (p.cwd.empty() || p.cwd[0] != '/') return bad("process.cwd", "\"" + p.cwd + "\" must be an absolute path");
  if (auto it = o.find("capabilities"); it != o.end() && !it->is_null()) TRY(parse_caps(*it, p.caps, p.warnings));
  if (auto it = o.find("rlimits"); it != o.end() && !it->is_null()) {
    if (!it->is_array()) return bad("process.rlimits", "must be an array");
    for (const auto& r : *it) {
      TRY(check_object(r, "process.rlimits"));
      std::string type;
      TRY(get_string(r, "type", type, "process.rlimits"));
      Rlimit rl;
      rl.resource = -1;
      for (const auto& e : kRlimits)
        if (type == e.name) rl.resource = e.res;
      if (rl.resource < 0) return bad("process.rlimits", "unknown rlimit type \"" + type + "\"");
      for (const auto& e : p.rlimits)
        if (e.resource == rl.resource) return bad("process.rlimits", "duplicate rlimit " + type);
      TRY(get_uint(r, "soft", rl.soft, "process.rlimits." + type));
      TRY(get_uint(r, "hard", rl.hard, "process.rlimits." + type));
      if (rl.soft > rl.hard) return bad("process.rlimits." + type, "soft limit exceeds hard limit");
      p.rlimits.push_back(rl);
    }
  }
  TRY(get_bool(o, "noNewPrivileges", p.no_new_privileges, "process"));
  TRY(get_string(o, "apparmorProfile", p.apparmor_profile, "process"));
  TRY(get_string(o, "selinuxLabel", p.selinux_label, "process"));
  if (auto it = o.find("oomScoreAdj"); it != o.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < -1000 || it->get<int64_t>() > 1000)
      return bad("process.oomScoreAdj", "must be an integer in [-1000, 1000]");
    p.oom_score_adj = it->get<int>();
  }
  return p;
}

Result<Spec> parse_spec(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Error(Errc::invalid_input, "config.json: not valid JSON");
  if (!j.is_object()) return bad("(top level)", "must be an object");
  Spec s;
  TRY(get_string(j, "ociVersion", s.oci_version, ""));
  if (s.oci_version.empty()) return bad("ociVersion", "is required");
  if (s.oci_version[0] != '1') return bad("ociVersion", "unsupported version \"" + s.oci_version + "\"");
  if (auto it = j.find("process"); it != j.end() && !it->is_null()) {
    TRY_ASSIGN(s.process, parse_process(*it, "process"));
  }
  auto root = j.find("root");
  if (root == j.end() || root->is_null()) return bad("root", "is required");
  TRY(check_object(*root, "root"));
  TRY(get_string(*root, "path", s.root_path, "root"));
  if (s.root_path.empty()) return bad("root.path", "is required");
  TRY(get_bool(*root, "readonly", s.root_readonly, "root"));
  TRY(get_string(j, "hostname", s.hostname, ""));
  TRY(get_string(j, "domainname", s.domainname, ""));
  if (s.hostname.size() > 64) return bad("hostname", "longer than 64 bytes");
  if (s.domainname.size() > 64) return bad("domainname", "longer than 64 bytes");
  if (auto it = j.find("mounts"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return bad("mounts", "must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const auto& m = (*it)[i];
      std::string w = "mounts[" + std::to_string(i) + "]";
      TRY(check_object(m, w));
      Mount mt;
      TRY(get_string(m, "destination", mt.destination, w));
      if (mt.destination.empty() || mt.destination[0] != '/')
        return bad(w + ".destination", "\"" + mt.destination + "\" must be an absolute path");
      TRY(get_string(m, "type", mt.type, w));
      TRY(get_string(m, "source", mt.source, w));
      TRY(get_strings(m, "options", mt.options, w));
      s.mounts.push_back(std::move(mt));
    }
  }
  if (auto it = j.find("hooks"); it != j.end() && !it->is_null()) {
    TRY(check_object(*it, "hooks"));
    const json& h = *it;
    auto get = [&](const char* k, std::vector<Hook>& out) -> Status {
      if (!h.contains(k)) return Status{};
      return parse_hooks(h[k], out, std::string("hooks.") + k);
    };
    TRY(get("prestart", s.hooks.prestart));
    TRY(get("createRuntime", s.hooks.create_runtime));
    TRY(get("createContainer", s.hooks.create_container));
    TRY(get("startContainer", s.hooks.start_container));
    TRY(get("poststart", s.hooks.poststart));
    TRY(get("poststop", s.hooks.poststop));
  }
  if (auto it = j.find("annotations"); it != j.end() && !it->is_null()) {
    TRY(check_object(*it, "annotations"));
    for (auto& [k, v] : it->items()) {
      if (!v.is_string()) return bad("annotations." + k, "must be a string");
      s.annotations[k] = v.get<std::string>();
    }
  }
  if (auto it = j.find("linux"); it != j.end() && !it->is_null()) TRY(parse_linux(*it, s.linux));
  for (const auto& n : s.linux.namespaces)
    if (n.type == NsType::user && n.path.empty() && (s.linux.uid_mappings.empty() || s.linux.gid_mappings.empty()))
      return bad("linux.uidMappings", "a new user namespace needs uidMappings and gidMappings");
  return s;
}

Result<Spec> load_spec(const std::string& bundle) {
  auto text = read_file(path_join(bundle, "config.json"), 16u << 20);
  if (!text) return std::move(text).error().wrap("loading bundle " + bundle);
  return parse_spec(*text);
}

}  // namespace berth::runtime
