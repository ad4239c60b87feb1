// Fuzzes the event journal reader (a hostile events.jsonl). Invariants: an
// event that parses serialises to one line that parses back to the same
// event; filters and the text form never fail on what the reader accepts.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "journal/events.h"

using namespace berth::journal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  static const EventFilter filter = [] {
    auto f = parse_event_filters({"container=web", "container=4f2d", "type=container", "label=a=b", "image=busybox"});
    return f.ok() ? *f : EventFilter{};
  }();
  size_t pos = 0;
  while (pos < in.size()) {
    size_t nl = in.find('\n', pos);
    std::string_view line = in.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    Event e;
    if (parse_event_line(line, e)) {
      std::string json = event_json(e);
      if (json.find('\n') != std::string::npos) std::abort();
      Event back;
      if (!parse_event_line(json, back) || back.type != e.type || back.action != e.action || back.id != e.id ||
          back.attributes != e.attributes || back.time_ns != e.time_ns)
        std::abort();
      (void)event_text(e);
      (void)event_matches(e, filter);
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return 0;
}
