// berth/base: phase timestamps for finding where a command's time goes.
//
// BERTH_TRACE=1 in the environment makes trace_mark() print
// "berth-trace <pid> +<ms since first mark> (+<ms since previous>) <what>" to
// stderr; without it a mark costs one branch. The first mark (main's) is the
// origin, so the loader's share is the command's wall time minus the last mark.
#pragma once

namespace berth {

void trace_mark(const char* what);

}  // namespace berth
