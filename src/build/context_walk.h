// berth/build (internal to context.cc and copy.cc): reading a Source tree
// through fds, with the .dockerignore filter applied the way BuildKit's
// context transfer (fsutil) applies it.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"
#include "build/context.h"

namespace berth::build::detail {

// A path of the source, every symlink but (unless follow_last) the final one
// followed inside the root; `real` is the symlink-free path ("" = the root).
struct Resolved {
  std::string real;
  struct stat st {};
};
// nullopt: missing, a parent is not a directory, or hidden by .dockerignore
// (an excluded symlink on the way counts as missing, as BuildKit never sees it).
Result<std::optional<Resolved>> resolve_source(const Source& src, int rootfd, std::string_view rel, bool follow_last);

// What .dockerignore lets through: the entry itself, or an excluded directory
// an exception pattern may re-include something under.
bool visible(const IgnoreMatcher& ig, const std::string& real, bool is_dir);

struct WalkEntry {
  std::string rel;   // relative to the walked top; "" is the top itself
  std::string real;  // relative to the source root
  struct stat st {};
  std::string link;  // symlinks: the target, verbatim
  int fd = -1;       // O_PATH|O_NOFOLLOW fd of the entry, valid during the call
};
using VisitFn = std::function<Status(const WalkEntry&)>;

// Pre-order (parents first, names sorted), never following a symlink below
// `real_top`. Excluded entries are skipped; an excluded directory that may
// hold re-included entries is reported only just before its first visible
// descendant, as fsutil sends the parents of included files.
Status walk_source(const Source& src, int rootfd, const std::string& real_top, const VisitFn& visit);

// O_PATH|O_NOFOLLOW fd of an already resolved (symlink-free) path.
Result<UniqueFd> open_real(int rootfd, const std::string& real);

std::string proc_fd_path(int fd);

}  // namespace berth::build::detail
