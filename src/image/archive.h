// berth/image: image archives in and out of the content store.
//
//   load   docker-archive (docker/podman save, skopeo docker-archive:, incl.
//          the legacy <id>/layer.tar layout and Docker 25+ archives), an
//          oci-archive (tar of an OCI image layout), or an OCI layout directory;
//          auto-detected. The tar itself may be gzip/zstd/xz compressed.
//   save   docker-archive, oci-archive, oci-dir; one or more images.
//   import a rootfs tarball (tar, tar.gz, tar.zst; detected by magic) -> image.
//
// Promises:
//  - Archive member names are hostile: they are only ever compared, never
//    used as paths. Every member is streamed straight into a content Writer,
//    hashed on the way, and committed only when its digest is the one its
//    name (blobs/<alg>/<hex>) or the config's diff_ids demand.
//  - load never tags anything: it returns what the caller may tag. A failed
//    load leaves at most verified, unreferenced blobs (collected by GC).
//  - docker-archive layers are stored uncompressed (media type
//    ...layer.v1.tar), so layer digest == diff_id: no recompression on load,
//    and docker-archive save of the same image needs no work.
//  - save writes to a temporary sibling and renames into place: readers see
//    the old file or the complete new one.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "content/store.h"
#include "image/config.h"
#include "image/descriptor.h"
#include "image/platform.h"
#include "image/reference.h"

namespace berth::image {

enum class ArchiveFormat { docker_archive, oci_archive, oci_dir };
// "docker-archive", "oci-archive", "oci-dir" (also "oci").
Result<ArchiveFormat> parse_archive_format(std::string_view s);
const char* archive_format_name(ArchiveFormat f);

// Annotations on index.json entries naming an image (containerd / image-spec).
inline constexpr std::string_view kAnnotationContainerdName = "io.containerd.image.name";
inline constexpr std::string_view kAnnotationRefName = "org.opencontainers.image.ref.name";

struct LoadedImage {
  // From docker-archive RepoTags, or index.json's io.containerd.image.name /
  // a full org.opencontainers.image.ref.name. None for untagged images.
  std::optional<Reference> reference;
  // A bare ref.name that is not a full reference (skopeo "oci:dir:latest").
  std::string ref_name;
  Descriptor descriptor;  // the manifest or index now in the store
};

struct LoadResult {
  ArchiveFormat format;
  std::vector<LoadedImage> images;
};

// Errors name the member or document at fault, not `path`: callers prefix the
// archive's name ("load busybox.tar: ...") as they know it (stdin, a file).
Result<LoadResult> load(content::Store& store, const std::string& path);

struct SaveItem {
  std::optional<Reference> reference;
  Descriptor descriptor;  // manifest or index in the store
};

struct SaveOptions {
  // docker-archive holds one platform; so do OCI formats when an index's
  // other platforms are not all in the store.
  Platform platform = host_platform();
};

Status save(const content::Store& store, const std::vector<SaveItem>& images, ArchiveFormat format,
            const std::string& out, const SaveOptions& opt = {});

struct ImportOptions {
  std::vector<std::string> changes;     // Dockerfile instructions (see change.h)
  Platform platform = host_platform();  // recorded in the config
  std::string created;                  // RFC 3339; empty: now
  std::string comment;                  // history comment (docker import --message)
  std::string source;                   // for history created_by; default: the path
};

struct Imported {
  Descriptor manifest;  // OCI manifest, in the store
  Descriptor config;
  Descriptor layer;  // the tarball as given: tar, tar+gzip or tar+zstd
  Digest diff_id;
};

Result<Imported> import_rootfs(content::Store& store, const std::string& tar_path, const ImportOptions& opt = {});

}  // namespace berth::image
