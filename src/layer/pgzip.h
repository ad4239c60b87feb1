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
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"

namespace berth::layer::detail {

class ParallelGzip {
 public:
  using Emit = std::function<Status(const void*, size_t)>;
  ParallelGzip(int level, unsigned threads, Emit emit);
  ~ParallelGzip();  // joins a batch still in flight
  Status write(const void* data, size_t len);
  Status finish();

  static constexpr size_t kBlock = 128u << 10;
  static constexpr size_t kDict = 32u << 10;
  static constexpr size_t kBlocksPerThread = 4;

  struct Batch;

 private:
  Status flush_batch(bool final);
  Status complete(Batch& b);  // joins its threads, emits its pieces in order
  int level_;
  unsigned threads_;
  Emit emit_;
  // While one batch is compressed by the threads, the caller fills the next:
  // reading files and hashing overlap with compression, as in pigz.
  std::unique_ptr<Batch> inflight_;
  std::string pending_;  // the next batch's input
  std::string dict_;     // the last kDict bytes before pending_
  uint32_t crc_ = 0;
  uint64_t total_ = 0;
  bool header_done_ = false;
};

}  // namespace berth::layer::detail
