// berth/runtime: CVE-2019-5736 protection.
//
// Promise: after ensure_cloned_binary() returns OK, /proc/self/exe is a sealed
// memfd copy of berth-runtime (F_SEAL_SEAL|SHRINK|GROW|WRITE), so a container
// process that opens /proc/<pid>/exe of a runtime process entering it cannot
// write through it to the host binary. The first call re-execs; it returns
// only on failure (or when the binary already is the sealed copy).
#pragma once

#include "base/error.h"

namespace berth::runtime {

Status ensure_cloned_binary(char** argv);
bool is_cloned_binary();

}  // namespace berth::runtime
