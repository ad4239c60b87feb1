// berth/registry: the distribution-spec grammar for names, tags and URL paths.
//
// Promises: a name or tag accepted here matches the distribution-spec v1.1
// grammar exactly (no regex engine: hostile input cannot blow the stack), so
// it is safe as a database key and in a Location header. parse_route() maps
// a request path to one API endpoint or nothing; it never allocates more than
// the path's size.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace berth::registry {

// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*, at most 255 bytes.
bool valid_repo_name(std::string_view name);
// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
bool valid_tag(std::string_view tag);

enum class Endpoint {
  none,
  base,          // /v2/
  catalog,       // /v2/_catalog
  tags_list,     // /v2/<name>/tags/list
  manifest,      // /v2/<name>/manifests/<reference>
  blob,          // /v2/<name>/blobs/<digest>
  upload_start,  // /v2/<name>/blobs/uploads/
  upload,        // /v2/<name>/blobs/uploads/<id>
  referrers,     // /v2/<name>/referrers/<digest>
  token,         // /token (the built-in token service)
};

struct Route {
  Endpoint endpoint = Endpoint::none;
  std::string name;  // repository name, unvalidated (the caller reports NAME_INVALID)
  std::string ref;   // tag, digest or upload id, unvalidated
};

// `path` is the percent-decoded path without the query string.
Route parse_route(std::string_view path);

// Splits "a=1&b=x%2Fy" into decoded pairs (keys may repeat). Returns false on
// malformed percent-encoding.
bool parse_query(std::string_view query, std::multimap<std::string, std::string>* out);
// Percent-decodes; false on malformed escapes or an encoded NUL.
bool percent_decode(std::string_view in, std::string* out);
std::string percent_encode(std::string_view in);  // for Link headers

// "start-end" (inclusive) as used by PATCH Content-Range; also accepts the
// "bytes=" / "bytes " prefixes some clients send.
bool parse_content_range(std::string_view v, uint64_t* start, uint64_t* end);

}  // namespace berth::registry
