// berth/image: image manifests and indexes (image-spec v1.1 manifest.md,
// image-index.md) and their Docker schema 2 equivalents, mapped to one model.
//
// Promises:
//  - parse_* checks, in this order: the size limit (4 MiB, like
//    distribution), the bytes against the descriptor that pointed at them
//    (size, digest), JSON well-formedness, then the document's shape and
//    media type. Every failure is one line naming the document and field.
//  - A manifest is never an index and vice versa (CVE-2021-41190): a document
//    carrying both `manifests` and `config`/`layers` is rejected, and the
//    declared mediaType, the document's shape and the referring descriptor's
//    mediaType must all agree.
//  - The original bytes and their digest are kept (`raw`, `digest`): callers
//    store and hash those, never a re-serialisation. serialize() is only for
//    documents berth itself creates (sorted keys, no whitespace).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "image/descriptor.h"

namespace berth::image {

inline constexpr size_t kMaxManifestSize = 4 << 20;

struct Manifest {
  int schema_version = 2;
  std::string media_type;  // as declared; "" when an OCI manifest omits it
  std::string artifact_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;

  std::string raw;  // the exact bytes parsed (empty for a manifest built in memory)
  Digest digest;    // digest of raw

  bool is_docker() const;
  // True when config is an OCI or Docker image config (not an artifact), so
  // layers are filesystem changesets.
  bool is_image() const;
};

struct Index {
  int schema_version = 2;
  std::string media_type;
  std::string artifact_type;
  std::vector<Descriptor> manifests;
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;

  std::string raw;
  Digest digest;

  bool is_docker() const;
};

// `from` (optional) is the descriptor that pointed at these bytes: its size,
// digest and media type are checked against them.
Result<Manifest> parse_manifest(std::string_view bytes, const Descriptor* from = nullptr);
Result<Index> parse_index(std::string_view bytes, const Descriptor* from = nullptr);

// When the caller does not know which one it holds (a registry response, an
// index.json entry): the referring descriptor's media type decides, else the
// declared mediaType, else the shape.
using Document = std::variant<Manifest, Index>;
Result<Document> parse_document(std::string_view bytes, const Descriptor* from = nullptr);

std::string serialize(const Manifest& m);
std::string serialize(const Index& ix);

// The media type to put in a descriptor that points at this document.
std::string media_type_of(const Manifest& m);
std::string media_type_of(const Index& ix);

}  // namespace berth::image
