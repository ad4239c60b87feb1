// berth/image internal: strict JSON reading with one-line errors that name the
// document and the field path ("manifest sha256:ab12…: layers[2].size: …").
// Not a public header: nlohmann stays out of the image API.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::image::detail {

using json = nlohmann::json;

// Parses untrusted bytes: refuses more than `limit` bytes, nesting deeper than
// 64, duplicate object keys (two parsers could disagree on which one wins),
// and reports malformed JSON with nlohmann's byte position.
Result<json> parse_json(std::string_view bytes, std::string_view what, size_t limit);

// Compact, key-sorted serialisation (nlohmann's object is a std::map).
std::string dump(const json& j);

// A view on one JSON object under a path, for field-by-field strict reading.
class Obj {
 public:
  Obj(const json& j, std::string what, std::string path) : j_(j), what_(std::move(what)), path_(std::move(path)) {}
  static Result<Obj> of(const json& j, std::string what, std::string path);

  bool has(const char* key) const;  // present and not null
  Error err(std::string_view field, std::string_view msg) const;
  std::string at(std::string_view field) const;  // "layers[2].size"
  const std::string& what() const { return what_; }
  const json& raw() const { return j_; }

  Result<std::string> str(const char* key, bool required = false) const;
  Result<int64_t> int64(const char* key, bool required = false, int64_t dflt = 0) const;
  Result<bool> boolean(const char* key) const;
  Result<std::vector<std::string>> str_array(const char* key) const;
  // Absent or null: nullopt (Docker distinguishes "no Cmd" from "empty Cmd").
  Result<std::optional<std::vector<std::string>>> opt_str_array(const char* key) const;
  Result<std::map<std::string, std::string>> str_map(const char* key) const;
  // {"80/tcp": {}, ...}: keys only; values must be objects (or null).
  Result<std::vector<std::string>> key_set(const char* key) const;
  Result<Obj> obj(const char* key) const;  // must be present
  // Refuses a key that matches one of `known` only when case is ignored: Go's
  // encoding/json (distribution, containerd, Docker) matches struct fields
  // case-insensitively, so {"mediaType":…,"MediaType":…} or a lone "Layers"
  // would mean something else to them than to us.
  Status fields(std::initializer_list<std::string_view> known) const;
  Result<std::vector<Obj>> obj_array(const char* key) const;

 private:
  const json& j_;
  std::string what_;
  std::string path_;
};

std::string base64_encode(std::string_view in);
std::optional<std::string> base64_decode(std::string_view in);

}  // namespace berth::image::detail
