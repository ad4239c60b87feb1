// berth/runtime: the OCI runtime-spec (1.1) config.json as typed C++.
//
// Promises:
//  - parse_spec() accepts only well-formed documents: wrong JSON types, missing
//    required fields (ociVersion, root.path, process.args/cwd when a process is
//    present, namespace types, mount destinations), unknown namespace/rlimit/
//    capability names and relative paths where absolute ones are required are
//    each a one-line Errc::invalid_input naming the field ("process.cwd: ...").
//  - Unknown top-level or linux fields are tolerated (forward compatibility),
//    as runc does; intelRdt is accepted and ignored.
//  - linux.resources and linux.seccomp stay JSON: the cgroup and seccomp
//    concerns own their validation.
//  - default_spec() is runc's `spec` output (plus the rootless variant).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace berth::runtime {

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additional_gids;
};

struct Rlimit {
  int resource = 0;  // RLIMIT_*
  uint64_t soft = 0;
  uint64_t hard = 0;
};

// Capability sets as kernel cap numbers. Absent process.capabilities means
// "no capabilities at all" (runc semantics), so every set here may be empty.
struct Capabilities {
  std::vector<int> bounding, effective, inheritable, permitted, ambient;
};

struct Process {
  bool terminal = false;
  unsigned console_height = 0, console_width = 0;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  Capabilities caps;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::string apparmor_profile;
  std::string selinux_label;
  std::optional<int> oom_score_adj;
  // Things the runtime must log as warnings and go on (runtime.md
  // "Warnings"), e.g. a capability name this kernel/libcap does not know.
  std::vector<std::string> warnings;
};

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  int timeout = 0;  // seconds, 0 = none
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart, poststop;
};

enum class NsType { pid, network, mount, ipc, uts, user, cgroup, time };
struct Namespace {
  NsType type;
  std::string path;  // empty: create a new one
};
const char* ns_type_name(NsType t);      // spec name ("network")
const char* ns_proc_name(NsType t);      // /proc/<pid>/ns entry ("net")
int ns_clone_flag(NsType t);             // CLONE_NEW*

struct IdMapping {
  uint32_t container_id = 0, host_id = 0, size = 0;
};

struct Device {
  char type = 'c';  // c, b, u, p
  std::string path;
  int64_t major = 0, minor = 0;
  std::optional<uint32_t> file_mode, uid, gid;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings, gid_mappings;
  std::vector<Device> devices;
  std::string cgroups_path;
  nlohmann::json resources;  // null when absent
  nlohmann::json seccomp;    // null when absent
  std::map<std::string, std::string> sysctl;
  std::vector<std::string> masked_paths, readonly_paths;
  std::string rootfs_propagation;
  std::string mount_label;
  std::optional<unsigned long> personality;  // PER_LINUX / PER_LINUX32
  std::map<std::string, std::pair<int64_t, uint32_t>> time_offsets;  // "monotonic"/"boottime"

  const Namespace* ns(NsType t) const;
};

struct Spec {
  std::string oci_version;
  std::optional<Process> process;
  std::string root_path;  // as written (maybe relative to the bundle)
  bool root_readonly = false;
  std::string hostname, domainname;
  std::vector<Mount> mounts;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  Linux linux;
};

Result<Spec> parse_spec(std::string_view json_text);
// Reads <bundle>/config.json (limit 16 MiB) and parses it.
Result<Spec> load_spec(const std::string& bundle);
// Parses a lone process object (`exec --process file`).
Result<Process> parse_process(const nlohmann::json& j, std::string_view where);

nlohmann::json default_spec(bool rootless);

// Capability name ("CAP_SYS_ADMIN") <-> number; -1 when unknown.
int cap_from_name(std::string_view name);
std::string cap_to_name(int cap);
// "KILL", "SIGKILL", "9" -> 9; -1 when unknown.
int signal_from_name(std::string_view s);

}  // namespace berth::runtime
