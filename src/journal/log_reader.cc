// read_log / follow_log: CRI log files back into entries.
#include <sys/stat.h>
#include <unistd.h>

#include <deque>

#include "journal/file_tail.h"
#include "journal/log.h"
#include "journal/time.h"

namespace berth::journal {
namespace {

using detail::FileTail;

bool in_range(const LogEntry& e, const LogQuery& q) {
  return (q.since_ns == 0 || e.time_ns >= q.since_ns) && (q.until_ns == 0 || e.time_ns <= q.until_ns);
}

struct Initial {
  std::vector<LogEntry> entries;  // what exists, already filtered and tailed
  LogJoiner joiner;               // follow: records of lines not complete yet
};

Result<std::string> pread_range(int fd, uint64_t start, uint64_t len) {
  std::string buf(len, '\0');
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd, buf.data() + got, len - got, static_cast<off_t>(start + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("read log");
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  buf.resize(got);
  return buf;
}

// `--tail N` without reading the whole log: parse a window at the end of the
// current file, growing it until it holds N entries. The first entry of each
// stream in a window may have lost its head (P records before the window),
// so it is dropped; a larger window brings it back whole. Returns false
// when the current file alone is not enough (the caller reads everything).
Result<bool> tail_window(FileTail& t, const LogQuery& q, bool follow, Initial& init) {
  int fd = t.current_fd();
  if (fd < 0) return false;
  struct stat st;
  if (::fstat(fd, &st) != 0) return sys_error("stat log");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  for (uint64_t w = 64 * 1024;; w *= 4) {
    const uint64_t start = size > w ? size - w : 0;
    TRY_ASSIGN(std::string buf, pread_range(fd, start, size - start));
    size_t end = buf.rfind('\n');
    size_t begin = 0;
    if (start > 0) {
      begin = buf.find('\n');
      if (begin == std::string::npos || begin == end) continue;  // one huge line: grow
      ++begin;
    }
    LogJoiner j;
    std::deque<LogEntry> es;
    bool seen[2] = {start == 0, start == 0}, drop[2] = {false, false};
    auto out = [&](LogEntry&& e) {
      int s = static_cast<int>(e.stream);
      if (drop[s]) {
        drop[s] = false;
        return;
      }
      if (!in_range(e, q)) return;
      es.push_back(std::move(e));
      if (static_cast<int64_t>(es.size()) > q.tail) es.pop_front();
    };
    if (end != std::string::npos) {
      std::string_view data(buf.data() + begin, end + 1 - begin);
      while (!data.empty()) {
        size_t nl = data.find('\n');
        LogRecord r;
        if (parse_log_record(data.substr(0, nl), r)) {
          int s = static_cast<int>(r.stream);
          if (!seen[s]) seen[s] = drop[s] = true;
          j.push(r, out);
        }
        data.remove_prefix(nl + 1);
      }
    }
    if (!follow) j.finish(out);
    if (start > 0) {
      if (static_cast<int64_t>(es.size()) < q.tail) continue;
      // Following: a line still being joined at the end, whose first record
      // in the window may not be its first, would be shown without its head.
      if (follow && ((drop[0] && j.joining(Stream::out)) || (drop[1] && j.joining(Stream::err)))) continue;
    }
    if (static_cast<int64_t>(es.size()) < q.tail && t.has_older()) return false;
    init.entries.assign(std::make_move_iterator(es.begin()), std::make_move_iterator(es.end()));
    init.joiner = std::move(j);
    t.seek_current(end == std::string::npos ? start : start + end + 1);
    return true;
  }
}

Result<Initial> read_initial(FileTail& t, const LogQuery& q, bool follow) {
  Initial init;
  if (q.tail == 0 && follow) {
    // Nothing old to show: start at the end of the last complete line.
    TRY_ASSIGN(bool done, tail_window(t, q, follow, init));
    if (done) return init;
  } else if (q.tail > 0 && q.until_ns == 0) {
    TRY_ASSIGN(bool done, tail_window(t, q, follow, init));
    if (done) return init;
  }
  if (q.tail == 0 && !follow) return init;
  std::deque<LogEntry> es;
  auto out = [&](LogEntry&& e) {
    if (!in_range(e, q)) return;
    es.push_back(std::move(e));
    if (q.tail >= 0 && static_cast<int64_t>(es.size()) > q.tail) es.pop_front();
  };
  TRY(t.poll([&](std::string_view line) {
    LogRecord r;
    if (parse_log_record(line, r)) init.joiner.push(r, out);
    return true;
  }));
  if (!follow) init.joiner.finish(out);
  init.entries.assign(std::make_move_iterator(es.begin()), std::make_move_iterator(es.end()));
  return init;
}

}  // namespace

Result<std::vector<LogEntry>> read_log(const std::string& path, const LogQuery& q) {
  TRY_ASSIGN(FileTail t, FileTail::open(path, true, false));
  TRY_ASSIGN(Initial init, read_initial(t, q, false));
  return std::move(init.entries);
}

Status follow_log(const std::string& path, const LogQuery& q, const std::function<bool(const LogEntry&)>& emit,
                  const std::function<bool()>& finished) {
  TRY_ASSIGN(FileTail t, FileTail::open(path, true, false));
  t.watch();
  TRY_ASSIGN(Initial init, read_initial(t, q, true));
  bool stop = false;
  auto deliver = [&](LogEntry&& e) {
    if (stop || !in_range(e, q)) return;
    if (!emit(e)) stop = true;
  };
  for (auto& e : init.entries) {
    deliver(std::move(e));
    if (stop) return Status{};
  }
  LogJoiner& j = init.joiner;
  for (;;) {
    // finished() before the drain: whatever was written before it turned
    // true is read by the poll below.
    bool fin = finished() || (q.until_ns != 0 && now_ns() > q.until_ns);
    TRY(t.poll([&](std::string_view line) {
      LogRecord r;
      if (parse_log_record(line, r)) j.push(r, deliver);
      return !stop;
    }));
    if (stop) return Status{};
    if (fin) {
      j.finish(deliver);
      return Status{};
    }
    t.wait(250);
  }
}

}  // namespace berth::journal
