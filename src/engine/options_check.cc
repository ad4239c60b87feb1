// RunOptions as a whole: Docker's cross-field rules, the healthcheck merge
// with the image, and the JSON form kept in the container record.
#include <unistd.h>

#include <cctype>
#include <cmath>

#include "engine/options.h"
#include "engine/options_util.h"

namespace berth::engine {

using detail::quote;
using nlohmann::json;

namespace {

Error conflict(std::string msg) { return Error(Errc::invalid_argument, std::move(msg)); }

// "0-3,5,7-8"
bool valid_cpu_list(std::string_view s) {
  if (s.empty()) return false;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string_view::npos) j = s.size();
    std::string_view part = s.substr(i, j - i);
    size_t dash = part.find('-');
    auto a = detail::parse_int(part.substr(0, dash));
    if (!a || *a < 0) return false;
    if (dash != std::string_view::npos) {
      auto b = detail::parse_int(part.substr(dash + 1));
      if (!b || *b < *a) return false;
    }
    i = j + 1;
  }
  return true;
}

// Docker's name rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (a leading '/' is tolerated).
bool valid_name(std::string_view n) {
  if (!n.empty() && n[0] == '/') n.remove_prefix(1);
  if (n.size() < 2 || n.size() > 255 || !std::isalnum(static_cast<unsigned char>(n[0]))) return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

bool valid_hostname(std::string_view h) {
  if (h.empty() || h.size() > 64) return false;  // HOST_NAME_MAX
  for (char c : h)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_') return false;
  return true;
}

// Docker's namespaced-sysctl allow list (opts.ValidateSysctl): only keys
// the container's own namespaces isolate; anything else would change the host.
bool namespaced_sysctl(const std::string& k, bool* is_net) {
  static const char* kIpc[] = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",  "kernel.sem",
                               "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
  *is_net = k.rfind("net.", 0) == 0;
  if (*is_net || k.rfind("fs.mqueue.", 0) == 0) return true;
  for (const char* n : kIpc)
    if (k == n) return true;
  return false;
}

}  // namespace

Status check_run_options(const RunOptions& o) {
  if (!o.name.empty() && !valid_name(o.name))
    return conflict("invalid --name " + quote(o.name) + ": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  if (!o.hostname.empty() && !valid_hostname(o.hostname))
    return conflict("invalid --hostname " + quote(o.hostname) + ": up to 64 letters, digits, '-', '.', '_'");
  if (!o.domainname.empty() && !valid_hostname(o.domainname))
    return conflict("invalid --domainname " + quote(o.domainname) + ": up to 64 letters, digits, '-', '.', '_'");
  if (!o.workdir.empty() && o.workdir[0] != '/')
    return conflict("invalid --workdir " + quote(o.workdir) + ": it needs to be an absolute path");
  if (o.memory < 0 || o.memory_reservation < 0 || o.shm_size < 0 || o.cpu_shares < 0)
    return conflict("memory, shm size and cpu shares cannot be negative");
  // Below ~6 MiB the kernel OOM-kills the runtime's own init before the program starts.
  if (o.memory > 0 && o.memory < (6 << 20))
    return conflict("invalid --memory " + std::to_string(o.memory) + ": the minimum memory limit is 6MB");
  if (o.memory_swap > 0 && o.memory == 0)
    return conflict("--memory-swap needs --memory: the swap limit is memory plus swap");
  if (o.memory_swap > 0 && o.memory_swap < o.memory)
    return conflict("--memory-swap " + std::to_string(o.memory_swap) + " is smaller than --memory " +
                    std::to_string(o.memory) + " (it is memory plus swap)");
  if (o.memory_swap < -1) return conflict("invalid --memory-swap: -1 (unlimited) or a size");
  if (o.memory > 0 && o.memory_reservation > o.memory)
    return conflict("--memory-reservation must not exceed --memory");
  if (o.cpus != 0) {
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (!std::isfinite(o.cpus) || o.cpus < 0.01 || (n > 0 && o.cpus > static_cast<double>(n)))
      return conflict("invalid --cpus " + std::to_string(o.cpus) + ": the range is 0.01 to " + std::to_string(n) +
                      ", the number of CPUs available");
  }
  if (!o.cpuset_cpus.empty() && !valid_cpu_list(o.cpuset_cpus))
    return conflict("invalid --cpuset-cpus " + quote(o.cpuset_cpus) + ": expected a list like 0-3,5");
  if (o.oom_score_adj && (*o.oom_score_adj < -1000 || *o.oom_score_adj > 1000))
    return conflict("invalid --oom-score-adj " + std::to_string(*o.oom_score_adj) + ": the range is -1000 to 1000");
  for (const auto& [k, v] : o.sysctls) {
    bool net = false;
    if (!namespaced_sysctl(k, &net))
      return conflict("invalid --sysctl " + quote(k) + ": not a namespaced kernel parameter");
    if (net && o.network == "host")
      return conflict("invalid --sysctl " + quote(k) + ": net.* cannot be set with --network host");
  }
  if (o.rm && o.restart.policy != RestartPolicy::no) return conflict("conflicting options: --restart and --rm");
  const auto& h = o.health;
  if (h.disabled && (!h.cmd.empty() || h.interval || h.timeout || h.start_period || h.retries))
    return conflict("--no-healthcheck conflicts with --health-* options");
  for (auto [v, name] : {std::pair{h.interval, "--health-interval"}, std::pair{h.timeout, "--health-timeout"},
                         std::pair{h.start_period, "--health-start-period"}})
    if (v < 0 || (v > 0 && v < 1000000)) return conflict(std::string(name) + " must be 0 or at least 1ms");
  if (h.retries < 0) return conflict("--health-retries cannot be negative");
  for (const auto& m : o.mounts)
    for (const auto& other : o.mounts)
      if (&m < &other && m.target == other.target)
        return conflict("duplicate mount point " + quote(m.target));
  for (const auto& g : o.group_add)
    if (g.empty() || g.find(':') != std::string::npos) return conflict("invalid --group-add " + quote(g));
  return {};
}

std::optional<image::Healthcheck> merge_healthcheck(const std::optional<image::Healthcheck>& from_image,
                                                    const HealthOptions& h) {
  if (h.disabled) {
    image::Healthcheck none;
    none.test = {"NONE"};
    return none;
  }
  bool any = !h.cmd.empty() || h.interval || h.timeout || h.start_period || h.retries;
  if (!any) return from_image;
  // Docker's merge: each field the user left zero comes from the image.
  image::Healthcheck out = from_image.value_or(image::Healthcheck{});
  if (!h.cmd.empty()) out.test = h.cmd;
  if (h.interval) out.interval = h.interval;
  if (h.timeout) out.timeout = h.timeout;
  if (h.start_period) out.start_period = h.start_period;
  if (h.retries) out.retries = h.retries;
  if (out.test.empty()) return std::nullopt;  // timings alone describe no check
  return out;
}

// ---- JSON form -------------------------------------------------------------

namespace {

const char* kind_name(MountRequest::Kind k) {
  switch (k) {
    case MountRequest::bind: return "bind";
    case MountRequest::volume: return "volume";
    case MountRequest::anonymous: return "anonymous";
    case MountRequest::tmpfs: return "tmpfs";
  }
  return "bind";
}

const char* pull_name(PullPolicy p) {
  switch (p) {
    case PullPolicy::missing: return "missing";
    case PullPolicy::never: return "never";
    case PullPolicy::always: return "always";
  }
  return "missing";
}

}  // namespace

json to_json(const RunOptions& o) {
  json mounts = json::array();
  for (const auto& m : o.mounts)
    mounts.push_back({{"kind", kind_name(m.kind)},
                      {"source", m.source},
                      {"target", m.target},
                      {"readonly", m.readonly},
                      {"propagation", m.propagation},
                      {"options", m.options},
                      {"no_copy", m.no_copy},
                      {"create_source", m.create_source}});
  json ulimits = json::array();
  for (const auto& u : o.ulimits) ulimits.push_back({{"name", u.name}, {"soft", u.soft}, {"hard", u.hard}});
  json j = {
      {"image", o.image},
      {"cmd", o.cmd},
      {"name", o.name},
      {"hostname", o.hostname},
      {"domainname", o.domainname},
      {"env", o.env},
      {"labels", o.labels},
      {"annotations", o.annotations},
      {"user", o.user},
      {"group_add", o.group_add},
      {"workdir", o.workdir},
      {"tty", o.tty},
      {"interactive", o.interactive},
      {"detach", o.detach},
      {"rm", o.rm},
      {"read_only", o.read_only},
      {"init", o.init},
      {"mounts", std::move(mounts)},
      {"publish", o.publish},
      {"publish_all", o.publish_all},
      {"expose", o.expose},
      {"network", o.network},
      {"dns", o.dns},
      {"dns_search", o.dns_search},
      {"dns_option", o.dns_option},
      {"add_host", o.add_host},
      {"memory", o.memory},
      {"memory_swap", o.memory_swap},
      {"memory_reservation", o.memory_reservation},
      {"cpus", o.cpus},
      {"cpu_shares", o.cpu_shares},
      {"cpuset_cpus", o.cpuset_cpus},
      {"pids_limit", o.pids_limit},
      {"ulimits", std::move(ulimits)},
      {"shm_size", o.shm_size},
      {"cap_add", o.cap_add},
      {"cap_drop", o.cap_drop},
      {"privileged", o.privileged},
      {"no_new_privileges", o.no_new_privileges},
      {"seccomp_unconfined", o.seccomp_unconfined},
      {"seccomp_profile", o.seccomp_profile},
      {"systempaths_unconfined", o.systempaths_unconfined},
      {"sysctls", o.sysctls},
      {"restart", {{"policy", restart_policy_name(o.restart.policy)}, {"max_retries", o.restart.max_retries}}},
      {"health",
       {{"cmd", o.health.cmd},
        {"interval", o.health.interval},
        {"timeout", o.health.timeout},
        {"start_period", o.health.start_period},
        {"retries", o.health.retries},
        {"disabled", o.health.disabled}}},
      {"stop_signal", o.stop_signal},
      {"platform", o.platform},
      {"pull", pull_name(o.pull)},
  };
  if (o.entrypoint) j["entrypoint"] = *o.entrypoint;
  if (o.oom_score_adj) j["oom_score_adj"] = *o.oom_score_adj;
  if (o.stop_timeout) j["stop_timeout"] = *o.stop_timeout;
  return j;
}

Result<RunOptions> run_options_from_json(const json& j) {
  if (!j.is_object()) return Error(Errc::invalid_input, "run options: expected a JSON object");
  // The record was written by to_json; a type error means a corrupt or
  // foreign record. nlohmann throws on type mismatches: keep that inside.
  try {
    RunOptions o;
    auto get = [&](const char* k, auto& out) {
      if (auto it = j.find(k); it != j.end() && !it->is_null()) it->get_to(out);
    };
    get("image", o.image);
    get("cmd", o.cmd);
    if (auto it = j.find("entrypoint"); it != j.end() && !it->is_null())
      o.entrypoint = it->get<std::vector<std::string>>();
    get("name", o.name);
    get("hostname", o.hostname);
    get("domainname", o.domainname);
    get("env", o.env);
    get("labels", o.labels);
    get("annotations", o.annotations);
    get("user", o.user);
    get("group_add", o.group_add);
    get("workdir", o.workdir);
    get("tty", o.tty);
    get("interactive", o.interactive);
    get("detach", o.detach);
    get("rm", o.rm);
    get("read_only", o.read_only);
    get("init", o.init);
    if (auto it = j.find("mounts"); it != j.end() && it->is_array())
      for (const auto& mj : *it) {
        MountRequest m;
        std::string kind = mj.at("kind").get<std::string>();
        if (kind == "bind") m.kind = MountRequest::bind;
        else if (kind == "volume") m.kind = MountRequest::volume;
        else if (kind == "anonymous") m.kind = MountRequest::anonymous;
        else if (kind == "tmpfs") m.kind = MountRequest::tmpfs;
        else return Error(Errc::invalid_input, "run options: unknown mount kind " + quote(kind));
        mj.at("source").get_to(m.source);
        mj.at("target").get_to(m.target);
        m.readonly = mj.value("readonly", false);
        m.propagation = mj.value("propagation", "");
        m.options = mj.value("options", std::vector<std::string>{});
        m.no_copy = mj.value("no_copy", false);
        m.create_source = mj.value("create_source", false);
        o.mounts.push_back(std::move(m));
      }
    get("publish", o.publish);
    get("publish_all", o.publish_all);
    get("expose", o.expose);
    get("network", o.network);
    get("dns", o.dns);
    get("dns_search", o.dns_search);
    get("dns_option", o.dns_option);
    get("add_host", o.add_host);
    get("memory", o.memory);
    get("memory_swap", o.memory_swap);
    get("memory_reservation", o.memory_reservation);
    get("cpus", o.cpus);
    get("cpu_shares", o.cpu_shares);
    get("cpuset_cpus", o.cpuset_cpus);
    get("pids_limit", o.pids_limit);
    if (auto it = j.find("ulimits"); it != j.end() && it->is_array())
      for (const auto& u : *it)
        o.ulimits.push_back({u.at("name").get<std::string>(), u.at("soft").get<uint64_t>(), u.at("hard").get<uint64_t>()});
    if (auto it = j.find("oom_score_adj"); it != j.end() && !it->is_null()) o.oom_score_adj = it->get<int>();
    get("shm_size", o.shm_size);
    get("cap_add", o.cap_add);
    get("cap_drop", o.cap_drop);
    get("privileged", o.privileged);
    get("no_new_privileges", o.no_new_privileges);
    get("seccomp_unconfined", o.seccomp_unconfined);
    get("seccomp_profile", o.seccomp_profile);
    get("systempaths_unconfined", o.systempaths_unconfined);
    get("sysctls", o.sysctls);
    if (auto it = j.find("restart"); it != j.end() && it->is_object()) {
      TRY_ASSIGN(o.restart, parse_restart(it->value("policy", "no")));
      o.restart.max_retries = it->value("max_retries", 0);
    }
    if (auto it = j.find("health"); it != j.end() && it->is_object()) {
      o.health.cmd = it->value("cmd", std::vector<std::string>{});
      o.health.interval = it->value("interval", int64_t{0});
      o.health.timeout = it->value("timeout", int64_t{0});
      o.health.start_period = it->value("start_period", int64_t{0});
      o.health.retries = it->value("retries", int64_t{0});
      o.health.disabled = it->value("disabled", false);
    }
    get("stop_signal", o.stop_signal);
    if (auto it = j.find("stop_timeout"); it != j.end() && !it->is_null()) o.stop_timeout = it->get<int>();
    get("platform", o.platform);
    if (auto it = j.find("pull"); it != j.end() && it->is_string()) {
      TRY_ASSIGN(o.pull, parse_pull(it->get<std::string>()));
    }
    return o;
  } catch (const std::exception& e) {
    return Error(Errc::invalid_input, std::string("run options: ") + e.what());
  }
}

}  // namespace berth::engine
