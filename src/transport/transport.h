// berth/transport: image names across transports, and copying an image from
// any of them to any other (skopeo copy's model).
//
// Transport names (skopeo's spelling where one exists):
//   docker://REF                    a registry (distribution-spec)
//   berth:REF  or a bare REF        berth's local store (--root)
//   oci:DIR[:TAG]                   an OCI image layout directory
//   oci-archive:FILE[:TAG]          a tar of an OCI image layout
//   docker-archive:FILE[:REF]       docker save / podman save format
// The archive and layout formats are read and written by image/archive.h.
//
// Promises of copy_image():
//  - Content goes through a content store used as the staging area (the local
//    store when one side is berth:, else a temporary store that is removed),
//    so every blob is verified (digest + size) before anything is written to
//    the destination.
//  - Manifests keep their exact bytes and digest unless layers had to be
//    compressed for a registry (then a new manifest is written and says so).
//  - An index source is reduced to the requested platform unless
//    all_platforms is set (then every child manifest is copied).
//  - Into the local store: content is written under a WriteSession (store
//    lock + lease) and the name is set only after everything is verified; a
//    failure names nothing.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "image/descriptor.h"
#include "image/media_types.h"
#include "image/platform.h"
#include "image/reference.h"
#include "transport/registry_client.h"

namespace berth::transport {

enum class Kind { docker, local, oci_dir, oci_archive, docker_archive };
const char* kind_name(Kind k);  // "docker", "berth", "oci", "oci-archive", "docker-archive"

struct ImageName {
  Kind kind = Kind::local;
  // docker (required); local (as a destination, absent = keep the source's
  // name); docker-archive (optional).
  std::optional<image::Reference> ref;
  std::string path;                     // oci, oci-archive, docker-archive
  std::string tag;                      // oci, oci-archive: the ref.name ("" = the only image / "latest" on write)
  std::string str() const;
};

// `bare_is_local`: a string with no transport prefix is a berth: name (the
// CLI's convention); otherwise it is an error.
Result<ImageName> parse_image_name(std::string_view s, bool bare_is_local = true);

// Progress of one copy, reported per blob; implementations must be thread-safe
// (blobs move in parallel).
class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual void blob_start(const image::Descriptor& d, std::string_view verb) {}
  virtual void blob_progress(const image::Descriptor& d, uint64_t done) {}
  // outcome: "done", "skipped: already exists", "mounted", "compressed", ...
  virtual void blob_done(const image::Descriptor& d, std::string_view outcome) {}
  virtual void message(std::string_view line) {}
};

struct CopyOptions {
  RegistryOptions src_registry;
  RegistryOptions dst_registry;
  std::string store_root;  // the local store (berth:)
  image::Platform platform = image::host_platform();
  bool all_platforms = false;
  // Uncompressed layers are compressed with this when written to a registry
  // (podman/skopeo do the same); nullopt leaves them as they are.
  std::optional<image::media::Compression> compression = image::media::Compression::gzip;
  int jobs = 4;  // blobs transferred at once
  ProgressSink* progress = nullptr;
};

struct CopyResult {
  image::Descriptor top;      // what the destination now names (manifest or index)
  image::Descriptor manifest; // the platform manifest (== top unless an index was copied)
  Digest config;              // the image ID
  std::string dest_name;      // the name written (local or registry reference)
};

Result<CopyResult> copy_image(const ImageName& src, const ImageName& dst, const CopyOptions& opts);

}  // namespace berth::transport
