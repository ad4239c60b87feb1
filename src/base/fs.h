// berth/base: small filesystem helpers every concern needs.
//
// Promises: atomic_write_file never leaves a half-written file visible under
// the final name (temp file in the same directory, fsync, rename, fsync dir).
// read_file refuses files larger than the limit instead of exhausting memory.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"

namespace berth {

Status mkdir_p(const std::string& path, mode_t mode = 0755);
Status fsync_dir(const std::string& dir);
Status write_all(int fd, const void* data, size_t len);
// write(2) to a pipe whose reader may be gone: EPIPE instead of a SIGPIPE
// that would kill the calling process (a library must not decide that). The
// signal is blocked on this thread and the one the write raised swallowed.
ssize_t write_nosigpipe(int fd, const void* data, size_t len);
Result<size_t> read_full(int fd, void* buf, size_t len);  // short only at EOF
Status atomic_write_file(const std::string& path, std::string_view data, mode_t mode = 0644);
Result<std::string> read_file(const std::string& path, uint64_t limit = 64ull << 20);
bool path_exists(const std::string& path);
// rm -rf that never follows symlinks and never crosses into another mount.
Status remove_all(const std::string& path);
// The same for `name` inside dirfd; `dev` is the device the walk must stay on.
// Directories are made writable first, so unprivileged callers can empty 0555 dirs.
Status remove_tree_at(int dirfd, const char* name, dev_t dev);
std::string path_join(std::string_view a, std::string_view b);
// Go's filepath.Clean, lexically: "//a/./b/../c/" -> "/a/c", "a/../../b" ->
// "../b", "" -> "."; ".." never climbs above a leading "/".
std::string path_clean(std::string_view p);
std::string dirname_of(const std::string& path);
// A process-unique name for temp files: "<prefix>.<pid>.<random>".
std::string unique_name(std::string_view prefix);

// A temporary directory removed (recursively) on destruction unless released.
class TempDir {
 public:
  static Result<TempDir> create(const std::string& parent, std::string_view prefix = "tmp");
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string release() { return std::exchange(path_, {}); }

 private:
  explicit TempDir(std::string p) : path_(std::move(p)) {}
  std::string path_;
};

}  // namespace berth
