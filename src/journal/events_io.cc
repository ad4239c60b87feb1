// Appending to, reading and following the event journal.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "journal/events.h"
#include "journal/file_tail.h"
#include "journal/time.h"

namespace berth::journal {
namespace {

bool in_range(const Event& e, const EventFilter& f) {
  return (f.since_ns == 0 || e.time_ns >= f.since_ns) && (f.until_ns == 0 || e.time_ns <= f.until_ns);
}

}  // namespace

Status append_event(const std::string& path, Event e, uint64_t max_bytes) {
  if (e.type.empty() || e.action.empty())
    return Error(Errc::invalid_argument, "event for " + path + ": type and action are required");
  // Retries cover another process rotating the file while we waited for
  // its lock; a bound keeps a pathological loop from spinning forever.
  for (int attempt = 0; attempt < 64; ++attempt) {
    // Read access too: the last byte tells whether a crash left a torn line.
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
    if (!fd) return sys_error("open event journal " + path);
    while (::flock(fd.get(), LOCK_EX) != 0) {
      if (errno != EINTR) return sys_error("lock event journal " + path);
    }
    struct stat fst, pst;
    if (::fstat(fd.get(), &fst) != 0) return sys_error("stat event journal " + path);
    if (::stat(path.c_str(), &pst) != 0 || pst.st_ino != fst.st_ino || pst.st_dev != fst.st_dev)
      continue;  // rotated away while we waited: lock the new file instead
    // Stamped under the lock, so the file is in time order (clock steps aside).
    if (e.time_ns == 0) e.time_ns = now_ns();
    std::string line;
    if (fst.st_size > 0) {
      char last = '\n';
      if (::pread(fd.get(), &last, 1, fst.st_size - 1) != 1) return sys_error("read event journal " + path);
      if (last != '\n') line.push_back('\n');  // close off a torn line
    }
    line += event_json(e);
    line += '\n';
    if (line.size() > kMaxEventLine)
      return Error(Errc::limit, "event " + e.type + " " + e.action + " " + e.id + ": line over 256 KiB");
    if (fst.st_size > 0 && static_cast<uint64_t>(fst.st_size) + line.size() > max_bytes) {
      if (::rename(path.c_str(), (path + ".1").c_str()) != 0) return sys_error("rotate event journal " + path);
      continue;
    }
    Status st = write_all(fd.get(), line.data(), line.size());
    if (!st.ok()) return std::move(st).error().wrap("append to event journal " + path);
    return Status{};
  }
  return Error(Errc::busy, "append to event journal " + path + ": rotated under us too many times");
}

Result<std::vector<Event>> read_events(const std::string& path, const EventFilter& f) {
  TRY_ASSIGN(detail::FileTail t, detail::FileTail::open(path, true, false));
  std::vector<Event> out;
  TRY(t.poll([&](std::string_view line) {
    Event e;
    if (parse_event_line(line, e) && in_range(e, f) && event_matches(e, f)) out.push_back(std::move(e));
    return true;
  }));
  return out;
}

Status follow_events(const std::string& path, const EventFilter& f, const std::function<bool(const Event&)>& emit,
                     const std::function<bool()>& finished) {
  // Without --since, Docker shows only what happens from now on.
  const bool from_now = f.since_ns == 0;
  TRY_ASSIGN(detail::FileTail t, detail::FileTail::open(path, !from_now, from_now));
  t.watch();
  bool stop = false;
  auto on_line = [&](std::string_view line) {
    Event e;
    if (parse_event_line(line, e) && in_range(e, f) && event_matches(e, f) && !emit(e)) stop = true;
    return !stop;
  };
  for (;;) {
    bool fin = finished() || (f.until_ns != 0 && now_ns() > f.until_ns);
    TRY(t.poll(on_line));
    if (stop || fin) return Status{};
    t.wait(250);
  }
}

}  // namespace berth::journal
