// libFuzzer: GC reference extraction over arbitrary blob bytes, under each
// class of media type (must-parse, lenient JSON, sniffed, non-JSON).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "store/gc_walk.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (std::string_view mt : {"application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
                              "application/vnd.docker.container.image.v1+json", "application/vnd.example+json", "",
                              "application/vnd.oci.image.layer.v1.tar"}) {
    auto r = berth::blob_refs(in, mt);
    if (r.ok()) {
      for (const auto& c : r->children) (void)c.digest.str();
      if (r->subject) (void)r->subject->digest.str();
    }
  }
  return 0;
}
