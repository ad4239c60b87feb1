// berth/engine: `berth cp` — copies between the host and a container's root
// filesystem with Docker's path rules, without ever leaving the rootfs
// (docs/engine-cp-volumes.md).
//
// The caller hands over the rootfs as a host directory (the overlay mount
// <root>/containers/<id>/merged; for a stopped container the engine mounts
// it first). Its contents are controlled by the container, which may be
// running and rewriting it while we copy. Promises, whatever it does
// (CVE-2018-15664, where `docker cp` resolved container paths on the host and
// a symlink swapped in between check and use redirected the copy):
//  - Container paths are resolved inside the rootfs only, as the container
//    sees them: absolute symlinks and ".." stop at the rootfs, no mount is
//    crossed (layer::detail::Root: openat2 RESOLVE_IN_ROOT, or an
//    O_NOFOLLOW component walk). Nothing is done on a host path string built
//    from a container path: every read and write goes through fds obtained
//    that way, and the last component is created/opened without following.
//  - A symlink below the copied top is copied as a symlink, never followed,
//    on either side; a symlink *at* the source is followed only with -L
//    (inside the rootfs for copy_out/copy_out_tar).
//  - Entries of a tar given to copy_in_tar are hostile: names are cleaned
//    ("/x" is rooted at the destination, ".." refused), parents resolved
//    inside the rootfs, hard links only to earlier entries, whiteout names
//    are plain files (cp is not a layer apply).
//
// Docker's path rules (docker container cp --help), SRC -> DEST:
//   file -> missing DEST: created as that file (DEST ending in "/": error)
//   file -> existing file: overwritten;  file -> existing dir: DEST/basename
//   dir  -> missing DEST: created with the contents of SRC
//   dir  -> existing file: "cannot copy a directory to a file"
//   dir  -> existing dir: DEST/basename(SRC), or the contents for "SRC/."
// DEST symlinks are followed (inside the rootfs for copy_in). Existing
// directories are merged; a directory never replaces a file nor the reverse.
// Owners: copy_in creates files owned by the container's root (root_uid/gid),
// copy_out by the caller; archive (-a) keeps the source's numeric uid/gid.
// Modes, times, symlinks, fifos/devices (when privileged) and hard links
// inside the copied tree are kept, and so are security.capability and user.*
// xattrs (what Docker's tar carries; SELinux labels and overlay metadata are not).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/error.h"

namespace berth::engine {

// A directory mounted into the container (a volume's _data, a bind source),
// which the host's view of the rootfs does not show: paths at or below
// `destination` are copied to/from `source` instead.
struct CopyMount {
  std::string destination;  // in the container, e.g. "/data"
  std::string source;       // host directory
  bool read_only = false;
};

struct CopyOptions {
  bool archive = false;      // -a
  bool follow_link = false;  // -L: follow a symlink at SRC
  // For messages ("Could not find the file /x in container NAME").
  std::string container;
  // The container's root user on the host (user namespaces); copy_in owner without -a.
  uid_t root_uid = 0;
  gid_t root_gid = 0;
  // The container's directory mounts. The longest destination that is a
  // lexical prefix of the path (as typed, cleaned) wins; inside a mount,
  // paths resolve with the mount's source as their root. Copies into a
  // read-only mount or a read-only rootfs are refused like Docker does.
  std::vector<CopyMount> mounts;
  bool read_only_rootfs = false;
  // Testing: resolve with the O_NOFOLLOW walk even where openat2 exists.
  bool force_walk_resolver = false;
};

// `berth cp CTR:ctr_path host_dest`
Status copy_out(const std::string& rootfs, const std::string& ctr_path, const std::string& host_dest,
                const CopyOptions& opts);
// `berth cp host_src CTR:ctr_dest`
Status copy_in(const std::string& host_src, const std::string& rootfs, const std::string& ctr_dest,
               const CopyOptions& opts);
// `berth cp CTR:ctr_path -`: a tar of the path to out_fd (not closed), entries
// named basename(ctr_path)/... ("./..." for "dir/." and "/"), numeric owners.
Status copy_out_tar(const std::string& rootfs, const std::string& ctr_path, int out_fd, const CopyOptions& opts);
// `berth cp - CTR:ctr_dest`: extracts a tar (optionally gzip/bzip2/xz/zstd
// compressed) read from in_fd into the existing directory ctr_dest.
Status copy_in_tar(int in_fd, const std::string& rootfs, const std::string& ctr_dest, const CopyOptions& opts);

}  // namespace berth::engine
