// berth/engine: rootless berth (docs/engine-rootless.md).
//
// An unprivileged caller is moved, before any verb runs, into a user namespace
// where it is uid 0 (its own uid -> 0, its /etc/subuid and /etc/subgid ranges
// -> 1..N) and into a mount namespace of that user namespace. One "pause"
// process per user keeps both alive, and every later berth command of that
// user joins them, as podman does: the overlay mounts a detached container
// needs stay visible to `rm`, `exec` can enter the containers' namespaces
// (which a sibling user namespace could not) and `stop` can signal processes
// running as subordinate uids.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::engine {

struct IdRange {
  uint32_t start = 0;
  uint32_t count = 0;
};

// The ranges of /etc/subuid- or /etc/subgid-format `text` ("name:start:count"
// lines) that belong to `user` or to the numeric `id`, in file order.
// Malformed lines and zero counts are skipped, as shadow's tools do.
std::vector<IdRange> parse_subids(std::string_view text, std::string_view user, uint32_t id);

// The arguments newuidmap/newgidmap need after the pid: own id -> 0, then the
// ranges stacked from 1 on.
std::vector<std::string> id_map_args(uint32_t own, const std::vector<IdRange>& ranges);

// For a caller that is not root: sets BERTH_ROOT (the caller's store,
// ~/.local/share/berth by default) and XDG_RUNTIME_DIR (a private
// /tmp/berth-run-<uid> when unset) so they survive the switch, then joins the
// user's pause process's namespaces or creates them and the pause process.
// Must run while the process is single-threaded. A no-op for root (which
// includes any process already inside). `argv` (main's, optional) is
// overwritten in the pause process so `ps` shows "berth-pause", not the
// command that happened to start it.
Status enter_rootless(char** argv = nullptr);

}  // namespace berth::engine
