// berth/registry: what the registry must know about a pushed manifest.
//
// Promise: parse_manifest() accepts only OCI image manifests/indexes and
// Docker schema 2 manifests/lists whose every descriptor carries a valid
// digest and a non-negative size, and whose declared mediaType agrees with
// the request's Content-Type. Anything else is Errc::invalid_input (the
// caller answers MANIFEST_INVALID) with a one-line reason.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "digest/digest.h"

namespace berth::registry {

inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerList = "application/vnd.docker.distribution.manifest.list.v2+json";

struct ManifestInfo {
  std::string media_type;     // the effective media type served back on GET
  std::string artifact_type;  // for referrers: artifactType, else config.mediaType
  bool is_index = false;
  std::optional<Digest> subject;
  std::vector<Digest> blobs;      // config and layers that must be in the repository
  std::vector<Digest> manifests;  // index children that must be in the repository
  std::map<std::string, std::string> annotations;
};

Result<ManifestInfo> parse_manifest(std::string_view body, std::string_view content_type);

}  // namespace berth::registry
