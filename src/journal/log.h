// berth/journal: container log files in the CRI log format.
//
// One record per line, as kubelet and conmon's k8s-file driver write them:
//
//   2026-11-22T01:02:03.123456789Z stdout F hello
//
// `F` ends a line; `P` is a piece of a longer line (over kMaxRecord bytes, or
// an unterminated line written out by flush()). A reader joins P records
// with the following F record of the same stream into one LogEntry.
//
// Promises:
//  - LogWriter loses nothing it was handed once flush() returned: partial
//    lines are written as P records, each batch is one O_APPEND write(), and
//    flush() fdatasyncs. Every line carries the time its first byte arrived.
//  - Rotation renames path -> path.1 (path.1 -> path.2 ...) before a write
//    would take the file over max_bytes; at most max_files files exist.
//  - Readers skip malformed lines (hostile or torn files) and never fail on
//    content; follow_log neither loses nor repeats records across rotation
//    (it tracks the open file, not the name) and stops only after draining
//    the file once finished() has said true.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace berth::journal {

enum class Stream { out = 0, err = 1 };
const char* stream_name(Stream s);  // "stdout" / "stderr"

// Lines longer than this are written as several records.
inline constexpr size_t kMaxRecord = 16 * 1024;
// A reader stops joining P records beyond this and emits what it has.
inline constexpr size_t kMaxJoined = 1024 * 1024;

struct LogLimits {
  uint64_t max_bytes = 10u << 20;  // per file; 0: never rotate
  int max_files = 2;               // including the current file; <= 1: rotation unlinks it
};

class LogWriter {
 public:
  static Result<LogWriter> open(const std::string& path, LogLimits limits = {});
  LogWriter(LogWriter&&) noexcept = default;
  LogWriter& operator=(LogWriter&&) noexcept = default;
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;
  // Best effort: pending partial lines are written (not synced).
  ~LogWriter();

  // A chunk exactly as read from the container's pipe or pty.
  Status write(Stream s, std::string_view bytes);
  // Writes pending partial lines as P records and, with `sync`, fdatasyncs.
  // The monitor calls flush() at EOF; flush(false) when its pipes go idle
  // makes an unterminated prompt visible to `logs -f` without a disk sync.
  Status flush(bool sync = true);
  // flush() and close the file.
  Status close();

  const std::string& path() const { return path_; }

 private:
  struct Pending {
    std::string bytes;     // the current line's bytes not yet written
    int64_t time_ns = 0;   // when its first byte arrived
    bool open = false;     // a line is in progress (bytes may be empty after a P record)
  };
  LogWriter(std::string path, LogLimits limits, UniqueFd fd, uint64_t size)
      : path_(std::move(path)), limits_(limits), fd_(std::move(fd)), size_(size) {}
  Status add_line(int64_t t, Stream s, bool partial, std::string_view content);
  Status add_record(int64_t t, Stream s, bool partial, std::string_view content);
  Status emit_pending(Stream s);
  Status write_batch();
  Status rotate();

  std::string path_;
  LogLimits limits_;
  UniqueFd fd_;
  uint64_t size_ = 0;
  Pending pending_[2];
  std::string batch_;
  std::string stamp_;  // the formatted time of stamp_ns_
  int64_t stamp_ns_ = 0;
};

struct LogEntry {
  int64_t time_ns = 0;  // when the line's first byte arrived
  Stream stream = Stream::out;
  std::string text;     // the joined line, no trailing newline
  // The text does not end a line: the last record was P (unterminated output
  // at the end of the log, or a line longer than kMaxJoined, cut).
  bool partial_at_end = false;
};

struct LogQuery {
  int64_t since_ns = 0;  // entries at or after; 0: no bound
  int64_t until_ns = 0;  // entries at or before; 0: no bound
  int64_t tail = -1;     // the last N entries that pass since/until; -1: all
};

// path.N ... path.1 then path, joined across files. A missing log is empty.
// With tail and no until, reads only the end of the current file when it
// holds enough entries.
Result<std::vector<LogEntry>> read_log(const std::string& path, const LogQuery& q);

// Emits what read_log would, then new entries as they are written, until
// emit returns false or finished() is true and the log is drained to its
// end. A trailing partial entry is emitted when finished. Wakes on inotify
// events and at least every 250 ms to re-check finished().
Status follow_log(const std::string& path, const LogQuery& q, const std::function<bool(const LogEntry&)>& emit,
                  const std::function<bool()>& finished);

// `berth logs` output: the text and "\n", after the record's time and a
// space with `timestamps` (Docker's --timestamps).
std::string format_entry(const LogEntry& e, bool timestamps);

// --- The format itself (for the readers above, tests and the fuzzers) ---

struct LogRecord {
  int64_t time_ns = 0;
  Stream stream = Stream::out;
  bool partial = false;
  std::string_view content;
};
// One line without its '\n'; false when malformed.
bool parse_log_record(std::string_view line, LogRecord& out);

// Joins records into entries, per stream, in file order.
class LogJoiner {
 public:
  // Calls `out` for each entry completed by this record.
  void push(const LogRecord& r, const std::function<void(LogEntry&&)>& out);
  // Emits entries still waiting for their F record, marked partial_at_end.
  void finish(const std::function<void(LogEntry&&)>& out);
  // Whether a stream has P records waiting for their F record.
  bool joining(Stream s) const { return active_[static_cast<int>(s)]; }

 private:
  LogEntry pending_[2];
  bool active_[2] = {false, false};
};

// Every entry in a whole log file's bytes; malformed lines skipped, and so is
// a last line without its newline (a write in progress, or torn by a crash).
std::vector<LogEntry> parse_log(std::string_view data);

}  // namespace berth::journal
