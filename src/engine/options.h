// berth/engine: what `berth run` / `berth create` accept, parsed and
// validated, independent of any command-line library.
//
// Promises:
//  - Every parser follows Docker's syntax and defaults for the flag of the
//    same name (docs/engine-spec.md lists each rule and its source).
//  - Every error is one line naming the flag and the offending value:
//    `invalid --memory "12x": unknown unit "x"`. Values come from a user or
//    from a file the user named; they are treated as hostile (sizes capped,
//    overflow checked, no exception).
//  - check_run_options() applies the cross-field rules (memory vs swap,
//    sysctls vs network mode, ...) so a RunOptions that passes it can be
//    turned into a runtime spec without further validation of its own.
//  - RunOptions round-trips through JSON (to_json / run_options_from_json),
//    so a container record can keep exactly what the user asked for.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "image/config.h"

namespace berth::engine {

// One -v / --mount / --tmpfs request, before the engine resolves named and
// anonymous volumes to host directories.
struct MountRequest {
  enum Kind { bind, volume /* named */, anonymous, tmpfs };
  Kind kind = bind;
  std::string source;  // host path (bind, absolute), volume name, empty otherwise
  std::string target;  // absolute, cleaned
  bool readonly = false;
  std::string propagation;           // "" = rprivate (Docker's default); else shared, rslave, ...
  std::vector<std::string> options;  // tmpfs: "size=65536k", "mode=1777", "exec", ...
  bool no_copy = false;              // volume-nocopy / :nocopy
  // --mount type=bind refuses a missing source (Docker); -v creates it.
  bool create_source = false;
};

struct Ulimit {
  std::string name;  // "nofile", "nproc", ... (no RLIMIT_ prefix)
  uint64_t soft = 0, hard = 0;  // UINT64_MAX = unlimited (-1 or "unlimited")
};

struct RestartPolicy {
  enum Policy { no, on_failure, always, unless_stopped };
  Policy policy = no;
  int max_retries = 0;  // on-failure:N; 0 = forever
};
const char* restart_policy_name(RestartPolicy::Policy p);  // "on-failure"

// --health-* as given; zero / empty means "keep the image's value".
struct HealthOptions {
  std::vector<std::string> cmd;  // ["CMD-SHELL", "..."] or ["CMD", ...]
  int64_t interval = 0, timeout = 0, start_period = 0;  // nanoseconds
  int64_t retries = 0;
  bool disabled = false;  // --no-healthcheck
};

enum class PullPolicy { missing, never, always };

struct RunOptions {
  std::string image;             // as typed
  std::vector<std::string> cmd;  // after the image
  std::optional<std::vector<std::string>> entrypoint;  // set & empty: --entrypoint ""

  std::string name;
  std::string hostname, domainname;
  std::vector<std::string> env;  // KEY=VALUE: --env-file lines, then -e, in order (Docker)
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string user;     // -u as typed: "name", "uid:gid", ...
  std::vector<std::string> group_add;
  std::string workdir;  // absolute when set
  bool tty = false, interactive = false, detach = false, rm = false;
  // The rootfs's changes are never needed after the container is removed
  // (implied by rm; build steps set it): mounted volatile (rootfs.h).
  bool transient_rootfs = false;
  // `run` without -d: create() is followed by run_foreground() in this same
  // process. With rm, the bundle's config.json is then never written: the
  // spec goes to the runtime in memory (nothing starts such a container again).
  bool run_here = false;
  bool read_only = false;
  bool init = false;

  std::vector<MountRequest> mounts;  // -v, --mount, --tmpfs in command-line order
  std::vector<std::string> publish;  // raw -p values; the network library parses them
  bool publish_all = false;
  std::vector<std::string> expose;  // --expose "80", "53/udp", "8000-8010/tcp"
  std::string network = "bridge";  // bridge | none | host
  std::vector<std::string> dns, dns_search, dns_option, add_host;

  int64_t memory = 0, memory_swap = 0, memory_reservation = 0;  // bytes; 0 unset; swap -1 unlimited
  double cpus = 0;
  int64_t cpu_shares = 0;
  std::string cpuset_cpus;
  int64_t pids_limit = 0;  // 0 unset, -1 unlimited
  std::vector<Ulimit> ulimits;
  std::optional<int> oom_score_adj;
  int64_t shm_size = 0;  // 0: 64 MiB

  std::vector<std::string> cap_add, cap_drop;  // normalized "CAP_X" or "ALL"
  bool privileged = false;
  bool no_new_privileges = false;
  bool seccomp_unconfined = false;
  std::string seccomp_profile;  // JSON text of seccomp=FILE, read when parsed (Docker's CLI does too)
  bool systempaths_unconfined = false;  // --security-opt systempaths=unconfined: no masked/read-only paths
  std::map<std::string, std::string> sysctls;

  RestartPolicy restart;
  HealthOptions health;
  std::string stop_signal;  // as given, validated by parse_signal
  std::optional<int> stop_timeout;  // seconds
  std::string platform;
  PullPolicy pull = PullPolicy::missing;
};

// Looks a variable up in the caller's environment (tests pass their own).
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_env();

// Sizes, Docker's RAMInBytes: "512m", "1g", "1.5G", "1024k", "100MB", plain
// bytes; units b k m g t p are binary. `flag` only names the flag in errors.
Result<int64_t> parse_bytes(std::string_view s, std::string_view flag = "size");
// Go durations as Docker's --health-* take them: "30s", "1m30s", "250ms".
Result<int64_t> parse_duration(std::string_view s, std::string_view flag = "duration");
// "SIGTERM", "TERM", "term", "15", "SIGRTMIN+3" -> signal number.
Result<int> parse_signal(std::string_view s, std::string_view flag = "--signal");
// "nofile=1024:2048", "nproc=512", "core=-1", "memlock=unlimited".
Result<Ulimit> parse_ulimit(std::string_view s);
// "no", "always", "unless-stopped", "on-failure", "on-failure:3".
Result<RestartPolicy> parse_restart(std::string_view s);
// -v: "/host:/ctr[:opts]", "./rel:/ctr", "name:/ctr[:opts]", "/ctr".
// Relative bind sources are made absolute against `cwd` ("" = getcwd()).
Result<MountRequest> parse_volume(std::string_view s, const std::string& cwd = "");
// --mount type=bind|volume|tmpfs,source=..,target=..,readonly,...
Result<MountRequest> parse_mount(std::string_view s, const std::string& cwd = "");
// --tmpfs /run[:rw,size=64m,mode=1777]
Result<MountRequest> parse_tmpfs(std::string_view s);
// -e: "KEY=VALUE" verbatim; "KEY" takes the caller's value, nullopt when unset.
Result<std::optional<std::string>> parse_env(std::string_view s, const EnvLookup& lookup);
// --env-file contents, Docker's rules: '#' comments and blank lines skipped,
// "KEY=VAL" kept verbatim (no quote processing), "KEY" from the caller's
// environment (skipped when unset). `where` names the file in errors.
Result<std::vector<std::string>> parse_env_text(std::string_view text, std::string_view where,
                                                const EnvLookup& lookup);
Result<std::vector<std::string>> parse_env_file(const std::string& path, const EnvLookup& lookup);
// --env-file files first, then -e values, in order (later values win when the
// runtime applies them): what `run`, `create` and `exec` all take.
Result<std::vector<std::string>> collect_env(const std::vector<std::string>& env_files,
                                             const std::vector<std::string>& env, const EnvLookup& lookup);
// -l "k=v" or "k" (empty value); --label-file lines the same way.
Result<std::pair<std::string, std::string>> parse_label(std::string_view s, std::string_view flag = "--label");
Result<std::map<std::string, std::string>> parse_label_file(const std::string& path);
// --cap-add/--cap-drop value -> "CAP_NET_ADMIN" (or "ALL"); unknown names refused.
Result<std::string> parse_capability(std::string_view s, std::string_view flag);
// --security-opt: seccomp=FILE|unconfined, no-new-privileges[:true|false],
// label=... and apparmor=... (accepted, ignored: berth has neither LSM).
Status apply_security_opt(RunOptions& o, std::string_view s);
// --sysctl k=v, --annotation k=v.
Result<std::pair<std::string, std::string>> parse_key_value(std::string_view s, std::string_view flag);
// --network: "bridge"/"default", "none", "host".
Result<std::string> parse_network(std::string_view s);
Result<PullPolicy> parse_pull(std::string_view s);
// --add-host "name:ip" / "name=ip" (ip may be IPv6 or "host-gateway").
Status check_add_host(std::string_view s);
// --dns: an IP address.
Status check_ip(std::string_view s, std::string_view flag);

// --expose: "port[-port][/tcp|udp|sctp]".
Status check_expose(std::string_view s);

// Cross-field rules; run after every flag is in.
Status check_run_options(const RunOptions& o);

// The image's healthcheck with the --health-* overrides applied (Docker's
// merge); nullopt when neither gives one, {"NONE"} when disabled.
std::optional<image::Healthcheck> merge_healthcheck(const std::optional<image::Healthcheck>& from_image,
                                                    const HealthOptions& h);

nlohmann::json to_json(const RunOptions& o);
Result<RunOptions> run_options_from_json(const nlohmann::json& j);

}  // namespace berth::engine
