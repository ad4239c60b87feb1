// make_spec: Docker's container defaults (moby daemon/oci_linux.go,
// oci/defaults.go) expressed as an OCI runtime spec.
#include "engine/spec_gen.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "engine/options_util.h"
#include "seccomp/seccomp.h"

namespace berth::engine {

using nlohmann::json;

namespace {

// Docker's masked and read-only paths (oci/defaults.go).
constexpr const char* kMaskedPaths[] = {"/proc/asound",        "/proc/acpi",        "/proc/kcore",
                                        "/proc/keys",          "/proc/latency_stats", "/proc/timer_list",
                                        "/proc/timer_stats",   "/proc/sched_debug", "/proc/scsi",
                                        "/sys/firmware",       "/sys/devices/virtual/powercap"};
constexpr const char* kReadonlyPaths[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};

constexpr int64_t kDefaultShm = 64 << 20;
constexpr int64_t kCpuPeriod = 100000;  // Docker's --cpus period (µs)

json mount(const std::string& dst, const std::string& type, const std::string& src, std::vector<std::string> opts) {
  return {{"destination", dst}, {"type", type}, {"source", src}, {"options", std::move(opts)}};
}

// The mounts every container gets, before the user's (Docker's order).
std::vector<json> default_mounts(const RunOptions& o) {
  bool priv = o.privileged;
  int64_t shm = o.shm_size > 0 ? o.shm_size : kDefaultShm;
  std::vector<std::string> ro_unless_priv;
  if (!priv) ro_unless_priv.push_back("ro");
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  return {
      mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
      mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      mount("/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      mount("/sys", "sysfs", "sysfs", with({"nosuid", "noexec", "nodev"}, ro_unless_priv)),
      mount("/sys/fs/cgroup", "cgroup", "cgroup", with({"nosuid", "noexec", "nodev", "relatime"}, ro_unless_priv)),
      mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=" + std::to_string(shm)}),
  };
}

// Docker's default device cgroup rules (runc's AllowedDevices): mknod of
// anything, use of the standard nodes, ptys and /dev/net/tun.
json default_device_rules(bool privileged) {
  if (privileged) return json::array({{{"allow", true}, {"access", "rwm"}}});
  json d = json::array({{{"allow", false}, {"access", "rwm"}}});
  auto rule = [&](const char* type, int64_t major, int64_t minor, const char* access) {
    json r = {{"allow", true}, {"type", type}, {"access", access}};
    if (major >= 0) r["major"] = major;
    if (minor >= 0) r["minor"] = minor;
    d.push_back(std::move(r));
  };
  rule("c", -1, -1, "m");
  rule("b", -1, -1, "m");
  rule("c", 1, 3, "rwm");    // null
  rule("c", 1, 8, "rwm");    // random
  rule("c", 1, 7, "rwm");    // full
  rule("c", 5, 0, "rwm");    // tty
  rule("c", 1, 5, "rwm");    // zero
  rule("c", 1, 9, "rwm");    // urandom
  rule("c", 5, 1, "rwm");    // console
  rule("c", 136, -1, "rwm"); // pts
  rule("c", 5, 2, "rwm");    // ptmx
  rule("c", 10, 200, "rwm"); // net/tun
  return d;
}

}  // namespace

json spec_resources(const RunOptions& o) {
  json r = {{"devices", default_device_rules(o.privileged)}};
  json mem = json::object();
  if (o.memory > 0) mem["limit"] = o.memory;
  if (o.memory_reservation > 0) mem["reservation"] = o.memory_reservation;
  // Only an explicit --memory-swap: Docker's implicit "2x memory" needs
  // swap accounting, which many hosts (this one) lack; Docker itself drops
  // the limit there. Without it the kernel default applies.
  if (o.memory_swap != 0) mem["swap"] = o.memory_swap;
  if (!mem.empty()) r["memory"] = std::move(mem);
  json cpu = json::object();
  if (o.cpu_shares > 0) cpu["shares"] = o.cpu_shares;
  if (o.cpus > 0) {
    cpu["period"] = kCpuPeriod;
    cpu["quota"] = static_cast<int64_t>(std::llround(o.cpus * kCpuPeriod));
  }
  if (!o.cpuset_cpus.empty()) cpu["cpus"] = o.cpuset_cpus;
  if (!cpu.empty()) r["cpu"] = std::move(cpu);
  if (o.pids_limit > 0 || o.pids_limit == -1) r["pids"] = {{"limit", o.pids_limit}};
  return r;
}

std::string container_cgroups_path(const std::string& id) { return "/berth/" + id; }

namespace {

size_t depth(const std::string& p) { return static_cast<size_t>(std::count(p.begin(), p.end(), '/')); }

bool covered(const std::set<std::string>& user, const std::string& dst) {
  if (user.count(dst)) return true;
  // A user mount on /dev replaces Docker's /dev/* defaults too.
  return dst.rfind("/dev/", 0) == 0 && user.count("/dev");
}

std::string rlimit_name(const std::string& n) {
  std::string up = "RLIMIT_";
  for (char c : n) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return up;
}

}  // namespace

ResolvedMount resolve_mount(const MountRequest& m, const std::string& host_source) {
  ResolvedMount r;
  r.target = m.target;
  if (m.kind == MountRequest::tmpfs) {
    r.type = "tmpfs";
    r.source = "tmpfs";
    // Docker's tmpfs defaults, minus any the user turned around.
    auto has = [&](const char* o) { return std::find(m.options.begin(), m.options.end(), o) != m.options.end(); };
    if (!has("exec")) r.options.push_back("noexec");
    if (!has("suid")) r.options.push_back("nosuid");
    if (!has("dev")) r.options.push_back("nodev");
    for (const auto& o : m.options) r.options.push_back(o);
    if (m.readonly) r.options.push_back("ro");
    return r;
  }
  r.type = "bind";
  r.source = m.kind == MountRequest::bind ? m.source : host_source;
  r.options = {"rbind", m.propagation.empty() ? "rprivate" : m.propagation};
  if (m.readonly) r.options.push_back("ro");
  return r;
}

Result<std::vector<std::string>> container_args(const image::RunConfig& image, const RunOptions& o) {
  std::vector<std::string> args;
  if (o.entrypoint) {
    // --entrypoint (even "") also drops the image's CMD: Docker sends
    // Entrypoint [""] and the daemon only inherits Cmd when none was given.
    args = *o.entrypoint;
    args.insert(args.end(), o.cmd.begin(), o.cmd.end());
  } else {
    if (image.entrypoint) args = *image.entrypoint;
    if (!o.cmd.empty()) args.insert(args.end(), o.cmd.begin(), o.cmd.end());
    else if (image.cmd) args.insert(args.end(), image.cmd->begin(), image.cmd->end());
  }
  if (args.empty() || args[0].empty())
    return Error(Errc::invalid_argument, "no command specified");
  return args;
}

std::string container_hostname(const RunOptions& o, const std::string& id) {
  if (!o.hostname.empty()) return o.hostname;
  if (o.network == "host") {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) == 0 && buf[0]) return buf;
  }
  return id.substr(0, 12);
}

std::vector<std::string> container_env(const image::RunConfig& image, const RunOptions& o,
                                       const std::string& hostname) {
  std::vector<std::string> env = {std::string("PATH=") + kDefaultPath, "HOSTNAME=" + hostname};
  if (o.tty) env.push_back("TERM=xterm");
  auto apply = [&](const std::string& kv) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return;  // a bare "KEY" sets nothing
    image::env_set(env, std::string_view(kv).substr(0, eq), std::string_view(kv).substr(eq + 1));
  };
  for (const auto& kv : image.env) apply(kv);
  for (const auto& kv : o.env) apply(kv);
  return env;
}

Result<json> make_spec(const SpecInputs& in) {
  const RunOptions& o = in.options;
  TRY(check_run_options(o));
  TRY_ASSIGN(auto args, container_args(in.image, o));
  if (o.init) {
    if (in.init_path.empty()) return Error(Errc::invalid_argument, "--init: no init binary is available");
    args.insert(args.begin(), {kInitPath, "--"});
  }

  ResolvedUser user;
  if (in.user) {
    user = *in.user;
  } else {
    auto r = resolve_user(in.rootfs, o.user.empty() ? in.image.user : o.user);
    if (!r.ok()) return std::move(r).error().wrap("user");
    user = std::move(*r);
  }
  if (!o.group_add.empty()) {
    TRY_ASSIGN(auto extra, resolve_groups(in.rootfs, o.group_add));
    for (auto g : extra)
      if (std::find(user.additional_gids.begin(), user.additional_gids.end(), g) == user.additional_gids.end())
        user.additional_gids.push_back(g);
  }

  std::string hostname = container_hostname(o, in.id);
  auto env = container_env(in.image, o, hostname);
  if (!image::env_get(env, "HOME")) env.push_back("HOME=" + user.home);

  std::string cwd = !o.workdir.empty() ? o.workdir : in.image.working_dir;
  cwd = detail::clean_path(cwd.empty() ? "/" : cwd);  // a relative image WorkingDir is taken from "/"

  TRY_ASSIGN(auto caps, final_capabilities(o));
  json none = json::array();
  json capj = {{"bounding", caps}, {"effective", none}, {"permitted", none}, {"inheritable", none}, {"ambient", none}};
  // Docker 20.10+: a non-root process gets no effective/permitted
  // capabilities, exactly what execve would leave it; bounding still caps
  // what a setuid binary inside can gain.
  if (user.uid == 0) capj["effective"] = capj["permitted"] = caps;

  json process = {
      {"terminal", o.tty},
      {"user", {{"uid", user.uid}, {"gid", user.gid}, {"umask", 18}}},
      {"args", args},
      {"env", env},
      {"cwd", cwd},
      {"capabilities", std::move(capj)},
      {"noNewPrivileges", o.no_new_privileges},
  };
  // moby's getUser: the primary gid first, then the user's groups and
  // --group-add, so `id` shows groups= as under Docker and podman.
  std::vector<uint32_t> gids = {user.gid};
  for (auto g : user.additional_gids)
    if (std::find(gids.begin(), gids.end(), g) == gids.end()) gids.push_back(g);
  process["user"]["additionalGids"] = gids;
  if (o.oom_score_adj) process["oomScoreAdj"] = *o.oom_score_adj;
  if (!o.ulimits.empty()) {
    // Only what --ulimit asks: every other limit is inherited from the
    // caller (Docker would set RLIMIT_NOFILE 1048576, above many hosts' hard limit).
    json rl = json::array();
    for (const auto& u : o.ulimits) rl.push_back({{"type", rlimit_name(u.name)}, {"soft", u.soft}, {"hard", u.hard}});
    process["rlimits"] = std::move(rl);
  }

  // Mounts: defaults (minus those a user mount replaces), user mounts by
  // depth so a parent is mounted before its children (Docker's sortMounts),
  // then init and the engine's files.
  std::set<std::string> user_dst;
  for (const auto& m : in.mounts) user_dst.insert(m.target);
  json mounts = json::array();
  for (auto& m : default_mounts(o))
    if (!covered(user_dst, m["destination"].get<std::string>())) mounts.push_back(std::move(m));
  std::vector<ResolvedMount> um = in.mounts;
  std::stable_sort(um.begin(), um.end(), [](auto& a, auto& b) { return depth(a.target) < depth(b.target); });
  for (const auto& m : um) mounts.push_back(mount(m.target, m.type, m.source, m.options));
  if (o.init) mounts.push_back(mount(kInitPath, "bind", in.init_path, {"bind", "ro", "nosuid", "nodev"}));
  for (const auto& f : in.files) {
    if (user_dst.count(f.container_path)) continue;  // the user's own /etc/hosts wins
    std::vector<std::string> opts = {"rbind", "rprivate"};
    if (o.read_only) opts.push_back("ro");
    mounts.push_back(mount(f.container_path, "bind", f.host_path, std::move(opts)));
  }

  json namespaces = json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}},
                                 {{"type", "cgroup"}}});
  // bridge and slirp join the namespace the engine prepared; none gets a new
  // one from the runtime (with lo up, as in Docker).
  if (o.network != "host" && in.netns_path.empty())
    namespaces.push_back({{"type", "network"}});
  else if (o.network != "host")
    namespaces.push_back({{"type", "network"}, {"path", in.netns_path}});
  // host: no network namespace at all

  json linux = {
      {"namespaces", std::move(namespaces)},
      {"resources", spec_resources(o)},
  };
  if (!in.cgroups_path.empty()) linux["cgroupsPath"] = in.cgroups_path;
  if (!o.privileged && !o.systempaths_unconfined) {
    linux["maskedPaths"] = kMaskedPaths;
    linux["readonlyPaths"] = kReadonlyPaths;
  }
  if (!o.sysctls.empty()) linux["sysctl"] = o.sysctls;
  if (!o.privileged && !o.seccomp_unconfined) {
    if (!o.seccomp_profile.empty()) {
      auto s = seccomp_from_profile(o.seccomp_profile, caps);
      if (!s.ok()) return Error(Errc::invalid_argument, "--security-opt seccomp=FILE: " + s.error().message);
      linux["seccomp"] = std::move(*s);
    } else {
      linux["seccomp"] = seccomp::default_profile(caps);
    }
  }

  json spec = {
      {"ociVersion", "1.1.0"},
      {"process", std::move(process)},
      {"root", {{"path", in.rootfs}, {"readonly", o.read_only}}},
      {"hostname", hostname},
      {"mounts", std::move(mounts)},
      {"linux", std::move(linux)},
  };
  if (!o.domainname.empty()) spec["domainname"] = o.domainname;
  if (!o.annotations.empty()) spec["annotations"] = o.annotations;
  return spec;
}

}  // namespace berth::engine
