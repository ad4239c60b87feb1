// berth/engine: RunOptions + image config -> OCI runtime spec (config.json),
// with Docker's defaults.
//
// Promises:
//  - make_spec() output is accepted by runtime::parse_spec and its
//    linux.resources by cgroup::parse_resources (unit-tested per option set).
//  - Default hardening as Docker's: the 14 default capabilities in
//    bounding/effective/permitted (only bounding for a non-root user),
//    inheritable and ambient always empty (CVE-2022-29162), Docker's seccomp
//    profile for the final capability set, Docker's masked and read-only
//    /proc and /sys paths, devices denied except Docker's allow list.
//    --privileged lifts all of that.
//  - Docker's rules for args (entrypoint/cmd), env, cwd, user, hostname and
//    mount order; each rule is written down in docs/engine-spec.md.
//  - Deterministic: the same inputs give the same JSON (no clock, no
//    randomness); the host is consulted only for the capability list, the
//    CPU count (check_run_options) and the hostname under --network host.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "engine/options.h"
#include "engine/userdb.h"
#include "image/config.h"

namespace berth::engine {

// A mount ready for the spec: the engine has turned named and anonymous
// volumes into host directories.
struct ResolvedMount {
  std::string source;
  std::string target;
  std::string type = "bind";  // "bind" | "tmpfs"
  std::vector<std::string> options;
};

// The spec mount for a request. `host_source` is the directory backing a
// volume/anonymous request (ignored for bind and tmpfs, which carry their own).
ResolvedMount resolve_mount(const MountRequest& m, const std::string& host_source = "");

// A file the engine wrote for the container (hosts, resolv.conf, hostname).
struct BindFile {
  std::string host_path;
  std::string container_path;  // "/etc/hosts"
};

struct SpecInputs {
  image::RunConfig image;  // the image config's "config" object
  RunOptions options;
  std::string rootfs;        // root.path: the container's merged overlay directory
  std::string id;            // 64 hex digits
  std::string cgroups_path;  // linux.cgroupsPath, e.g. "/berth/<id>"
  // --network bridge: the prepared namespace ("" = a new, empty one).
  std::string netns_path;
  std::vector<ResolvedMount> mounts;  // options.mounts resolved, same order
  std::vector<BindFile> files;        // mounted last, unless a user mount covers the path
  // --init: a static init on the host, bind-mounted read-only at kInitPath
  // and run as `kInitPath -- args...`.
  std::string init_path;
  // The user when the caller resolved it already; else resolve_user(rootfs, ...).
  std::optional<ResolvedUser> user;
};

inline constexpr const char* kInitPath = "/dev/init";
inline constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

Result<nlohmann::json> make_spec(const SpecInputs& in);

// The pieces a container's cgroup is made from (see engine/ahead.h):
// linux.resources for these options, and linux.cgroupsPath for an id.
nlohmann::json spec_resources(const RunOptions& o);
std::string container_cgroups_path(const std::string& id);

// The pieces, for the engine's other uses (inspect, exec, commit):
// Docker's entrypoint/cmd rule; `no command specified` when empty.
Result<std::vector<std::string>> container_args(const image::RunConfig& image, const RunOptions& o);
// -h, else the id's first 12 characters, else (--network host) the host's name.
std::string container_hostname(const RunOptions& o, const std::string& id);
// Docker's TweakCapabilities: defaults +add -drop, ALL, --privileged. "CAP_X" names.
Result<std::vector<std::string>> final_capabilities(const RunOptions& o);
// The process environment before HOME is known (PATH, HOSTNAME, TERM, image, -e).
std::vector<std::string> container_env(const image::RunConfig& image, const RunOptions& o,
                                       const std::string& hostname);
// A Docker-format seccomp profile (archMap, includes/excludes, "name") as an
// OCI linux.seccomp object for these capabilities; OCI input passes through.
Result<nlohmann::json> seccomp_from_profile(const std::string& text, const std::vector<std::string>& caps);

}  // namespace berth::engine
