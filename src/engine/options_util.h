// berth/engine (internal): small helpers shared by the run-option parsers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/fs.h"

namespace berth::engine::detail {

// "\"value\"" with control bytes escaped, so an error stays one line.
inline std::string quote(std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : s.substr(0, 256)) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
  if (s.size() > 256) out += "...";
  return out + "\"";
}

// `invalid --memory "12x": unknown unit "x"`
inline Error bad(std::string_view flag, std::string_view value, std::string_view why) {
  return Error(Errc::invalid_argument,
               "invalid " + std::string(flag) + " " + quote(value) + ": " + std::string(why));
}

// A whole decimal integer (optional leading '-'), nullopt on anything else or overflow.
inline std::optional<int64_t> parse_int(std::string_view s) {
  bool neg = !s.empty() && s[0] == '-';
  if (neg) s.remove_prefix(1);
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
}

inline bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    if (c < 0x80) n = 0;
    else if (c >= 0xc2 && c <= 0xdf) n = 1;  // 0xc0/0xc1 only start overlong forms
    else if ((c & 0xf0) == 0xe0) n = 2;
    else if (c >= 0xf0 && c <= 0xf4) n = 3;
    else return false;
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; k++)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    // Go's utf8.Valid also refuses overlong forms, surrogates and > U+10FFFF.
    auto c1 = n ? static_cast<unsigned char>(s[i + 1]) : 0;
    if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) || (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f))
      return false;
    i += n + 1;
  }
  return true;
}

// Lexical cleanup of an absolute path, Go's filepath.Clean: "//a/./b/../c/" -> "/a/c".
inline std::string clean_path(std::string_view p) { return path_clean("/" + std::string(p)); }

}  // namespace berth::engine::detail
