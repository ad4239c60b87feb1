// berth/journal (internal): reading a rotating append-only file of lines.
//
// Both the container log and the event journal are files that one or more
// writers append '\n'-terminated lines to, and that are rotated by renaming
// path -> path.1 (-> path.2 ...). FileTail reads them by open file, never by
// name: the file it is reading stays readable after a rename or unlink, and
// a rotation is noticed by the name pointing at a new inode. Lines are
// handed out only once complete, so a line being written is never seen torn.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/fd.h"

namespace berth::journal::detail {

// Lines longer than this (hostile files) are skipped up to their newline.
inline constexpr size_t kMaxLine = 2u << 20;

class FileTail {
 public:
  // Opens path (and, with `rotated`, path.1, path.2, ... oldest read first).
  // With `at_end`, starts after what path holds now (nothing old is read).
  // Missing files are not an error: they are looked for again on poll().
  static Result<FileTail> open(const std::string& path, bool rotated, bool at_end);
  FileTail(FileTail&&) noexcept = default;
  ~FileTail() = default;

  // Hands each complete line (without '\n') available now to on_line, in
  // order, following rotations; stops early when on_line returns false.
  Status poll(const std::function<bool(std::string_view)>& on_line);
  // Sets up the inotify watch wait() sleeps on; call before the first poll()
  // so no change after it goes unnoticed. Without it wait() just sleeps.
  void watch();
  // Sleeps until the directory reports a change to our files, or timeout.
  void wait(int timeout_ms);

  // The current file (for tail windows): -1 when it does not exist yet.
  int current_fd() const { return cur_.fd.get(); }
  // Drops older files and continues the current one at `off` (a line start).
  void seek_current(uint64_t off);
  bool has_older() const { return !older_.empty(); }

 private:
  struct File {
    UniqueFd fd;
    uint64_t off = 0;
    dev_t dev = 0;
    ino_t ino = 0;
  };
  explicit FileTail(std::string path) : path_(std::move(path)) {}
  Result<bool> drain(File& f, const std::function<bool(std::string_view)>& on_line);
  Status rotated_to(File next);

  std::string path_, base_;
  File cur_;
  std::deque<File> older_;  // to read before cur_, oldest first
  // The newest file read so far when cur_ is not open yet (the name was
  // missing): where to resume once the name appears. None: read all.
  bool have_last_ = false;
  dev_t last_dev_ = 0;
  ino_t last_ino_ = 0;
  std::string carry_;       // an incomplete last line of cur_
  bool skipping_ = false;   // dropping an over-long line up to its newline
  UniqueFd inotify_;
};

}  // namespace berth::journal::detail
