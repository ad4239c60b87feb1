// berth/runtime: runc-compatible logging (--log, --log-format text|json).
//
// podman and containerd read the last error from the --log file in runc's
// JSON shape: {"level":"error","msg":"...","time":"..."}; errors also go to
// stderr so a human sees them.
#pragma once

#include <string>

namespace berth::runtime {

void log_configure(const std::string& path, bool json, bool debug);
void log_message(const char* level, const std::string& msg);
inline void log_error(const std::string& msg) { log_message("error", msg); }
inline void log_debug(const std::string& msg) { log_message("debug", msg); }

}  // namespace berth::runtime
