// berth/runtime: linux.sysctl, validated before anything is written.
//
// Promise (CVE-2022-0811): a key is only [a-z0-9_.-/] with no "..", a value has
// no newline, and the key must belong to a namespace the container owns
// (net.* needs a network namespace, IPC keys an ipc namespace, hostname keys a
// uts namespace); anything else, e.g. kernel.core_pattern, is refused.
#pragma once

#include <map>
#include <string>

#include "base/error.h"
#include "base/fd.h"
#include "runtime/spec.h"

namespace berth::runtime {

Status validate_sysctls(const Spec& spec);
// In the child, after pivot_root: writes /proc/sys/<key>.
Status apply_sysctls(const std::map<std::string, std::string>& sysctl);
// In the child, inside a network namespace the runtime made: "lo" up, as runc
// does (its "loopback" network). A new namespace's lo is down; with it up,
// the engine's --network none is a plain new namespace (Docker has lo up).
Status loopback_up();
// A new network namespace with lo up, as the init would make it: for
// CreateOptions::prepared. Any thread may call it; it stays in its own.
Result<UniqueFd> new_network_namespace();

}  // namespace berth::runtime
