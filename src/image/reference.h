// berth/image: image references, parsed and normalised like Docker and
// containers/image ("busybox" -> "docker.io/library/busybox:latest").
//
// Grammar (distribution/reference): name := [domain "/"] path-component
// ("/" path-component)*; path-component := [a-z0-9]+ (([._]|__|-+)[a-z0-9]+)*;
// domain := host[:port] (host: DNS labels, or [IPv6]); tag :=
// [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; digest := a digest/digest.h Digest.
// The first component is a domain if it has '.' or ':' or is "localhost".
// Promises: a parsed Reference is valid and normalised; str() round-trips.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "digest/digest.h"

namespace berth::image {

inline constexpr std::string_view kDefaultDomain = "docker.io";
inline constexpr std::string_view kDefaultTag = "latest";

struct Reference {
  std::string domain;  // "docker.io", "localhost:5000", "[::1]:5000"
  std::string path;    // "library/busybox"
  std::string tag;     // "" when only a digest was given
  std::optional<Digest> digest;

  std::string name() const { return domain + "/" + path; }  // "docker.io/library/busybox"
  std::string str() const;                                   // name[:tag][@digest]
  // As `docker images` shows a repository: "busybox", "user/app", "quay.io/x/y".
  std::string familiar_name() const;
  std::string familiar() const;  // familiar_name[:tag][@digest]

  friend bool operator==(const Reference& a, const Reference& b) { return a.str() == b.str(); }
};

struct ParseReferenceOptions {
  // Add ":latest" when neither a tag nor a digest is given (docker pull/run).
  bool default_tag = true;
};

Result<Reference> parse_reference(std::string_view s, ParseReferenceOptions opt = {});
bool valid_tag(std::string_view tag);

}  // namespace berth::image
