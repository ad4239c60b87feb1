// berth/cgroup: OCI cgroupsPath -> a cgroup path ("/a/b", relative to every
// hierarchy's root). Pure functions, no filesystem access.
//
//   "/a/b"                 -> "/a/b"
//   "a/b"                  -> "/berth/a/b"        (berth's own subtree)
//   ""                     -> "/berth/<container-id>"
//   "a-b.slice:pfx:name"   -> "/a.slice/a-b.slice/pfx-name.scope"
//                             (systemd form, mapped onto cgroupfs: berth does
//                             not talk to systemd; see docs/cgroups.md)
#pragma once

#include <string>

#include "base/error.h"

namespace berth::cgroup {

inline constexpr const char* kBerthSubtree = "/berth";

// True for "slice:prefix:name" strings, which runc only accepts with
// --systemd-cgroup but which podman/containerd pass whenever their cgroup
// manager is systemd; recognising them keeps such configs working.
bool looks_like_systemd_path(const std::string& cgroups_path);

// "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" or "" -> "/".
Result<std::string> expand_slice(const std::string& slice);

// The cgroup path for a container. Rejects "..", ".", NUL and control
// characters, overlong paths, and (in systemd form) malformed slice names.
Result<std::string> resolve_path(const std::string& cgroups_path, const std::string& container_id,
                                 bool systemd = false);

}  // namespace berth::cgroup
