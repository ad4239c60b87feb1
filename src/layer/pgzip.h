// berth/layer (internal): pigz-style parallel gzip for write_layer.
//
// The stream is cut into fixed 128 KiB blocks; each block is deflated on its
// own (raw deflate, primed with the 32 KiB before it as dictionary, ended with
// a sync flush, the last one with a final block) and the pieces concatenated
// behind one gzip header, with the CRC-32s combined. Block boundaries do not
// depend on the thread count, so the output is byte-identical for any
// `threads`; it differs from single-stream zlib output only in a few flush
// markers (~5 bytes per block).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/error.h"

namespace berth::layer::detail {

class ParallelGzip {
 public:
  using Emit = std::function<Status(const void*, size_t)>;
  ParallelGzip(int level, unsigned threads, Emit emit);
  Status write(const void* data, size_t len);
  Status finish();

  static constexpr size_t kBlock = 128u << 10;
  static constexpr size_t kDict = 32u << 10;

 private:
  Status flush_batch(bool final);
  int level_;
  unsigned threads_;
  Emit emit_;
  std::string pending_;  // up to threads_ blocks of input
  std::string dict_;     // the last kDict bytes before pending_
  uint32_t crc_ = 0;
  uint64_t total_ = 0;
  bool header_done_ = false;
};

}  // namespace berth::layer::detail
