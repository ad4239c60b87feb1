// berth/cgroup (internal): the v1 devices controller as a value, so a live
// update can move from the current rules to the new ones without first
// denying every device (which would break a running container for a moment).
//
// The model follows the kernel (security/device_cgroup.c): a default
// behaviour plus an exception list keyed by exact (type, major, minor);
// a rule of type 'a' resets the default and clears the exceptions whatever
// its numbers; a rule agreeing with the default removes access bits from the
// matching exception, otherwise it adds them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "cgroup/resources.h"

namespace berth::cgroup::devices_v1 {

struct State {
  bool default_allow = false;
  std::map<std::tuple<char, int64_t, int64_t>, unsigned> exceptions;  // access bits r=1 w=2 m=4
  bool operator==(const State&) const = default;
};

// The state the kernel ends in after "deny a" and then `rules` in order.
State emulate(const std::vector<DeviceRule>& rules);

// devices.list text -> state. nullopt when it cannot be known: in allow mode
// the kernel prints only "a *:* rwm" and hides its exceptions.
std::optional<State> parse_list(const std::string& text);

// Writes (true = devices.allow, false = devices.deny) taking `from` to `to`
// without a deny-everything step: grants first, then revocations. nullopt
// when the default behaviour changes, which needs the full rewrite.
std::optional<std::vector<std::pair<bool, std::string>>> transition(const State& from, const State& to);

}  // namespace berth::cgroup::devices_v1
