// Fuzzes the CRI log reader (a hostile or torn ctr.log) and the time
// parsers behind --since/--until. Invariants: entries never hold a newline
// or exceed the join cap; a parsed record re-serialises to a line that
// parses back the same; format/parse of a parsed time round-trips.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "journal/log.h"
#include "journal/time.h"

using namespace berth::journal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (const LogEntry& e : parse_log(in)) {
    if (e.text.find('\n') != std::string::npos || e.text.size() > kMaxJoined) std::abort();
    (void)format_entry(e, true);
  }
  size_t pos = 0;
  while (pos < in.size()) {
    size_t nl = in.find('\n', pos);
    std::string_view line = in.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    LogRecord r;
    if (parse_log_record(line, r)) {
      std::string again = format_rfc3339nano(r.time_ns) + (r.stream == Stream::err ? " stderr " : " stdout ") +
                          (r.partial ? "P " : "F ") + std::string(r.content);
      LogRecord r2;
      if (!parse_log_record(again, r2) || r2.time_ns != r.time_ns || r2.stream != r.stream ||
          r2.partial != r.partial || r2.content != r.content)
        std::abort();
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  if (size < 128) {
    if (auto t = parse_rfc3339(in); t.ok()) {
      auto back = parse_rfc3339(format_rfc3339nano(*t));
      if (!back.ok() || *back != *t) std::abort();
    }
    (void)parse_duration(in);
    (void)parse_time_arg(in, 1700000000'000000000);
  }
  return 0;
}
