// berth/image: from a stored descriptor to the runnable image it names.
//
// Promise: resolve() reads every document through the strict parsers with
// the referring descriptor (size, digest, media type), picks the platform from
// indexes (nested up to 4 deep), and checks what running needs: an image
// config (not an artifact), one diff_id per layer, and layer media types
// berth can unpack.
#pragma once

#include "content/store.h"
#include "image/config.h"
#include "image/manifest.h"
#include "image/platform.h"

namespace berth::image {

struct ResolvedImage {
  Descriptor top;       // what was asked for (manifest or index)
  Descriptor manifest_descriptor;
  Manifest manifest;
  ImageConfig config;
};

Result<ResolvedImage> resolve(const content::Store& store, const Descriptor& top,
                              const Platform& want = host_platform());

// Reads and strictly parses one stored manifest/index/config.
Result<Document> read_document(const content::Store& store, const Descriptor& d);
Result<ImageConfig> read_config(const content::Store& store, const Descriptor& d);

}  // namespace berth::image
