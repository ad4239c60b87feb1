// libFuzzer: config.json parsing must reject or accept, never crash or throw.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/mount_opts.h"
#include "runtime/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = berth::runtime::parse_spec(text);
  if (spec.ok())
    for (const auto& m : spec->mounts) (void)berth::runtime::parse_mount_options(m.options);
  return 0;
}
