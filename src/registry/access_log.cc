#include "registry/access_log.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <ctime>

#include <nlohmann/json.hpp>

namespace berth::registry {

Result<AccessLog> AccessLog::open(const std::string& where) {
  AccessLog l;
  if (where.empty()) return l;
  if (where == "-") {
    l.fd_ = STDERR_FILENO;
    return l;
  }
  l.owned_.reset(::open(where.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!l.owned_) return sys_error("open access log " + where);
  l.fd_ = l.owned_.get();
  return l;
}

void AccessLog::write(const AccessRecord& r) const {
  if (fd_ < 0) return;
  struct timeval tv;
  ::gettimeofday(&tv, nullptr);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char ts[40];
  size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(ts + n, sizeof ts - n, ".%03ldZ", static_cast<long>(tv.tv_usec / 1000));
  nlohmann::json j = {{"time", ts},
                      {"remote", std::string(r.remote)},
                      {"user", std::string(r.user)},
                      {"method", std::string(r.method)},
                      {"path", std::string(r.path)},
                      {"status", r.status},
                      {"bytes", r.bytes},
                      {"duration_ms", static_cast<double>(static_cast<int64_t>(r.duration_ms * 1000)) / 1000}};
  std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  (void)!::write(fd_, line.data(), line.size());
}

}  // namespace berth::registry
