// Fuzzes manifest validation: hostile JSON must yield a ManifestInfo or an
// error, never a crash, hang or unbounded allocation.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "registry/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // First byte picks the Content-Type the document is checked against.
  static const char* types[] = {"", "application/vnd.oci.image.manifest.v1+json",
                                "application/vnd.oci.image.index.v1+json",
                                "application/vnd.docker.distribution.manifest.v2+json", "text/plain"};
  std::string_view ct = types[size ? data[0] % 5 : 0];
  auto r = berth::registry::parse_manifest(size ? in.substr(1) : in, ct);
  if (r.ok()) {
    for (const auto& d : r->blobs) (void)d.str();
  }
  return 0;
}
