// berth/build (internal to copy*.cc): writing entries into the image rootfs.
//
// Every parent is resolved with layer::detail::Root (RESOLVE_IN_ROOT: the
// image's symlinks are followed as the container would, ".." and absolute
// targets clamped at the rootfs) and the last component is created with *at
// calls that never follow it, so nothing outside the rootfs is touched.
#pragma once

#include <sys/stat.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "build/copy.h"
#include "engine/copy_io.h"
#include "layer/resolve.h"

namespace berth::build::detail {

// What is written: type, mode, times from st; `fd` a readable or O_PATH fd of
// a regular file's data (reopened through /proc, so it is read from offset 0).
struct Item {
  struct stat st {};
  std::string link;  // symlinks
  int fd = -1;
};

class Writer {
 public:
  Writer(layer::detail::Root root, const CopyOptions& o) : root_(std::move(root)), o_(o) {}

  // "" = the rootfs itself; every path is relative to the rootfs, cleaned.
  // Whether rel resolves (inside the rootfs) to an existing directory.
  bool is_dir(const std::string& rel) const;
  // Creates rel's missing directories (0755, the --chown user or root), the
  // last one with `last` when it is created. Returns whether it was created.
  Result<bool> make_dirs(const std::string& rel, const Item* last = nullptr);
  // Writes one entry at rel (its parent must exist). Directories already
  // there are merged into; `apply_dir_meta` says whether their metadata is
  // overwritten (nested directories of a copy: yes, the destination: no).
  Status put(const std::string& rel, const Item& it, bool apply_dir_meta = true);
  // Regular file from memory (heredocs).
  Status put_data(const std::string& rel, const std::string& data, mode_t mode, const struct timespec& mtime);
  // Directory modes and times, deepest first, once their contents are written.
  Status finish();

  const layer::detail::Root& root() const { return root_; }
  uid_t uid() const { return o_.uid.value_or(0); }
  gid_t gid() const { return o_.gid.value_or(0); }

 private:
  struct DirMeta {
    std::string rel;
    mode_t mode;
    struct timespec mtime;
  };
  Result<UniqueFd> parent(const std::string& rel) const;
  Status replace_prepare(int pfd, const std::string& leaf, const std::string& rel, bool want_dir, bool* exists_dir);
  Status set_owner(int fd, const char* path, int flags);
  mode_t mode_of(const struct stat& st) const { return o_.chmod ? (*o_.chmod & 07777) : (st.st_mode & 07777); }

  layer::detail::Root root_;
  const CopyOptions& o_;
  bool root_user_ = ::geteuid() == 0;
  std::vector<DirMeta> dirs_;
};

// Lexical helpers for rootfs paths ("/a//b/./c/" -> "a/b/c", ".." clamped):
// the same ones `berth cp` uses.
using engine::copy_detail::clean_in_root;
using engine::copy_detail::leaf_of;
using engine::copy_detail::parent_of;
inline std::string join_path(const std::string& a, const std::string& b) { return engine::copy_detail::join_rel(a, b); }

// ADD's extras (copy_add.cc).
bool is_url(const std::string& s);
// Whether the file at the O_PATH fd is a tar (plain, gzip, bzip2, xz or
// zstd) with at least one entry: detected by content, as Docker does.
Result<bool> is_archive(int pathfd, const std::string& shown);
// Extracts it into the existing directory rel_dir of the rootfs.
Status extract_archive(int pathfd, const std::string& shown, const std::string& rel_dir, const std::string& rootfs,
                       const CopyOptions& o);
// Downloads url and writes it at rel (or rel/<last URL component> when
// dest_is_dir) with mode 0600 (or --chmod) and the Last-Modified time.
Status add_url(const std::string& url, Writer& w, const std::string& rel, bool dest_is_dir);

}  // namespace berth::build::detail
