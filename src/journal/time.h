// berth/journal: timestamps as berth writes and reads them.
//
// Promises:
//  - format_rfc3339nano always writes UTC with exactly nine fractional
//    digits, so log records and event lines sort as text and parse back to
//    the same nanosecond.
//  - parse_rfc3339 accepts what other writers of these formats produce too
//    (kubelet trims trailing zeros, conmon writes a "+hh:mm" offset).
//  - parse_duration is Go's time.ParseDuration ("1h30m", "250ms", "-1.5h",
//    "0"); parse_time_arg is Docker's --since/--until (api/types/time
//    GetTimestamp): a Go duration counts back from now, otherwise RFC3339
//    (date-only and zone-less forms are local time), otherwise a unix time
//    with an optional decimal fraction. Errors are one line naming the value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::journal {

// CLOCK_REALTIME in nanoseconds since the epoch.
int64_t now_ns();

// "2026-11-22T01:02:03.123456789Z"
std::string format_rfc3339nano(int64_t ns);
// Appends the same 30 bytes to `out` (the log writer's hot path).
void append_rfc3339nano(std::string& out, int64_t ns);

// "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+hh:mm|-hh:mm)"; the whole input must match.
Result<int64_t> parse_rfc3339(std::string_view s);

// Go duration syntax to nanoseconds; overflow and missing units are errors.
Result<int64_t> parse_duration(std::string_view s);

// A --since/--until value relative to `now_ns`.
Result<int64_t> parse_time_arg(std::string_view s, int64_t now_ns);

}  // namespace berth::journal
