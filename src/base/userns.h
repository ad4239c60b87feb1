// berth/base: whether this process runs in a user namespace other than the
// host's (rootless berth, docs/engine-rootless.md).
#pragma once

namespace berth {

// True when /proc/self/uid_map is not the initial namespace's identity map
// "0 0 4294967295". Root there lacks what only the host's root has: trusted.*
// xattrs, mknod, cgroup writes, CNI bridges.
bool in_user_namespace();

}  // namespace berth
