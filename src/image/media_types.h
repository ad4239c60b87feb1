// berth/image: media types of the OCI image-spec v1.1 and Docker schema 2.
//
// Promise: every media type berth accepts for a manifest, index, config or
// layer is named here, and classify_layer() is the single place that says how
// a layer blob is compressed. Anything else is "unknown" and rejected where an
// image (not an artifact) is expected.
#pragma once

#include <string_view>

namespace berth::image::media {

inline constexpr std::string_view kOciDescriptor = "application/vnd.oci.descriptor.v1+json";
inline constexpr std::string_view kOciLayoutHeader = "application/vnd.oci.layout.header.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciLayerNd = "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr std::string_view kOciLayerNdGzip = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kOciLayerNdZstd = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kDockerForeignLayerGzip = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
// Schema 1 is recognised only to be refused with a clear message.
inline constexpr std::string_view kDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";

enum class Compression { none, gzip, zstd };

struct LayerType {
  bool known = false;
  Compression compression = Compression::none;
  bool non_distributable = false;  // OCI nondistributable or Docker foreign
};

inline bool is_manifest(std::string_view mt) { return mt == kOciManifest || mt == kDockerManifest; }
inline bool is_index(std::string_view mt) { return mt == kOciIndex || mt == kDockerManifestList; }
inline bool is_image_config(std::string_view mt) { return mt == kOciConfig || mt == kDockerConfig; }
LayerType classify_layer(std::string_view mt);
// The OCI layer media type for a compression (what berth writes).
std::string_view oci_layer_type(Compression c);
const char* compression_name(Compression c);
// RFC 6838 shape: "type/subtype[+suffix]" with restricted-name characters.
bool valid_media_type(std::string_view mt);

}  // namespace berth::image::media
