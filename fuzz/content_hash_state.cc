// Arbitrary bytes as a resumable ingest's saved hash state (a file on disk
// that a crash or a disk may damage): load must reject it or return a hasher
// that keeps working, never crash or over-read.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "content/stream_hash.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (auto alg : {berth::DigestAlg::sha256, berth::DigestAlg::sha512}) {
    auto h = berth::content::detail::load_hash(in, alg);
    if (!h) continue;
    h->update("x", 1);
    if (h->finish().empty()) __builtin_trap();
  }
  return 0;
}
