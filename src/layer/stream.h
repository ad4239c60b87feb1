// berth/layer (internal): the byte pipeline under tar extraction.
//
// A worker thread reads the layer blob, hashes the compressed bytes (blob
// digest), decompresses (gzip via ISA-L, zstd via libzstd, or plain tar,
// chosen by magic bytes, never by media type) and hands fixed-size chunks of
// tar bytes to the consumer through a small bounded pool. The consumer hashes
// the tar bytes (diff_id) as it takes them, so decompression and hashing run
// on one core while tar parsing and file writing run on the other.
//
// finish() drains whatever the tar parser did not need (end-of-archive
// padding, trailing blocks) so the digests always cover the whole stream.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"
#include "digest/digest.h"
#include "layer/layer.h"

namespace berth::layer::detail {

struct StreamSummary {
  Compression compression = Compression::none;
  Digest blob_digest;
  Digest diff_id;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
};

class TarStream {
 public:
  static constexpr size_t kChunk = 1u << 20;

  // Takes ownership of fd. max_tar_bytes bounds the decompressed size (zip bombs).
  static Result<std::unique_ptr<TarStream>> start(UniqueFd fd, DigestAlg alg, uint64_t max_tar_bytes);
  ~TarStream();  // stops and joins the worker

  // The next chunk of tar bytes, valid until the following call; empty at the end.
  Result<std::string_view> next();
  // Consumes and hashes the rest of the stream, joins the worker, returns the digests.
  Result<StreamSummary> finish();

  struct Impl;

 private:
  explicit TarStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::layer::detail
