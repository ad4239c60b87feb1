// berth/journal: the event journal, one file per store (<root>/events.jsonl).
//
// One JSON object per line in Docker's `docker events --format json` shape:
//
//   {"status":"start","id":"<id>","from":"busybox","Type":"container",
//    "Action":"start","Actor":{"ID":"<id>","Attributes":{"image":"busybox",
//    "name":"x"}},"scope":"local","time":1700000000,"timeNano":1700000000123456789}
//
// Promises:
//  - append_event writes one whole line with one O_APPEND write() under
//    flock(LOCK_EX) on the file, so any number of berth processes can append
//    at once and no line interleaves with another. A line left unterminated
//    by a crash is closed off by the next append, costing only that line.
//  - When the file passes kEventsMaxBytes it is renamed to events.jsonl.1
//    (replacing the previous one) under the same lock; readers read .1 first.
//  - Readers see only complete lines and skip malformed ones; follow_events
//    never repeats or drops an event across a rotation.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/error.h"
#include "journal/log.h"

namespace berth::journal {

inline constexpr uint64_t kEventsMaxBytes = 16u << 20;
// Longest line append_event writes (and a reader accepts).
inline constexpr size_t kMaxEventLine = 256 * 1024;

struct Event {
  std::string type;    // container | image | volume | network
  std::string action;  // create, start, die, "health_status: healthy", "exec_start: sh", ...
  std::string id;      // the actor: container id, image id or reference, volume name
  std::map<std::string, std::string> attributes;  // name, image, exitCode, signal, labels...
  int64_t time_ns = 0;                             // 0: now, when appended
};

// `max_bytes` is the rotation threshold (tests use small ones).
Status append_event(const std::string& path, Event e, uint64_t max_bytes = kEventsMaxBytes);

struct EventFilter {
  int64_t since_ns = 0;  // events at or after; 0: from the start (read) / from now (follow)
  int64_t until_ns = 0;  // events at or before; 0: no bound (follow: forever)
  // Docker's keys: container, image, event, type, label, volume. A key given
  // several times matches any of its values; different keys must all match;
  // `label` is Docker's exception: every label given must match.
  std::multimap<std::string, std::string> filters;
};

// "key=value" arguments of --filter; unknown keys are an error.
Result<EventFilter> parse_event_filters(const std::vector<std::string>& args);
// Whether the event passes the filters (time bounds not included).
bool event_matches(const Event& e, const EventFilter& f);

// events.jsonl.1 then events.jsonl, filtered, in file order.
Result<std::vector<Event>> read_events(const std::string& path, const EventFilter& f);
// With since_ns: the matching events since then, then new ones; without:
// only events appended from now on. Stops when emit returns false, when
// finished() is true (after a last drain) or once the clock passes until_ns.
Status follow_events(const std::string& path, const EventFilter& f, const std::function<bool(const Event&)>& emit,
                     const std::function<bool()>& finished);

// The journal line (no newline), Docker's JSON shape.
std::string event_json(const Event& e);
// Docker's default text line:
// "2026-11-22T01:02:03.123456789Z container start <id> (image=busybox, name=x)"
std::string event_text(const Event& e);
// One journal line back into an Event; false when malformed.
bool parse_event_line(std::string_view line, Event& out);

// `berth events --logs`: events and containers' log lines in one stream.
struct ContainerLog {
  std::string container_id;
  LogEntry entry;
};
struct Record {
  int64_t time_ns = 0;
  std::variant<Event, ContainerLog> what;
};
// Ordered by time; equal times keep their input order, events first.
std::vector<Record> merge_records(std::vector<Event> events, std::vector<ContainerLog> logs);

// `berth events --logs` live: the matching events and the given containers'
// log entries since f.since_ns (without since: from now on), then whatever
// is appended to any of them, until emit returns false, finished() is true
// (after a last drain) or the clock passes f.until_ns. Each batch read
// together is emitted in time order; batches follow each other as they
// arrive. `log_for` is asked about every matching event: returning a
// LogSource starts following that container's log too (a container created
// after the command started); asked again for a container already followed
// it is not called.
struct LogSource {
  std::string container_id;
  std::string path;
};
Status follow_records(const std::string& events_path, const EventFilter& f, const std::vector<LogSource>& logs,
                      const std::function<std::optional<LogSource>(const Event&)>& log_for,
                      const std::function<bool(const Record&)>& emit, const std::function<bool()>& finished);

}  // namespace berth::journal
