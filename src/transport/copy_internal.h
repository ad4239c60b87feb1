// berth/transport internal: the pieces of copy_image() shared by its files.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "content/store.h"
#include "image/manifest.h"
#include "store/store.h"
#include "transport/registry_client.h"
#include "transport/transport.h"

namespace berth::transport::detail {

struct PlannedManifest {
  image::Descriptor desc;
  image::Manifest manifest;
};

// What is being copied, once the source's documents are in the staging store.
struct Plan {
  image::Descriptor top;               // manifest, or index when copying all platforms
  std::optional<image::Index> index;   // set when top is an index
  std::vector<PlannedManifest> manifests;
  // Where the source lives on a registry (for cross-repository mounts).
  std::string src_domain, src_repo;
  std::optional<image::Reference> src_ref;  // the source's name, when it has one
  std::vector<Digest> all_blobs() const;    // documents, configs, layers (deduplicated)
};

// Runs tasks on up to `jobs` threads; stops starting new ones after the
// first failure, which is returned.
Status run_parallel(int jobs, std::vector<std::function<Status()>>& tasks);

// Sources: leave everything the plan names in `cs`, verified.
Status plan_from_registry(RegistryClient& c, const image::Reference& ref, content::Store& cs, const CopyOptions& o,
                          Plan& plan, const std::function<Status(const Digest&)>& protect);
Status plan_from_store(const content::Store& cs, const image::Descriptor& top, const CopyOptions& o, Plan& plan);
Result<image::Descriptor> load_archive(content::Store& cs, const ImageName& src, std::optional<image::Reference>* name);

// Compresses uncompressed layers for a registry; rewrites the manifest when
// anything changed (the new manifest is put in `cs`). Compressed blobs are
// written to `cs` too.
Status compress_layers(content::Store& cs, Plan& plan, image::media::Compression c, ProgressSink* progress);

}  // namespace berth::transport::detail
