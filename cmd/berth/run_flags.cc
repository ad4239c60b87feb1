// CLI11 registration of Docker's run/create flags, and their conversion.
#include "run_flags.h"

#include <cstdio>

#include "engine/options_util.h"

namespace berth::cli {

using engine::detail::bad;

void add_run_flags(CLI::App* c, RunFlags& f, bool run) {
  f.app = c;
  // Docker's -h is --hostname; help stays reachable as --help.
  c->set_help_flag("--help", "Print this help message and exit");
  // Everything from the image on belongs to the container, flags included.
  c->prefix_command();
  auto many = [&](const char* names, std::vector<std::string>& v, const char* what) {
    c->add_option(names, v, what)->allow_extra_args(false);
  };
  auto one = [&](const char* names, std::string& v, const char* what) { c->add_option(names, v, what); };

  one("--name", f.name, "Assign a name to the container");
  one("-h,--hostname", f.hostname, "Container host name");
  one("--domainname", f.domainname, "Container NIS domain name");
  many("-e,--env", f.env, "Set environment variables (KEY=VALUE, or KEY to copy it from here)");
  many("--env-file", f.env_file, "Read in a file of environment variables");
  many("-l,--label", f.label, "Set metadata on a container");
  many("--label-file", f.label_file, "Read in a line delimited file of labels");
  many("--annotation", f.annotation, "Add an annotation to the container (passed through to the runtime)");
  one("-u,--user", f.user, "Username or UID (format: <name|uid>[:<group|gid>])");
  many("--group-add", f.group_add, "Add additional groups to join");
  one("-w,--workdir", f.workdir, "Working directory inside the container");
  c->add_option_function<std::string>(
      "--entrypoint",
      [&f](const std::string& v) {
        f.entrypoint = v;
        f.entrypoint_set = true;
      },
      "Overwrite the default ENTRYPOINT of the image (\"\" resets it)");
  c->add_flag("-t,--tty", f.tty, "Allocate a pseudo-TTY");
  c->add_flag("-i,--interactive", f.interactive, "Keep STDIN open even if not attached");
  if (run) {
    c->add_flag("-d,--detach", f.detach, "Run container in background and print container ID");
    c->add_flag("--sig-proxy{true}", f.sig_proxy, "Proxy received signals to the process (default true)");
  }
  c->add_flag("--rm", f.rm, "Automatically remove the container and its anonymous volumes when it exits");
  c->add_flag("--read-only", f.read_only, "Mount the container's root filesystem as read only");
  c->add_flag("--init", f.init, "Run an init inside the container that forwards signals and reaps processes");
  c->add_flag("--privileged", f.privileged, "Give extended privileges to this container");
  c->add_flag("-q,--quiet", f.quiet, "Suppress the pull output");

  many("-v,--volume", f.volume, "Bind mount a volume (/host:/ctr[:opts], name:/ctr, /ctr)");
  many("--mount", f.mount, "Attach a filesystem mount to the container (type=bind|volume|tmpfs,...)");
  many("--tmpfs", f.tmpfs, "Mount a tmpfs directory (/run[:opts])");

  many("-p,--publish", f.publish, "Publish a container's port(s) to the host");
  c->add_flag("-P,--publish-all", f.publish_all, "Publish all exposed ports to random ports");
  many("--expose", f.expose, "Expose a port or a range of ports");
  one("--network,--net", f.network, "Connect a container to a network (bridge, host, none)");
  many("--dns", f.dns, "Set custom DNS servers");
  many("--dns-search", f.dns_search, "Set custom DNS search domains");
  many("--dns-option,--dns-opt", f.dns_option, "Set DNS options");
  many("--add-host", f.add_host, "Add a custom host-to-IP mapping (host:ip)");

  one("-m,--memory", f.memory, "Memory limit");
  one("--memory-swap", f.memory_swap, "Swap limit equal to memory plus swap: -1 to enable unlimited swap");
  one("--memory-reservation", f.memory_reservation, "Memory soft limit");
  one("--cpus", f.cpus, "Number of CPUs");
  one("-c,--cpu-shares", f.cpu_shares, "CPU shares (relative weight)");
  one("--cpuset-cpus", f.cpuset_cpus, "CPUs in which to allow execution (0-3, 0,1)");
  one("--pids-limit", f.pids_limit, "Tune container pids limit (-1 for unlimited)");
  many("--ulimit", f.ulimit, "Ulimit options (nofile=1024:2048)");
  one("--oom-score-adj", f.oom_score_adj, "Tune host's OOM preferences (-1000 to 1000)");
  one("--shm-size", f.shm_size, "Size of /dev/shm (default 64m)");

  many("--cap-add", f.cap_add, "Add Linux capabilities");
  many("--cap-drop", f.cap_drop, "Drop Linux capabilities");
  many("--security-opt", f.security_opt, "Security options (seccomp=FILE|unconfined, no-new-privileges)");
  many("--sysctl", f.sysctl, "Sysctl options");

  one("--restart", f.restart, "Restart policy to apply when a container exits (no, on-failure[:N], always, unless-stopped)");
  one("--health-cmd", f.health_cmd, "Command to run to check health");
  one("--health-interval", f.health_interval, "Time between running the check (ms|s|m|h)");
  one("--health-timeout", f.health_timeout, "Maximum time to allow one check to run (ms|s|m|h)");
  one("--health-start-period", f.health_start_period, "Start period for the container to initialize (ms|s|m|h)");
  one("--health-retries", f.health_retries, "Consecutive failures needed to report unhealthy");
  c->add_flag("--no-healthcheck", f.no_healthcheck, "Disable any container-specified HEALTHCHECK");
  one("--stop-signal", f.stop_signal, "Signal to stop the container");
  one("--stop-timeout", f.stop_timeout, "Timeout (in seconds) to stop a container");
  one("--platform", f.platform, "Set platform if server is multi-platform capable");
  one("--pull", f.pull, "Pull image before running (missing, never, always: berth uses local images only)");
}

namespace {

Result<int64_t> integer(const std::string& v, const char* flag, int64_t lo, int64_t hi) {
  auto n = engine::detail::parse_int(v);
  if (!n) return bad(flag, v, "expected an integer");
  if (*n < lo || *n > hi) return bad(flag, v, "out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return *n;
}

// A size flag; "-1" means unlimited where Docker allows it.
Result<int64_t> size(const std::string& v, const char* flag, bool allow_unlimited) {
  if (allow_unlimited && v == "-1") return int64_t{-1};
  return engine::parse_bytes(v, flag);
}

}  // namespace

Result<engine::RunOptions> to_run_options(const RunFlags& f) {
  engine::RunOptions o;
  std::vector<std::string> rest = f.rest;
  if (rest.empty() && f.app) rest = f.app->remaining();
  if (!rest.empty() && rest[0] == "--") rest.erase(rest.begin());
  if (rest.empty()) return Error(Errc::invalid_argument, "requires at least 1 argument: IMAGE [COMMAND] [ARG...]");
  // prefix_command passes an unknown flag through as if it were the image.
  if (rest[0].size() > 1 && rest[0][0] == '-') return Error(Errc::invalid_argument, "unknown flag: " + rest[0]);
  o.image = rest[0];
  o.cmd.assign(rest.begin() + 1, rest.end());

  o.name = f.name;
  o.hostname = f.hostname;
  o.domainname = f.domainname;
  o.user = f.user;
  o.group_add = f.group_add;
  o.workdir = f.workdir;
  if (f.entrypoint_set) {
    // Docker takes --entrypoint as one word, never split on spaces.
    o.entrypoint = f.entrypoint.empty() ? std::vector<std::string>{} : std::vector<std::string>{f.entrypoint};
  }
  o.tty = f.tty;
  o.interactive = f.interactive;
  o.detach = f.detach;
  o.rm = f.rm;
  o.read_only = f.read_only;
  o.init = f.init;
  o.privileged = f.privileged;

  // Docker reads --env-file files first, then -e, later values winning.
  TRY_ASSIGN(o.env, engine::collect_env(f.env_file, f.env, engine::process_env()));
  for (const auto& file : f.label_file) {
    TRY_ASSIGN(auto labels, engine::parse_label_file(file));
    for (auto& [k, v] : labels) o.labels[k] = v;
  }
  for (const auto& l : f.label) {
    TRY_ASSIGN(auto kv, engine::parse_label(l));
    o.labels[kv.first] = kv.second;
  }
  for (const auto& a : f.annotation) {
    TRY_ASSIGN(auto kv, engine::parse_key_value(a, "--annotation"));
    o.annotations[kv.first] = kv.second;
  }

  // Mounts keep command-line order within each flag; Docker has no order
  // across -v/--mount/--tmpfs either (the spec sorts them by depth).
  for (const auto& v : f.volume) {
    TRY_ASSIGN(auto m, engine::parse_volume(v));
    o.mounts.push_back(std::move(m));
  }
  for (const auto& v : f.mount) {
    TRY_ASSIGN(auto m, engine::parse_mount(v));
    o.mounts.push_back(std::move(m));
  }
  for (const auto& v : f.tmpfs) {
    TRY_ASSIGN(auto m, engine::parse_tmpfs(v));
    o.mounts.push_back(std::move(m));
  }

  o.publish = f.publish;
  o.publish_all = f.publish_all;
  for (const auto& e : f.expose) TRY(engine::check_expose(e));
  o.expose = f.expose;
  if (!f.network.empty()) {
    TRY_ASSIGN(o.network, engine::parse_network(f.network));
  }
  for (const auto& d : f.dns) TRY(engine::check_ip(d, "--dns"));
  o.dns = f.dns;
  o.dns_search = f.dns_search;
  o.dns_option = f.dns_option;
  for (const auto& h : f.add_host) TRY(engine::check_add_host(h));
  o.add_host = f.add_host;

  if (!f.memory.empty()) {
    TRY_ASSIGN(o.memory, size(f.memory, "--memory", false));
  }
  if (!f.memory_swap.empty()) {
    TRY_ASSIGN(o.memory_swap, size(f.memory_swap, "--memory-swap", true));
  }
  if (!f.memory_reservation.empty()) {
    TRY_ASSIGN(o.memory_reservation, size(f.memory_reservation, "--memory-reservation", false));
  }
  if (!f.shm_size.empty()) {
    TRY_ASSIGN(o.shm_size, size(f.shm_size, "--shm-size", false));
  }
  if (!f.cpus.empty()) {
    char* end = nullptr;
    o.cpus = std::strtod(f.cpus.c_str(), &end);
    if (end == f.cpus.c_str() || *end) return bad("--cpus", f.cpus, "expected a number");
  }
  if (!f.cpu_shares.empty()) {
    TRY_ASSIGN(o.cpu_shares, integer(f.cpu_shares, "--cpu-shares", 0, 262144));
  }
  o.cpuset_cpus = f.cpuset_cpus;
  if (!f.pids_limit.empty()) {
    TRY_ASSIGN(o.pids_limit, integer(f.pids_limit, "--pids-limit", INT64_MIN, INT64_MAX));
    if (o.pids_limit < 0) o.pids_limit = -1;  // Docker: any negative value is unlimited
  }
  for (const auto& u : f.ulimit) {
    TRY_ASSIGN(auto ul, engine::parse_ulimit(u));
    // A later --ulimit for the same resource replaces the earlier one.
    std::erase_if(o.ulimits, [&](const engine::Ulimit& x) { return x.name == ul.name; });
    o.ulimits.push_back(std::move(ul));
  }
  if (!f.oom_score_adj.empty()) {
    TRY_ASSIGN(int64_t v, integer(f.oom_score_adj, "--oom-score-adj", -1000, 1000));
    o.oom_score_adj = static_cast<int>(v);
  }

  for (const auto& c : f.cap_add) {
    TRY_ASSIGN(auto n, engine::parse_capability(c, "--cap-add"));
    o.cap_add.push_back(std::move(n));
  }
  for (const auto& c : f.cap_drop) {
    TRY_ASSIGN(auto n, engine::parse_capability(c, "--cap-drop"));
    o.cap_drop.push_back(std::move(n));
  }
  for (const auto& s : f.security_opt) TRY(engine::apply_security_opt(o, s));
  for (const auto& s : f.sysctl) {
    TRY_ASSIGN(auto kv, engine::parse_key_value(s, "--sysctl"));
    o.sysctls[kv.first] = kv.second;
  }

  if (!f.restart.empty()) {
    TRY_ASSIGN(o.restart, engine::parse_restart(f.restart));
  }
  o.health.disabled = f.no_healthcheck;
  if (!f.health_cmd.empty()) o.health.cmd = {"CMD-SHELL", f.health_cmd};
  if (!f.health_interval.empty()) {
    TRY_ASSIGN(o.health.interval, engine::parse_duration(f.health_interval, "--health-interval"));
  }
  if (!f.health_timeout.empty()) {
    TRY_ASSIGN(o.health.timeout, engine::parse_duration(f.health_timeout, "--health-timeout"));
  }
  if (!f.health_start_period.empty()) {
    TRY_ASSIGN(o.health.start_period, engine::parse_duration(f.health_start_period, "--health-start-period"));
  }
  if (!f.health_retries.empty()) {
    TRY_ASSIGN(o.health.retries, integer(f.health_retries, "--health-retries", 0, INT32_MAX));
  }
  if (!f.stop_signal.empty()) {
    TRY(engine::parse_signal(f.stop_signal, "--stop-signal"));
    o.stop_signal = f.stop_signal;
  }
  if (!f.stop_timeout.empty()) {
    TRY_ASSIGN(int64_t t, integer(f.stop_timeout, "--stop-timeout", -1, INT32_MAX));
    o.stop_timeout = static_cast<int>(t);
  }
  o.platform = f.platform;
  if (!f.pull.empty()) {
    TRY_ASSIGN(o.pull, engine::parse_pull(f.pull));
  }
  if (o.pull == engine::PullPolicy::always)
    return Error(Errc::unsupported, "--pull always: berth runs local images only; use `berth pull` first");
  TRY(engine::check_run_options(o));
  return o;
}

}  // namespace berth::cli
