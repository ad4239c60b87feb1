#include "image/json_util.h"

#include <cctype>
#include <set>

namespace berth::image::detail {

namespace {
constexpr int kMaxDepth = 64;

std::string trim_nlohmann(std::string_view w) {
  // "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ..." -> "syntax error ..."
  auto pos = w.find(": ");
  if (pos != std::string_view::npos && w.substr(0, 15) == "[json.exception") w = w.substr(pos + 2);
  return std::string(w.substr(0, 200));
}
}  // namespace

Result<json> parse_json(std::string_view bytes, std::string_view what, size_t limit) {
  if (bytes.size() > limit)
    return Error(Errc::limit, std::string(what) + ": document is " + std::to_string(bytes.size()) +
                                  " bytes, over the limit of " + std::to_string(limit));
  std::vector<std::set<std::string>> keys;
  std::string problem;
  auto cb = [&](int depth, json::parse_event_t ev, json& parsed) -> bool {
    if (!problem.empty()) return false;
    switch (ev) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        [[fallthrough]];
      case json::parse_event_t::array_start:
        if (depth >= kMaxDepth) problem = "nesting deeper than " + std::to_string(kMaxDepth);
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && parsed.is_string() && !keys.back().insert(parsed.get<std::string>()).second)
          problem = "duplicate key \"" + parsed.get<std::string>().substr(0, 64) + "\"";
        break;
      default:
        break;
    }
    return true;
  };
  json j;
  try {
    j = json::parse(bytes.begin(), bytes.end(), cb, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    return Error(Errc::invalid_input, std::string(what) + ": malformed JSON at byte " + std::to_string(e.byte) + ": " +
                                          trim_nlohmann(e.what()));
  } catch (const std::exception& e) {
    return Error(Errc::invalid_input, std::string(what) + ": malformed JSON: " + trim_nlohmann(e.what()));
  }
  if (!problem.empty()) return Error(Errc::invalid_input, std::string(what) + ": " + problem);
  return j;
}

std::string dump(const json& j) {
  // Strings were validated UTF-8 on the way in; "replace" only guards values
  // built from other sources so a bad byte can never throw out of a library.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Obj> Obj::of(const json& j, std::string what, std::string path) {
  if (!j.is_object())
    return Error(Errc::invalid_input, what + ": " + (path.empty() ? std::string("document") : path) +
                                          ": must be a JSON object, got " + j.type_name());
  return Obj(j, std::move(what), std::move(path));
}

std::string Obj::at(std::string_view field) const {
  if (path_.empty()) return std::string(field);
  if (!field.empty() && field[0] == '[') return path_ + std::string(field);
  return path_ + "." + std::string(field);
}

Error Obj::err(std::string_view field, std::string_view msg) const {
  std::string where = field.empty() ? (path_.empty() ? std::string("document") : path_) : at(field);
  return Error(Errc::invalid_input, what_ + ": " + where + ": " + std::string(msg));
}

bool Obj::has(const char* key) const {
  auto it = j_.find(key);
  return it != j_.end() && !it->is_null();
}

static std::string got(const json& v) { return std::string("got ") + v.type_name(); }

Result<std::string> Obj::str(const char* key, bool required) const {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) {
    if (required) return err(key, "required field is missing");
    return std::string();
  }
  if (!it->is_string()) return err(key, "must be a string, " + got(*it));
  return it->get<std::string>();
}

Result<int64_t> Obj::int64(const char* key, bool required, int64_t dflt) const {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) {
    if (required) return err(key, "required field is missing");
    return dflt;
  }
  if (it->is_number_unsigned()) {
    auto v = it->get<uint64_t>();
    if (v > static_cast<uint64_t>(INT64_MAX)) return err(key, "integer out of range");
    return static_cast<int64_t>(v);
  }
  if (it->is_number_integer()) return it->get<int64_t>();
  return err(key, "must be an integer, " + got(*it));
}

Result<bool> Obj::boolean(const char* key) const {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return false;
  if (!it->is_boolean()) return err(key, "must be a boolean, " + got(*it));
  return it->get<bool>();
}

Result<std::optional<std::vector<std::string>>> Obj::opt_str_array(const char* key) const {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return std::optional<std::vector<std::string>>();
  if (!it->is_array()) return err(key, "must be an array of strings, " + got(*it));
  std::vector<std::string> out;
  out.reserve(it->size());
  size_t i = 0;
  for (const auto& e : *it) {
    if (!e.is_string()) return err(std::string(key) + "[" + std::to_string(i) + "]", "must be a string, " + got(e));
    out.push_back(e.get<std::string>());
    i++;
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Result<std::vector<std::string>> Obj::str_array(const char* key) const {
  TRY_ASSIGN(auto v, opt_str_array(key));
  return v ? std::move(*v) : std::vector<std::string>{};
}

Result<std::map<std::string, std::string>> Obj::str_map(const char* key) const {
  std::map<std::string, std::string> out;
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return out;
  if (!it->is_object()) return err(key, "must be an object of strings, " + got(*it));
  for (const auto& [k, v] : it->items()) {
    if (!v.is_string()) return err(std::string(key) + "[\"" + k.substr(0, 64) + "\"]", "must be a string, " + got(v));
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

Result<std::vector<std::string>> Obj::key_set(const char* key) const {
  std::vector<std::string> out;
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return out;
  if (!it->is_object()) return err(key, "must be an object, " + got(*it));
  for (const auto& [k, v] : it->items()) {
    if (!v.is_object() && !v.is_null())
      return err(std::string(key) + "[\"" + k.substr(0, 64) + "\"]", "must be an empty object, " + got(v));
    out.push_back(k);
  }
  return out;
}

Status Obj::fields(std::initializer_list<std::string_view> known) const {
  auto lower_eq = [](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); i++)
      if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
    return true;
  };
  for (const auto& [k, v] : j_.items()) {
    for (auto f : known) {
      if (k == f) break;
      if (lower_eq(k, f))
        return err(k.substr(0, 64), "differs from field \"" + std::string(f) +
                                        "\" only in case (ambiguous: Go parsers match fields case-insensitively)");
    }
  }
  return Status{};
}

Result<Obj> Obj::obj(const char* key) const {
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return err(key, "required field is missing");
  if (!it->is_object()) return err(key, "must be an object, " + got(*it));
  return Obj(*it, what_, at(key));
}

Result<std::vector<Obj>> Obj::obj_array(const char* key) const {
  std::vector<Obj> out;
  auto it = j_.find(key);
  if (it == j_.end() || it->is_null()) return out;
  if (!it->is_array()) return err(key, "must be an array, " + got(*it));
  size_t i = 0;
  for (const auto& e : *it) {
    std::string p = at(std::string(key) + "[" + std::to_string(i++) + "]");
    if (!e.is_object()) return Error(Errc::invalid_input, what_ + ": " + p + ": must be an object, " + got(e));
    out.emplace_back(e, what_, p);
  }
  return out;
}

static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// Standard alphabet with padding (RFC 4648 section 4), as the spec's "data" field requires.
std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    int pad = 0;
    uint32_t v = 0;
    for (size_t k = 0; k < 4; k++) {
      char c = in[i + k];
      if (c == '=') {
        if (i + 4 != in.size() || k < 2) return std::nullopt;
        pad++;
        v <<= 6;
        continue;
      }
      if (pad) return std::nullopt;
      int d = val(c);
      if (d < 0) return std::nullopt;
      v = (v << 6) | uint32_t(d);
    }
    out += char(v >> 16);
    if (pad < 2) out += char((v >> 8) & 0xff);
    if (pad < 1) out += char(v & 0xff);
  }
  return out;
}

}  // namespace berth::image::detail
