// berth/engine: `berth commit` — a container's writable layer as a new image.
//
// Promises: the new layer is the container's overlay upper dir written as a
// deterministic tar (overlay whiteouts turned into OCI ones), on top of the
// container's image's layers; the config is the image's, with what the
// container was run with (command, entrypoint, added env, labels) and the
// --change instructions applied. A running container is frozen while the
// layer is written (unless pause=false), so the copy is consistent. The image
// is named in the same transaction that drops the write lease.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "digest/digest.h"
#include "engine/engine.h"
#include "image/resolve.h"

namespace berth::engine {

struct CommitOptions {
  std::string name;  // normalised reference; "" = untagged
  std::vector<std::string> changes;
  std::string author, message;
  bool pause = true;
};

struct Committed {
  Digest image_id;  // config digest
  Digest manifest;
};

// An overlay upper dir written as a gzip layer into the content store (the
// caller protects the blob with its WriteSession). Shared with the builder.
struct StoredLayer {
  image::Descriptor descriptor;
  Digest diff_id;
  uint64_t uncompressed_size = 0;
};
// overlay_upper=false writes any directory tree as is (a squashed rootfs).
Result<StoredLayer> store_upper_layer(Store& store, const std::string& upper,
                                      std::optional<int64_t> fixed_mtime = std::nullopt, bool overlay_upper = true);

Result<Committed> commit_container(Engine& e, const Container& c, const image::ResolvedImage& base,
                                   const CommitOptions& o);

}  // namespace berth::engine
