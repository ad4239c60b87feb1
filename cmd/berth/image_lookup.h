// Finding images in the store the way docker/podman users name them: a
// reference ("busybox", "busybox:1.36", "localhost/x@sha256:..."), a full
// image ID ("sha256:<config hex>"), or an unambiguous ID prefix (>= 3 hex).
#pragma once

#include <string>
#include <vector>

#include "image/reference.h"
#include "image/resolve.h"
#include "metadata/db.h"
#include "store/store.h"

namespace berth::cli {

struct FoundImage {
  std::vector<metadata::Image> names;  // every name pointing at the same target
  metadata::Image record;              // the name that matched (or the first)
  image::Descriptor top;
  bool by_name = false;  // matched a name (rmi then untags just that name)
};

image::Descriptor to_descriptor(const metadata::Target& t);
metadata::Target to_target(const image::Descriptor& d);

// Image ID as docker shows it: the config digest of the resolved manifest.
Result<Digest> image_id(Store& store, const image::Descriptor& top);

// An image without a name still needs a record (a GC root, an `images` row
// showing <none>): it is kept under "<none>@<manifest digest>".
std::string untagged_name(const Digest& manifest);
bool is_untagged_name(const std::string& name);

Result<FoundImage> find_image(Store& store, const std::string& what);

}  // namespace berth::cli
