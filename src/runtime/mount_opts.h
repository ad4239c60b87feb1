// berth/runtime: OCI mount options -> mount(2)/mount_setattr(2) arguments.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"

namespace berth::runtime {

struct MountOpts {
  unsigned long flags = 0;        // MS_* for mount(2) (incl. MS_BIND, MS_REC)
  unsigned long clear = 0;        // flags explicitly cleared ("rw", "suid", ...)
  unsigned long propagation = 0;  // MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC)
  uint64_t attr_set = 0;          // MOUNT_ATTR_* applied recursively ("rro", "rnosuid", ...)
  uint64_t attr_clr = 0;
  std::string data;               // filesystem-specific: "mode=755,size=65536k"
  bool bind() const;
};

// Unknown options that look like flags are passed through as data, as runc
// does; "idmap"/"ridmap" are rejected as unsupported.
Result<MountOpts> parse_mount_options(const std::vector<std::string>& opts);

}  // namespace berth::runtime
