// berth/layer (internal): resolving paths inside an untrusted tree.
//
// Every directory lookup the extractor makes goes through Root: it resolves a
// relative path as if the tree's root were "/" (symlinks followed, but ".."
// and absolute targets clamped at the root, no mount crossing), either with
// openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV) or, where the
// kernel lacks openat2, with an equivalent component walk that opens each
// component with O_NOFOLLOW and reads symlinks itself.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"

namespace berth::layer::detail {

class Root {
 public:
  static Result<Root> open(const std::string& dir, bool force_walk = false);
  int fd() const { return fd_.get(); }
  dev_t dev() const { return dev_; }
  bool using_openat2() const { return openat2_; }

  // An O_PATH fd for the directory `rel` ("" is the root itself). Returns -errno
  // on failure (ENOENT, ENOTDIR, ELOOP, EXDEV) so callers can branch cheaply.
  int open_dir(std::string_view rel) const;

 private:
  Root(UniqueFd fd, dev_t dev, bool use2) : fd_(std::move(fd)), dev_(dev), openat2_(use2) {}
  int walk(std::string_view rel) const;
  UniqueFd fd_;
  dev_t dev_ = 0;
  bool openat2_ = true;
};

// Normalizes a tar entry name: strips leading "/" (absolute names are rooted
// at the target, like Docker/containerd), "./" and duplicate slashes; refuses
// ".." components and empty names. "" means the root.
Result<std::string> clean_name(std::string_view raw);


}  // namespace berth::layer::detail
