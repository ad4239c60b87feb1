#include "runtime/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include <nlohmann/json.hpp>

#include "runtime/state.h"

namespace berth::runtime {

namespace {
struct LogConfig {
  std::string path;
  bool json = false;
  bool debug = false;
};
LogConfig& config() {
  static LogConfig c;
  return c;
}
}  // namespace

void log_configure(const std::string& path, bool json, bool debug) {
  config() = {path, json, debug};
}

void log_message(const char* level, const std::string& msg) {
  const auto& c = config();
  bool is_debug = std::strcmp(level, "debug") == 0;
  if (is_debug && !c.debug) return;
  std::string line;
  if (c.json) {
    line = nlohmann::json{{"level", level}, {"msg", msg}, {"time", now_rfc3339()}}.dump() + "\n";
  } else {
    line = "time=\"" + now_rfc3339() + "\" level=" + level + " msg=\"" + msg + "\"\n";
  }
  if (!c.path.empty()) {
    int fd = ::open(c.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      (void)!::write(fd, line.data(), line.size());
      ::close(fd);
    }
  }
  // With a log file the caller reads it; without one stderr is the log. A
  // human running by hand still sees errors on stderr.
  if (c.path.empty() || std::strcmp(level, "error") == 0) {
    std::string h = c.path.empty() ? line : "berth-runtime: " + msg + "\n";
    if (c.path.empty() && !c.json) h = std::string(std::strcmp(level, "error") == 0 ? "berth-runtime: " : "berth-runtime: ") + (is_debug ? "debug: " : std::strcmp(level, "warning") == 0 ? "warning: " : "") + msg + "\n";
    (void)!::write(2, h.data(), h.size());
  }
}

}  // namespace berth::runtime
