#include "cgroup/cgroup.h"

namespace berth::cgroup {
Layout host_layout() { return Layout::hybrid; }
}  // namespace berth::cgroup
