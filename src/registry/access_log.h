// berth/registry: one JSON line per request (time, remote, user, method,
// path, status, bytes, duration_ms), appended with a single write(2) so
// lines from concurrent requests never interleave.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"

namespace berth::registry {

struct AccessRecord {
  std::string_view remote, user, method, path;
  int status = 0;
  uint64_t bytes = 0;
  double duration_ms = 0;
};

class AccessLog {
 public:
  // "-" = stderr, "" = disabled, else a file opened for append.
  static Result<AccessLog> open(const std::string& where);
  void write(const AccessRecord& r) const;
  bool enabled() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
  UniqueFd owned_;
};

}  // namespace berth::registry
