// berth/image internal: compression sniffing and push-style decompression
// (gzip incl. concatenated members, zstd) for layers streamed through berth.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>

#include "base/error.h"
#include "image/media_types.h"

namespace berth::image::detail {

enum class Sniffed { none, gzip, zstd, xz, bzip2 };
// Needs the first 6 bytes (fewer only at end of stream).
Sniffed sniff(std::string_view head);
const char* sniffed_name(Sniffed s);

using Sink = std::function<Status(const char* data, size_t len)>;

class Decompressor {
 public:
  virtual ~Decompressor() = default;
  // Feeds compressed bytes; decompressed output goes to `sink`.
  virtual Status feed(const char* data, size_t len, const Sink& sink) = 0;
  // Errors if the stream ended early (truncated input).
  virtual Status finish(const Sink& sink) = 0;
  // none: an identity pass-through.
  static Result<std::unique_ptr<Decompressor>> create(media::Compression c, std::string what);
};

}  // namespace berth::image::detail
