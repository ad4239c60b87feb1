// The CRI log record format: parsing one line, joining P/F records.
#include "journal/log.h"
#include "journal/time.h"

namespace berth::journal {

const char* stream_name(Stream s) { return s == Stream::err ? "stderr" : "stdout"; }

bool parse_log_record(std::string_view line, LogRecord& out) {
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos || sp > 64) return false;
  auto t = parse_rfc3339(line.substr(0, sp));
  if (!t.ok()) return false;
  std::string_view rest = line.substr(sp + 1);
  if (rest.starts_with("stdout ")) out.stream = Stream::out;
  else if (rest.starts_with("stderr ")) out.stream = Stream::err;
  else return false;
  rest.remove_prefix(7);
  // CRI tags are ':'-separated; the first says partial or full.
  size_t tag_end = rest.find(' ');
  std::string_view tags = rest.substr(0, tag_end);
  std::string_view first = tags.substr(0, tags.find(':'));
  if (first == "P") out.partial = true;
  else if (first == "F") out.partial = false;
  else return false;
  out.content = tag_end == std::string_view::npos ? std::string_view{} : rest.substr(tag_end + 1);
  out.time_ns = *t;
  return true;
}

void LogJoiner::push(const LogRecord& r, const std::function<void(LogEntry&&)>& out) {
  int i = static_cast<int>(r.stream);
  LogEntry& e = pending_[i];
  if (!active_[i]) {
    e = LogEntry{};
    e.time_ns = r.time_ns;
    e.stream = r.stream;
    active_[i] = true;
  }
  // A hostile file could chain P records forever; cut at kMaxJoined.
  std::string_view c = r.content;
  while (e.text.size() + c.size() > kMaxJoined) {
    size_t take = kMaxJoined - e.text.size();
    e.text.append(c.substr(0, take));
    c.remove_prefix(take);
    e.partial_at_end = true;
    out(std::move(e));
    e = LogEntry{};
    e.time_ns = r.time_ns;
    e.stream = r.stream;
  }
  e.text.append(c);
  if (!r.partial) {
    e.partial_at_end = false;
    active_[i] = false;
    out(std::move(e));
    e = LogEntry{};
  }
}

void LogJoiner::finish(const std::function<void(LogEntry&&)>& out) {
  // Emit in the order the entries started, so output stays time-ordered.
  int order[2] = {0, 1};
  if (active_[0] && active_[1] && pending_[1].time_ns < pending_[0].time_ns) std::swap(order[0], order[1]);
  for (int i : order) {
    if (!active_[i]) continue;
    pending_[i].partial_at_end = true;
    active_[i] = false;
    out(std::move(pending_[i]));
    pending_[i] = LogEntry{};
  }
}

namespace {
void for_each_line(std::string_view data, const std::function<void(std::string_view)>& fn) {
  size_t pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string_view::npos) return;  // being written, or torn: not a record yet
    fn(data.substr(pos, nl - pos));
    pos = nl + 1;
  }
}

}  // namespace

std::vector<LogEntry> parse_log(std::string_view data) {
  std::vector<LogEntry> v;
  LogJoiner j;
  auto out = [&](LogEntry&& e) { v.push_back(std::move(e)); };
  for_each_line(data, [&](std::string_view line) {
    LogRecord r;
    if (parse_log_record(line, r)) j.push(r, out);
  });
  j.finish(out);
  return v;
}

std::string format_entry(const LogEntry& e, bool timestamps) {
  std::string s;
  s.reserve(e.text.size() + 32);
  if (timestamps) {
    append_rfc3339nano(s, e.time_ns);
    s.push_back(' ');
  }
  s.append(e.text);
  s.push_back('\n');
  return s;
}

}  // namespace berth::journal
