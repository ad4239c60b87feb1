#include "image/descriptor.h"

#include "image/descriptor_json.h"
#include "image/media_types.h"

namespace berth::image {

using detail::json;
using detail::Obj;

std::string Platform::str() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

Descriptor Descriptor::of(std::string_view media_type, std::string_view bytes) {
  Descriptor d;
  d.media_type = std::string(media_type);
  d.digest = Digest::of(bytes);
  d.size = bytes.size();
  return d;
}

Status verify(const Descriptor& d, std::string_view bytes, std::string_view what) {
  if (bytes.size() != d.size)
    return Error(Errc::size_mismatch, std::string(what) + " " + d.digest.str() + ": size is " +
                                          std::to_string(bytes.size()) + " bytes, descriptor says " +
                                          std::to_string(d.size));
  Digest got = Digest::of(bytes, d.digest.alg());
  if (!(got == d.digest))
    return Error(Errc::digest_mismatch,
                 std::string(what) + ": content has digest " + got.str() + ", descriptor says " + d.digest.str());
  return Status{};
}

namespace detail {

Result<Platform> read_platform(const Obj& o) {
  Platform p;
  TRY(o.fields({"architecture", "os", "os.version", "os.features", "variant", "features"}));
  TRY_ASSIGN(p.architecture, o.str("architecture", true));
  TRY_ASSIGN(p.os, o.str("os", true));
  TRY_ASSIGN(p.os_version, o.str("os.version"));
  TRY_ASSIGN(p.os_features, o.str_array("os.features"));
  TRY_ASSIGN(p.variant, o.str("variant"));
  TRY_ASSIGN(p.features, o.str_array("features"));
  if (p.architecture.empty()) return o.err("architecture", "must not be empty");
  if (p.os.empty()) return o.err("os", "must not be empty");
  return p;
}

Result<Descriptor> read_descriptor(const Obj& o) {
  Descriptor d;
  TRY(o.fields({"mediaType", "digest", "size", "urls", "annotations", "platform", "artifactType", "data"}));
  TRY_ASSIGN(d.media_type, o.str("mediaType", true));
  if (!media::valid_media_type(d.media_type))
    return o.err("mediaType", "\"" + d.media_type.substr(0, 100) + "\" is not a valid media type");
  TRY_ASSIGN(std::string dg, o.str("digest", true));
  auto parsed = Digest::parse(dg);
  if (!parsed.ok()) return o.err("digest", parsed.error().message);
  d.digest = std::move(*parsed);
  TRY_ASSIGN(int64_t size, o.int64("size", true));
  if (size < 0) return o.err("size", "must not be negative");
  d.size = static_cast<uint64_t>(size);
  TRY_ASSIGN(d.urls, o.str_array("urls"));
  TRY_ASSIGN(d.annotations, o.str_map("annotations"));
  TRY_ASSIGN(d.artifact_type, o.str("artifactType"));
  if (!d.artifact_type.empty() && !media::valid_media_type(d.artifact_type))
    return o.err("artifactType", "\"" + d.artifact_type.substr(0, 100) + "\" is not a valid media type");
  if (o.has("platform")) {
    TRY_ASSIGN(Obj po, o.obj("platform"));
    TRY_ASSIGN(Platform p, read_platform(po));
    d.platform = std::move(p);
  }
  if (o.has("data")) {
    TRY_ASSIGN(std::string b64, o.str("data"));
    auto raw = base64_decode(b64);
    if (!raw) return o.err("data", "is not valid base64");
    if (raw->size() != d.size)
      return o.err("data", "decodes to " + std::to_string(raw->size()) + " bytes but size is " + std::to_string(d.size));
    if (!(Digest::of(*raw, d.digest.alg()) == d.digest)) return o.err("data", "does not match digest " + d.digest.str());
    d.data = std::move(*raw);
  }
  return d;
}

json to_json(const Platform& p) {
  json j = json::object();
  j["architecture"] = p.architecture;
  j["os"] = p.os;
  if (!p.os_version.empty()) j["os.version"] = p.os_version;
  if (!p.os_features.empty()) j["os.features"] = p.os_features;
  if (!p.variant.empty()) j["variant"] = p.variant;
  if (!p.features.empty()) j["features"] = p.features;
  return j;
}

json to_json(const Descriptor& d) {
  json j = json::object();
  j["mediaType"] = d.media_type;
  j["digest"] = d.digest.str();
  j["size"] = d.size;
  if (!d.urls.empty()) j["urls"] = d.urls;
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  if (d.platform) j["platform"] = to_json(*d.platform);
  if (!d.artifact_type.empty()) j["artifactType"] = d.artifact_type;
  if (d.data) j["data"] = base64_encode(*d.data);
  return j;
}

}  // namespace detail

Result<Descriptor> parse_descriptor(std::string_view bytes) {
  TRY_ASSIGN(json j, detail::parse_json(bytes, "descriptor", 1 << 20));
  TRY_ASSIGN(Obj o, Obj::of(j, "descriptor", ""));
  return detail::read_descriptor(o);
}

std::string serialize(const Descriptor& d) { return detail::dump(detail::to_json(d)); }

}  // namespace berth::image
