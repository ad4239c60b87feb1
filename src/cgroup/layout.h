// berth/cgroup: where the host's cgroup hierarchies are mounted.
//
// Promise: parse_mountinfo() is pure (no filesystem access) and bounded, so it
// can be unit-tested and fuzzed; host() reads /proc/self/mountinfo and the v2
// controller lists once per process and caches the answer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "cgroup/cgroup.h"

namespace berth::cgroup {

// One mounted v1 hierarchy: "cpu,cpuacct" or "name=systemd" style.
struct Hierarchy {
  std::vector<std::string> controllers;  // "cpu", "cpuacct", "name=systemd", ...
  std::string mountpoint;                // /sys/fs/cgroup/cpu,cpuacct
  std::string root;                      // mountinfo root field ("/" unless bind-mounted)

  bool has(std::string_view controller) const;
};

struct HostLayout {
  Layout layout = Layout::v2;
  std::vector<Hierarchy> v1;            // hierarchies with at least one controller or a name=
  std::string v2_mount;                 // empty when no cgroup2 mount
  std::string v2_root = "/";
  std::vector<std::string> v2_controllers;  // cgroup.controllers at the v2 mount root

  const Hierarchy* find_v1(std::string_view controller) const;
  bool v2_has(std::string_view controller) const;
};

// Parses /proc/self/mountinfo text. The layout is decided here from the mounts
// alone: v1 controllers present -> v1 (or hybrid with a cgroup2 mount too); only
// cgroup2 -> v2. v2_controllers is left for the caller to fill.
Result<HostLayout> parse_mountinfo(std::string_view text);

// The host layout, detected once. An error if no cgroup filesystem is mounted.
Result<HostLayout> detect();
const HostLayout* host();  // cached detect(); null if detection failed

// The directory for cgroup `path` (absolute, "/" = root) in a hierarchy
// mounted at `mountpoint` whose mountinfo root is `root`; empty if the path
// is not visible through that mount.
std::string dir_for(const std::string& mountpoint, const std::string& root, const std::string& path);

}  // namespace berth::cgroup
