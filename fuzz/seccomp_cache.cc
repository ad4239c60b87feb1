// Arbitrary bytes as a seccomp cache entry: decode must reject or return a
// well-formed Program, never crash or over-read.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "seccomp/cache.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string key(64, '0');
  auto p = berth::seccomp::cache::decode(std::string_view(reinterpret_cast<const char*>(data), size), key);
  if (p && p->filter.empty()) __builtin_trap();
  return 0;
}
