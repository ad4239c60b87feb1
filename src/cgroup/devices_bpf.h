// berth/cgroup: the v2 device controller, which is an eBPF program
// (BPF_PROG_TYPE_CGROUP_DEVICE) attached to the cgroup rather than files.
//
// Promise: the program enforces the OCI linux.resources.devices list with
// the v1 meaning (rules in order, a later rule overrides an earlier one,
// everything not allowed is denied). Attaching replaces any device program
// berth attached before (for `update`) without a window where none applies.
#pragma once

#include <linux/bpf.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "cgroup/resources.h"

namespace berth::cgroup {

// The program for a rule list; pure, for tests.
std::vector<struct bpf_insn> device_filter_program(const std::vector<DeviceRule>& rules);

// Loads the program and attaches it to the cgroup directory `dir` (any
// cgroup2 directory: on hybrid hosts the unified mount works too).
Status apply_device_filter(const std::string& dir, const std::vector<DeviceRule>& rules);

}  // namespace berth::cgroup
