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
  // Without a log file stderr is the log. With one, errors still go to
  // stderr too, so a human (and conmon, which reads stderr) sees them.
  bool is_error = std::strcmp(level, "error") == 0;
  if (c.path.empty() || is_error) {
    std::string h = "berth-runtime: ";
    if (!is_error) h += std::string(level) + ": ";
    h += msg + "\n";
    (void)!::write(2, h.data(), h.size());
  }
}

}  // namespace berth::runtime
