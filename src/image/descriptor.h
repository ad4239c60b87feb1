// berth/image: OCI content descriptors and platforms (image-spec v1.1
// descriptor.md, image-index.md "platform").
//
// Promises: a parsed Descriptor has a valid media type (RFC 6838 shape), a
// validated Digest, a non-negative size, and — when it embeds `data` — data
// whose size and digest match. serialize() is deterministic (sorted keys, no
// whitespace) so descriptors berth writes are byte-stable.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "digest/digest.h"

namespace berth::image {

struct Platform {
  std::string architecture;  // "amd64", "arm64", ... (GOARCH values)
  std::string os;            // "linux", "windows", ...
  std::string os_version;
  std::vector<std::string> os_features;
  std::string variant;  // "v8", "v7", ...
  std::vector<std::string> features;

  // "linux/arm64/v8" (variant omitted when empty).
  std::string str() const;
  friend bool operator==(const Platform&, const Platform&) = default;
};

struct Descriptor {
  std::string media_type;
  Digest digest;
  uint64_t size = 0;
  std::vector<std::string> urls;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;
  std::string artifact_type;
  std::optional<std::string> data;  // decoded bytes of the embedded "data" field

  // Convenience: a descriptor for bytes berth is about to write.
  static Descriptor of(std::string_view media_type, std::string_view bytes);
};

// Parses one descriptor document (as the metadata DB or a CLI stores it).
Result<Descriptor> parse_descriptor(std::string_view json);
std::string serialize(const Descriptor& d);

// The bytes a descriptor points at must have its size and digest. `what`
// names the object in the error ("manifest", "layer 3").
Status verify(const Descriptor& d, std::string_view bytes, std::string_view what);

}  // namespace berth::image
