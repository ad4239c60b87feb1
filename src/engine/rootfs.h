// berth/engine: a container's root filesystem — the image's shared read-only
// snapshots as overlayfs lowers plus the container's own upper/work dirs.
//
// Promises:
//  - Nothing is copied: every layer is unpacked once per store (snapshot/),
//    so the time to mount does not grow with the image's size.
//  - mount_rootfs is idempotent (an existing overlay at merged is kept) and
//    unmount_rootfs tolerates a missing mount (after a reboot).
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "image/resolve.h"
#include "store/store.h"

namespace berth::engine {

// Unpacks what is missing and returns the lowerdirs, topmost first.
Result<std::vector<std::string>> prepare_lowers(Store& store, const image::ResolvedImage& img);

// transient: the upper dir is thrown away with the container (--rm, build
// steps), so it is mounted `volatile`: no sync of the host filesystem when
// it is unmounted (a plain overlay syncs the whole upper filesystem then,
// which costs tens of milliseconds on a busy host). Such an upper dir can
// never be mounted again. upper "" mounts the lowers read-only.
Status mount_rootfs(const std::vector<std::string>& lowers,
                    const std::string& upper, const std::string& work, const std::string& merged,
                    bool transient = false);
Status unmount_rootfs(const std::string& merged);
bool is_mounted(const std::string& dir);

}  // namespace berth::engine
