// berth/runtime: OCI hooks.
//
// Promise: each hook gets the container state JSON on stdin, only its own
// env, and is killed (and the phase fails) when its timeout passes. Hooks of a
// phase run in order; the first failure stops the phase.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "runtime/spec.h"

namespace berth::runtime {

Status run_hooks(const std::vector<Hook>& hooks, const std::string& state_json, std::string_view phase);

}  // namespace berth::runtime
