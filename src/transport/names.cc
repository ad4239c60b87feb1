// Transport names: "docker://REF", "berth:REF", "oci:DIR[:TAG]", ...
#include "transport/transport.h"

namespace berth::transport {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::docker: return "docker";
    case Kind::local: return "berth";
    case Kind::oci_dir: return "oci";
    case Kind::oci_archive: return "oci-archive";
    case Kind::docker_archive: return "docker-archive";
  }
  return "?";
}

std::string ImageName::str() const {
  switch (kind) {
    case Kind::docker: return "docker://" + (ref ? ref->str() : std::string());
    case Kind::local: return "berth:" + (ref ? ref->str() : std::string());
    case Kind::oci_dir:
    case Kind::oci_archive: return std::string(kind_name(kind)) + ":" + path + (tag.empty() ? "" : ":" + tag);
    case Kind::docker_archive: return "docker-archive:" + path + (ref ? ":" + ref->str() : std::string());
  }
  return "?";
}

Result<ImageName> parse_image_name(std::string_view s, bool bare_is_local) {
  ImageName n;
  auto parse_ref = [&](std::string_view r) -> Status {
    auto p = image::parse_reference(r);
    if (!p.ok()) return std::move(p).error().wrap("image name \"" + std::string(s) + "\"");
    n.ref = std::move(*p);
    return {};
  };
  // Path-based transports split at the first ':' after the prefix, like
  // containers/image does (so paths cannot contain ':').
  auto split_path = [&](std::string_view rest) -> std::pair<std::string, std::string> {
    auto c = rest.find(':');
    if (c == std::string_view::npos) return {std::string(rest), ""};
    return {std::string(rest.substr(0, c)), std::string(rest.substr(c + 1))};
  };
  if (s.starts_with("docker://")) {
    n.kind = Kind::docker;
    TRY(parse_ref(s.substr(9)));
    return n;
  }
  if (s.starts_with("berth:")) {
    n.kind = Kind::local;
    TRY(parse_ref(s.substr(6)));
    return n;
  }
  for (auto [prefix, kind] : {std::pair{std::string_view("oci:"), Kind::oci_dir},
                              std::pair{std::string_view("oci-archive:"), Kind::oci_archive},
                              std::pair{std::string_view("docker-archive:"), Kind::docker_archive}}) {
    if (!s.starts_with(prefix)) continue;
    n.kind = kind;
    auto [path, rest] = split_path(s.substr(prefix.size()));
    if (path.empty()) return Error(Errc::invalid_argument, "image name \"" + std::string(s) + "\": no path");
    n.path = path;
    if (kind == Kind::docker_archive) {
      if (!rest.empty()) TRY(parse_ref(rest));
    } else if (!rest.empty()) {
      // ref.name: image-spec annotations.md grammar (alphanumerics and -._:@/+ separators).
      for (char c : rest)
        if (!std::isalnum(static_cast<unsigned char>(c)) && !std::strchr("-._:@/+", c))
          return Error(Errc::invalid_argument, "image name \"" + std::string(s) + "\": invalid tag \"" + rest + "\"");
      n.tag = rest;
    }
    return n;
  }
  if (s.starts_with("dir:") || s.starts_with("containers-storage:") || s.starts_with("docker-daemon:"))
    return Error(Errc::unsupported, "image name \"" + std::string(s) + "\": transport \"" +
                                        std::string(s.substr(0, s.find(':'))) + "\" is not supported");
  if (!bare_is_local)
    return Error(Errc::invalid_argument, "image name \"" + std::string(s) + "\": no transport (docker://, berth:, oci:, ...)");
  n.kind = Kind::local;
  TRY(parse_ref(s));
  return n;
}

}  // namespace berth::transport
