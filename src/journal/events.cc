// The event journal's line format, Docker's filters, and merging with logs.
#include "journal/events.h"

#include <nlohmann/json.hpp>

#include "journal/time.h"

namespace berth::journal {
namespace {

using ojson = nlohmann::ordered_json;

const std::string* attr(const Event& e, const char* k) {
  auto it = e.attributes.find(k);
  return it == e.attributes.end() ? nullptr : &it->second;
}

// Docker compares images with and without their tag or digest.
std::string strip_tag(std::string_view ref) {
  ref = ref.substr(0, ref.find('@'));
  size_t colon = ref.rfind(':');
  size_t slash = ref.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) ref = ref.substr(0, colon);
  return std::string(ref);
}

bool match_one(const Event& e, const std::string& key, const std::string& v) {
  if (key == "type") return e.type == v;
  if (key == "event") return e.action == v || std::string_view(e.action).substr(0, e.action.find(':')) == v;
  if (key == "container" || key == "volume" || key == "network") {
    // Docker's fuzzyMatchName: the actor's id, an id prefix, or its name.
    if (e.type != key) return false;
    const std::string* name = attr(e, "name");
    return e.id == v || (!v.empty() && e.id.starts_with(v)) || (name && *name == v);
  }
  if (key == "image") {
    const std::string* name = attr(e, e.type == "image" ? "name" : "image");
    if (e.id == v || strip_tag(e.id) == v) return true;
    return name && (*name == v || strip_tag(*name) == v);
  }
  if (key == "label") {
    size_t eq = v.find('=');
    const std::string* a = attr(e, eq == std::string::npos ? v.c_str() : v.substr(0, eq).c_str());
    return a && (eq == std::string::npos || *a == std::string_view(v).substr(eq + 1));
  }
  return false;
}

bool known_key(std::string_view k) {
  return k == "container" || k == "image" || k == "event" || k == "type" || k == "label" || k == "volume" ||
         k == "network";
}

}  // namespace

Result<EventFilter> parse_event_filters(const std::vector<std::string>& args) {
  EventFilter f;
  for (const auto& a : args) {
    size_t eq = a.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error(Errc::invalid_argument, "bad filter \"" + a + "\": want key=value");
    std::string key = a.substr(0, eq);
    if (!known_key(key))
      return Error(Errc::invalid_argument,
                   "bad filter \"" + a + "\": unknown key (container, image, event, type, label, volume, network)");
    f.filters.emplace(std::move(key), a.substr(eq + 1));
  }
  return f;
}

bool event_matches(const Event& e, const EventFilter& f) {
  for (auto it = f.filters.begin(); it != f.filters.end();) {
    auto range = f.filters.equal_range(it->first);
    const bool all = it->first == "label";  // Docker: every label must match
    bool ok = all;
    for (auto r = range.first; r != range.second; ++r) {
      bool m = match_one(e, r->first, r->second);
      if (all && !m) ok = false;
      if (!all && m) ok = true;
    }
    if (!ok) return false;
    it = range.second;
  }
  return true;
}

std::string event_json(const Event& e) {
  ojson j = ojson::object();
  // Docker fills the pre-1.22 fields for containers and images only.
  if (e.type == "container" || e.type == "image") {
    j["status"] = e.action;
    j["id"] = e.id;
    if (const std::string* img = attr(e, "image"); e.type == "container" && img && !img->empty()) j["from"] = *img;
  }
  j["Type"] = e.type;
  j["Action"] = e.action;
  ojson attrs = ojson::object();
  for (const auto& [k, v] : e.attributes) attrs[k] = v;
  j["Actor"] = {{"ID", e.id}, {"Attributes", std::move(attrs)}};
  j["scope"] = "local";
  int64_t secs = e.time_ns / 1'000'000'000;
  if (e.time_ns < 0 && e.time_ns % 1'000'000'000 != 0) --secs;
  j["time"] = secs;
  j["timeNano"] = e.time_ns;
  // Container-supplied strings (names, labels) need not be UTF-8: replace
  // bad bytes rather than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string event_text(const Event& e) {
  std::string s = format_rfc3339nano(e.time_ns);
  s += ' ';
  s += e.type;
  s += ' ';
  s += e.action;
  s += ' ';
  s += e.id;
  if (!e.attributes.empty()) {
    s += " (";
    bool first = true;
    for (const auto& [k, v] : e.attributes) {  // std::map: sorted by key, as Docker
      if (!first) s += ", ";
      first = false;
      s += k;
      s += '=';
      s += v;
    }
    s += ')';
  }
  return s;
}

bool parse_event_line(std::string_view line, Event& out) {
  if (line.size() > kMaxEventLine) return false;
  try {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return false;
    auto str = [&](const nlohmann::json& o, const char* k, std::string& dst) {
      auto it = o.find(k);
      if (it == o.end() || !it->is_string()) return false;
      dst = it->get<std::string>();
      return true;
    };
    Event e;
    if (!str(j, "Type", e.type) || !str(j, "Action", e.action) || e.type.empty() || e.action.empty()) return false;
    auto actor = j.find("Actor");
    if (actor == j.end() || !actor->is_object() || !str(*actor, "ID", e.id)) return false;
    if (auto a = actor->find("Attributes"); a != actor->end()) {
      if (!a->is_object()) return false;
      for (auto it = a->begin(); it != a->end(); ++it) {
        if (!it->is_string()) return false;
        e.attributes.emplace(it.key(), it->get<std::string>());
      }
    }
    auto tn = j.find("timeNano");
    if (tn != j.end() && tn->is_number_integer()) {
      e.time_ns = tn->get<int64_t>();
    } else {
      auto t = j.find("time");
      if (t == j.end() || !t->is_number_integer()) return false;
      int64_t secs = t->get<int64_t>();
      if (secs > INT64_MAX / 1'000'000'000 || secs < INT64_MIN / 1'000'000'000) return false;
      e.time_ns = secs * 1'000'000'000;
    }
    out = std::move(e);
    return true;
  } catch (...) {
    return false;  // nothing a journal line holds may escape as an exception
  }
}

}  // namespace berth::journal
