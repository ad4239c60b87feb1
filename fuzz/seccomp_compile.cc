// Arbitrary bytes -> JSON -> seccomp::compile: must return an Error, never crash.
#include <cstddef>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "seccomp/seccomp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  auto r = berth::seccomp::compile(j);
  (void)r;
  return 0;
}
