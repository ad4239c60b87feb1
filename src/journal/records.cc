// Events and container logs in one stream: `berth events --logs`.
#include <poll.h>
#include <sys/inotify.h>

#include <algorithm>
#include <memory>
#include <set>

#include "journal/events.h"
#include "journal/file_tail.h"
#include "base/fs.h"
#include "journal/time.h"

namespace berth::journal {
namespace {

using detail::FileTail;

struct LogTail {
  std::string id;
  FileTail tail;
  LogJoiner joiner;
};

void sort_batch(std::vector<Record>& v) {
  std::stable_sort(v.begin(), v.end(), [](const Record& a, const Record& b) { return a.time_ns < b.time_ns; });
}

}  // namespace

std::vector<Record> merge_records(std::vector<Event> events, std::vector<ContainerLog> logs) {
  std::vector<Record> v;
  v.reserve(events.size() + logs.size());
  for (auto& e : events) {
    int64_t t = e.time_ns;
    v.push_back(Record{t, std::move(e)});
  }
  for (auto& l : logs) {
    int64_t t = l.entry.time_ns;
    v.push_back(Record{t, std::move(l)});
  }
  std::stable_sort(v.begin(), v.end(), [](const Record& a, const Record& b) { return a.time_ns < b.time_ns; });
  return v;
}

Status follow_records(const std::string& events_path, const EventFilter& f, const std::vector<LogSource>& logs,
                      const std::function<std::optional<LogSource>(const Event&)>& log_for,
                      const std::function<bool(const Record&)>& emit, const std::function<bool()>& finished) {
  // Without --since only what happens from now on, for logs as for events;
  // logs are read from their start with that bound, so a log whose
  // container appears later is shown whole.
  const bool from_now = f.since_ns == 0;
  const int64_t since = from_now ? now_ns() : f.since_ns;
  auto in_range = [&](int64_t t) { return t >= since && (f.until_ns == 0 || t <= f.until_ns); };

  // One inotify instance for all the directories: a per-file instance each
  // would run into fs.inotify.max_user_instances (128) with many containers.
  // Without it (or a watch) the loop still polls every 250 ms.
  UniqueFd notify(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  std::set<std::string> watched;
  auto watch_dir = [&](const std::string& file) {
    std::string dir = dirname_of(file);
    if (!notify || !watched.insert(dir).second) return;
    (void)::inotify_add_watch(notify.get(), dir.c_str(),
                              IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE);
  };
  watch_dir(events_path);
  TRY_ASSIGN(FileTail ev_tail, FileTail::open(events_path, !from_now, from_now));
  std::vector<std::unique_ptr<LogTail>> tails;
  std::set<std::string> followed;
  auto add_log = [&](const LogSource& s, bool at_end) -> Status {
    if (!followed.insert(s.container_id).second) return Status{};
    watch_dir(s.path);
    TRY_ASSIGN(FileTail t, FileTail::open(s.path, !at_end, at_end));
    tails.push_back(std::make_unique<LogTail>(LogTail{s.container_id, std::move(t), LogJoiner{}}));
    return Status{};
  };
  for (const auto& s : logs) TRY(add_log(s, from_now));

  std::vector<Record> batch;
  std::vector<LogSource> discovered;
  bool stop = false;
  auto flush_batch = [&] {
    sort_batch(batch);
    for (const auto& r : batch)
      if (!stop && !emit(r)) stop = true;
    batch.clear();
  };
  for (;;) {
    bool fin = finished() || (f.until_ns != 0 && now_ns() > f.until_ns);
    TRY(ev_tail.poll([&](std::string_view line) {
      Event e;
      if (!parse_event_line(line, e) || !in_range(e.time_ns) || !event_matches(e, f)) return true;
      if (log_for && e.type == "container" && !followed.count(e.id))
        if (auto s = log_for(e)) discovered.push_back(std::move(*s));
      int64_t t = e.time_ns;
      batch.push_back(Record{t, std::move(e)});
      return true;
    }));
    for (const auto& s : discovered) TRY(add_log(s, false));
    discovered.clear();
    for (auto& lt : tails) {
      auto out = [&](LogEntry&& e) {
        if (!in_range(e.time_ns)) return;
        int64_t t = e.time_ns;
        batch.push_back(Record{t, ContainerLog{lt->id, std::move(e)}});
      };
      TRY(lt->tail.poll([&](std::string_view line) {
        LogRecord r;
        if (parse_log_record(line, r)) lt->joiner.push(r, out);
        return true;
      }));
      if (fin) lt->joiner.finish(out);
    }
    flush_batch();
    if (stop || fin) return Status{};
    // Sleep until anything in those directories changes, or 250 ms to
    // re-check finished(); spurious wakeups only cost a poll of each file.
    struct pollfd p = {notify.get(), POLLIN, 0};
    ::poll(notify ? &p : nullptr, notify ? 1 : 0, 250);
    if (notify) {
      alignas(struct inotify_event) char buf[8192];
      while (::read(notify.get(), buf, sizeof buf) > 0) {
      }
    }
  }
}

}  // namespace berth::journal
