// berth/runtime (internal): path resolution that a container cannot redirect.
//
// Every mount destination and every file the runtime touches inside a rootfs
// is resolved with openat2(RESOLVE_IN_ROOT): ".." and absolute symlinks stay
// inside the rootfs, so a symlink swapped in by a racing container process
// (CVE-2021-30465, CVE-2023-27561) cannot point a mount at the host. Mounts are
// then made onto the opened fd, never onto a path string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"

namespace berth::runtime {

// openat2(rootfd, path, flags, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS|extra).
Result<UniqueFd> open_in_root(int rootfd, std::string_view path, int flags, uint64_t extra_resolve = 0);
// Like open_in_root(O_PATH) but creates missing directories (and the final
// component as an empty file when `file`).
Result<UniqueFd> mkpath_in_root(int rootfd, std::string_view path, bool file, uint64_t extra_resolve = 0);
std::string fd_path(int fd);  // "/proc/self/fd/N"

// Detached-mount helpers (new mount API): no path is looked up in the
// container after the tree has been opened.
Status move_tree_to(int tree_fd, int target_fd, std::string_view what);
Status bind_fd_onto(int src_fd, int target_fd, bool recursive, uint64_t attr_set, std::string_view what);

}  // namespace berth::runtime
