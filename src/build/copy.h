// berth/build: COPY and ADD — files from a Source into a root filesystem,
// with Docker's rules (docs/build.md records each one).
//
// Rules (as the Dockerfile reference and BuildKit's copy op have them):
//  - Several sources, or a wildcard, need a destination ending in "/" (or an
//    existing directory): "When using COPY with more than one source file,
//    the destination must be a directory and end with a /".
//  - A directory source copies its *contents*, not the directory itself.
//  - A relative destination is relative to WORKDIR; missing parent
//    directories are created (0755, owned by the chown user when --chown is
//    given, else root).
//  - Copied entries keep their mode (unless --chmod, which takes octal as
//    BuildKit does) and mtime; owners become 0:0 unless --chown. Symlinks are
//    copied as symlinks, never followed (the source root is the boundary).
//  - ADD of a local archive (tar, tar.gz, tar.bz2? no: gzip/zstd/xz as
//    libarchive reads them, detected by content, not name) extracts it into
//    the destination (layer::apply_layer-grade safety); anything else is a
//    plain copy. ADD of a URL (http://, https://, git@...) fails with
//    "ADD <url>: remote sources are not supported without network" unless
//    fetching works (libcurl; with a 30 s timeout): the error names the URL.
//  - Destination paths resolve inside `rootfs` (openat2 RESOLVE_IN_ROOT): a
//    symlink in the image pointing at "/" or "../../" never lets a COPY
//    write outside rootfs.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "build/context.h"

namespace berth::build {

struct CopyOptions {
  std::optional<uid_t> uid;   // --chown, resolved by the caller (engine::resolve_user on rootfs)
  std::optional<gid_t> gid;
  std::optional<mode_t> chmod;  // --chmod=0755 (octal); applies to files and dirs copied
  bool add = false;             // ADD: local archives are extracted
  std::string workdir = "/";    // for relative destinations
};

// Copies the already-matched `paths` (Source::match) of `src` to `dest`
// (unexpanded? no: expanded by the caller) inside the root filesystem `rootfs`.
Status copy_into(const Source& src, const std::vector<std::string>& paths, const std::string& rootfs,
                 const std::string& dest, const CopyOptions& o);

// COPY <<EOF /dest: a file with `content` at dest (same destination rules,
// mode 0644 unless --chmod).
Status write_heredoc_file(const std::string& rootfs, const std::string& dest, const std::string& name,
                          const std::string& content, const CopyOptions& o);

}  // namespace berth::build
