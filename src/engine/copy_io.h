// berth/engine (internal to copy.cc and volumes.cc): the moving parts of
// `berth cp` — a source (a directory tree read through fds, or a tar stream)
// pushes entries into a sink (a directory written through fds confined by
// layer::detail::Root, or a tar stream).
//
// Safety rules the pieces keep, whoever controls the trees:
//  - a source never follows a symlink below its top: every child is opened
//    O_PATH|O_NOFOLLOW relative to its parent's fd, and data is read through
//    a reopen of that same fd (/proc/self/fd), so a file swapped for a
//    symlink, fifo or device between stat and open is never read through;
//  - a directory sink resolves every parent with Root (RESOLVE_IN_ROOT
//    semantics, no mount crossing) and creates the last component with *at
//    calls that never follow it (O_EXCL|O_NOFOLLOW, AT_SYMLINK_NOFOLLOW,
//    linkat without AT_SYMLINK_FOLLOW); metadata is never applied through a
//    symlink; directory modes/times are applied after their contents;
//  - a tar source cleans names like layer::apply_layer (a leading "/" is
//    rooted at the sink, ".." refused) and refuses hard links to anything
//    it did not create itself.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "layer/resolve.h"

struct archive;  // libarchive

namespace berth::engine::copy_detail {

// Receives the bytes of a regular file, chunk by chunk.
using ChunkFn = std::function<Status(std::string_view)>;
// Feeds a regular file's bytes to `out`.
using DataFn = std::function<Status(const ChunkFn& out)>;

struct Entry {
  // Relative to the sink's base; "" is the base itself (copying the contents
  // of a directory: its own metadata is not applied).
  std::string name;
  struct stat st {};       // type, permission bits, owner, times, size
  std::string symlink;     // S_ISLNK: the target, verbatim
  std::optional<std::string> hardlink;  // a hard link to this earlier entry's name
  DataFn data;             // S_ISREG and not a hard link
  // Regular files and directories: file capabilities and user.* attributes
  // (what Docker's tar carries; SELinux labels and overlay metadata are the
  // host's business, not the copy's).
  std::vector<std::pair<std::string, std::string>> xattrs;
};

// The xattrs a copy carries (see Entry::xattrs).
bool copied_xattr(std::string_view name);

class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status put(const Entry& e) = 0;
  virtual Status finish() = 0;
};

// Who owns what a directory sink creates.
struct Owners {
  enum class Mode { source, fixed, caller } mode = Mode::source;
  uid_t uid = 0;  // Mode::fixed
  gid_t gid = 0;
};

// Writes entries below `base` (a path inside `root`, "" = the root itself).
class DirSink : public Sink {
 public:
  DirSink(layer::detail::Root root, std::string base, Owners owners, std::string label)
      : root_(std::move(root)), base_(std::move(base)), owners_(owners), label_(std::move(label)) {}
  Status put(const Entry& e) override;
  Status finish() override;

  // Missing parent directories of tar entries are created (0755, owners as above).
  bool create_parents = false;
  // Device nodes are created (privileged callers). Off for sinks on the host:
  // a container-made 0666 node for the host's disk must not land in a host
  // directory other users can reach.
  bool devices = true;

 private:
  struct DirMeta {
    std::string name;
    mode_t mode;
    struct timespec times[2];
  };
  std::string in_root(const std::string& name) const;
  Result<UniqueFd> parent(const std::string& rel_dir);
  Status chown_fd(int fd, const struct stat& st);
  Status set_xattrs(int fd, const Entry& e);
  Status put_one(const Entry& e, int pfd, const std::string& leaf);

  layer::detail::Root root_;
  std::string base_;
  Owners owners_;
  std::string label_;
  bool root_user_ = ::geteuid() == 0;
  std::vector<DirMeta> dirs_;
};

// Writes entries as a PAX tar to an fd (not closed).
class TarSink : public Sink {
 public:
  static Result<std::unique_ptr<TarSink>> open(int fd);
  ~TarSink() override;
  Status put(const Entry& e) override;
  Status finish() override;

 private:
  TarSink() = default;
  ::archive* a_ = nullptr;
};

// Reads the object `top` (an O_PATH fd, not followed if it is a symlink) and,
// for a directory, everything below it, pushing entries named top_name,
// top_name/child, ... ("" for top_name emits the children at the base).
Status walk(int top, const std::string& top_name, Sink& sink);

// Extracts a tar stream (gzip/bzip2/xz/zstd compressed or not) from in_fd into the sink.
struct TarLimits {
  uint64_t max_entries = 1'000'000;
  size_t max_path = 4095;
  uint64_t max_bytes = UINT64_MAX;  // regular file data, after decompression
};
Status read_tar(int in_fd, Sink& sink, const TarLimits& limits = {});

// What a container path names, resolved inside the root. `parent` is an
// O_PATH fd of the directory holding leaf_of(rel) (valid when parent_ok), and
// rel the cleaned in-root path after following a final symlink if asked
// (inside the root: absolute targets start at it).
struct Found {
  std::string rel;
  UniqueFd parent;
  bool parent_ok = false;
  bool exists = false;
  struct stat st {};
};
Result<Found> resolve(const layer::detail::Root& root, std::string rel, bool follow_final);
// The object itself, not followed: what stat said may have been swapped since,
// so callers decide on what this fd is.
Result<UniqueFd> open_found(const Found& f);

// Lexical path helpers for container paths: "/a//b/./c/" -> "a/b/c"; ".."
// clamps at the root (as filepath.Clean("/" + p) does for Docker).
std::string clean_in_root(std::string_view p);
std::string parent_of(const std::string& rel);  // "a/b" -> "a", "a" -> ""
std::string leaf_of(const std::string& rel);    // "a/b" -> "b"
std::string join_rel(const std::string& a, const std::string& b);

}  // namespace berth::engine::copy_detail
