#include "registry/manifest.h"

#include <nlohmann/json.hpp>

namespace berth::registry {

using nlohmann::json;

static Error bad(std::string m) { return Error(Errc::invalid_input, "invalid manifest: " + std::move(m)); }

static bool known_type(std::string_view t) {
  return t == kOciManifest || t == kOciIndex || t == kDockerManifest || t == kDockerList;
}

// Content-Type may carry parameters ("; charset=utf-8") that are not part of the type.
static std::string_view bare_type(std::string_view ct) {
  auto semi = ct.find(';');
  if (semi != std::string_view::npos) ct = ct.substr(0, semi);
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  return ct;
}

struct Desc {
  Digest digest;
  std::string media_type;
  bool foreign = false;  // non-distributable layer with external URLs: may be absent
};

static Result<Desc> descriptor(const json& j, const std::string& where) {
  if (!j.is_object()) return bad(where + " is not an object");
  Desc d;
  auto mt = j.find("mediaType");
  if (mt == j.end() || !mt->is_string()) return bad(where + ".mediaType is missing or not a string");
  d.media_type = mt->get<std::string>();
  auto dg = j.find("digest");
  if (dg == j.end() || !dg->is_string()) return bad(where + ".digest is missing or not a string");
  auto parsed = Digest::parse(dg->get_ref<const std::string&>());
  if (!parsed) return bad(where + ".digest: " + parsed.error().message);
  d.digest = *parsed;
  auto sz = j.find("size");
  if (sz == j.end() || !(sz->is_number_unsigned() || (sz->is_number_integer() && sz->get<int64_t>() >= 0)))
    return bad(where + ".size is missing or not a non-negative integer");
  auto urls = j.find("urls");
  d.foreign = urls != j.end() && urls->is_array() && !urls->empty() &&
              (d.media_type.find("nondistributable") != std::string::npos ||
               d.media_type.find("foreign") != std::string::npos);
  return d;
}

Result<ManifestInfo> parse_manifest(std::string_view body, std::string_view content_type) {
  json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return bad("not valid JSON");
  if (!doc.is_object()) return bad("top level is not an object");
  auto sv = doc.find("schemaVersion");
  if (sv == doc.end() || !sv->is_number_integer() || sv->get<int64_t>() != 2)
    return bad("schemaVersion must be 2");

  ManifestInfo info;
  std::string_view ct = bare_type(content_type);
  auto mt = doc.find("mediaType");
  if (mt != doc.end()) {
    if (!mt->is_string()) return bad("mediaType is not a string");
    info.media_type = mt->get<std::string>();
    if (!ct.empty() && known_type(ct) && ct != info.media_type)
      return bad("Content-Type " + std::string(ct) + " does not match mediaType " + info.media_type);
  } else if (known_type(ct)) {
    info.media_type = std::string(ct);
  } else {
    // Neither says what it is: OCI documents predating image-spec 1.1 may omit mediaType.
    info.media_type = std::string(doc.contains("manifests") ? kOciIndex : kOciManifest);
  }
  if (!known_type(info.media_type)) return bad("unsupported media type \"" + info.media_type.substr(0, 128) + "\"");
  info.is_index = info.media_type == kOciIndex || info.media_type == kDockerList;

  if (info.is_index) {
    auto m = doc.find("manifests");
    if (m == doc.end() || !m->is_array()) return bad("index has no manifests array");
    for (size_t i = 0; i < m->size(); ++i) {
      TRY_ASSIGN(Desc d, descriptor((*m)[i], "manifests[" + std::to_string(i) + "]"));
      info.manifests.push_back(d.digest);
    }
  } else {
    auto c = doc.find("config");
    if (c == doc.end()) return bad("image manifest has no config");
    TRY_ASSIGN(Desc cfg, descriptor(*c, "config"));
    info.blobs.push_back(cfg.digest);
    info.artifact_type = cfg.media_type;
    auto l = doc.find("layers");
    if (l == doc.end() || !l->is_array()) return bad("image manifest has no layers array");
    for (size_t i = 0; i < l->size(); ++i) {
      TRY_ASSIGN(Desc d, descriptor((*l)[i], "layers[" + std::to_string(i) + "]"));
      if (!d.foreign) info.blobs.push_back(d.digest);
    }
  }
  auto at = doc.find("artifactType");
  if (at != doc.end()) {
    if (!at->is_string()) return bad("artifactType is not a string");
    info.artifact_type = at->get<std::string>();
  }
  auto subj = doc.find("subject");
  if (subj != doc.end()) {
    TRY_ASSIGN(Desc s, descriptor(*subj, "subject"));
    info.subject = s.digest;
  }
  auto ann = doc.find("annotations");
  if (ann != doc.end()) {
    if (!ann->is_object()) return bad("annotations is not an object");
    for (auto& [k, v] : ann->items()) {
      if (!v.is_string()) return bad("annotation \"" + k.substr(0, 64) + "\" is not a string");
      info.annotations[k] = v.get<std::string>();
    }
  }
  return info;
}

}  // namespace berth::registry
