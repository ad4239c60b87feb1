#include "image/manifest.h"

#include "image/descriptor_json.h"
#include "image/media_types.h"

namespace berth::image {

using detail::json;
using detail::Obj;

bool Manifest::is_docker() const { return media_type == media::kDockerManifest; }
bool Manifest::is_image() const { return media::is_image_config(config.media_type); }
bool Index::is_docker() const { return media_type == media::kDockerManifestList; }

std::string media_type_of(const Manifest& m) {
  return m.media_type.empty() ? std::string(media::kOciManifest) : m.media_type;
}
std::string media_type_of(const Index& ix) {
  return ix.media_type.empty() ? std::string(media::kOciIndex) : ix.media_type;
}

namespace {

enum class Kind { manifest, index };

std::string doc_name(Kind k, const Descriptor* from) {
  std::string s = k == Kind::manifest ? "manifest" : "index";
  if (from) s += " " + from->digest.str();
  return s;
}

// Size limit and descriptor check, before any parsing work.
Status precheck(std::string_view bytes, const Descriptor* from, const std::string& what) {
  if (from && from->size > kMaxManifestSize)
    return Error(Errc::limit, what + ": descriptor size " + std::to_string(from->size) + " is over the limit of " +
                                  std::to_string(kMaxManifestSize) + " bytes");
  if (bytes.size() > kMaxManifestSize)
    return Error(Errc::limit, what + ": document is " + std::to_string(bytes.size()) + " bytes, over the limit of " +
                                  std::to_string(kMaxManifestSize));
  if (from) TRY(verify(*from, bytes, what));
  return Status{};
}

// The schemaVersion/mediaType/shape rules shared by both kinds.
Result<std::string> check_kind(const Obj& o, Kind want, const Descriptor* from) {
  TRY(o.fields({"schemaVersion", "mediaType", "artifactType", "config", "layers", "manifests", "subject", "annotations"}));
  TRY_ASSIGN(int64_t sv, o.int64("schemaVersion", true));
  TRY_ASSIGN(std::string mt, o.str("mediaType"));
  if (mt == media::kDockerSchema1 || mt == media::kDockerSchema1Signed || sv == 1)
    return Error(Errc::unsupported, o.what() + ": Docker schema 1 manifests are not supported (deprecated since 2017)");
  if (sv != 2) return o.err("schemaVersion", "must be 2, got " + std::to_string(sv));

  bool has_manifests = o.raw().contains("manifests");
  bool has_image_fields = o.raw().contains("config") || o.raw().contains("layers");
  if (has_manifests && has_image_fields)
    return o.err("", "has both \"manifests\" and \"config\"/\"layers\": ambiguous manifest/index (CVE-2021-41190)");

  const char* want_name = want == Kind::manifest ? "manifest" : "index";
  if (want == Kind::manifest && has_manifests) return o.err("", "has \"manifests\": it is an index, not a manifest");
  if (want == Kind::index && has_image_fields)
    return o.err("", "has \"config\"/\"layers\": it is a manifest, not an index");

  bool mt_ok = want == Kind::manifest ? media::is_manifest(mt) : media::is_index(mt);
  if (!mt.empty() && !mt_ok) {
    bool other = want == Kind::manifest ? media::is_index(mt) : media::is_manifest(mt);
    if (other) return o.err("mediaType", "declares \"" + mt + "\" but the document is an " + want_name);
    return Error(Errc::unsupported, o.what() + ": mediaType: unknown media type \"" + mt.substr(0, 100) + "\"");
  }
  if (from) {
    bool from_ok = want == Kind::manifest ? media::is_manifest(from->media_type) : media::is_index(from->media_type);
    if (!from_ok)
      return Error(Errc::invalid_input, o.what() + ": referring descriptor says \"" + from->media_type.substr(0, 100) +
                                            "\" but the document is an " + want_name);
    if (!mt.empty() && mt != from->media_type)
      return Error(Errc::invalid_input, o.what() + ": declares mediaType \"" + mt + "\" but the referring descriptor says \"" +
                                            from->media_type + "\"");
    std::string oci = std::string(want == Kind::manifest ? media::kOciManifest : media::kOciIndex);
    if (mt.empty() && from->media_type != oci)
      return Error(Errc::invalid_input, o.what() + ": has no mediaType but the referring descriptor says \"" +
                                            from->media_type + "\"");
  }
  return mt;
}

Result<Manifest> read_manifest(const Obj& o, const Descriptor* from) {
  Manifest m;
  TRY_ASSIGN(m.media_type, check_kind(o, Kind::manifest, from));
  TRY_ASSIGN(m.artifact_type, o.str("artifactType"));
  if (!m.artifact_type.empty() && !media::valid_media_type(m.artifact_type))
    return o.err("artifactType", "\"" + m.artifact_type.substr(0, 100) + "\" is not a valid media type");
  TRY_ASSIGN(Obj co, o.obj("config"));
  TRY_ASSIGN(m.config, detail::read_descriptor(co));
  if (!o.raw().contains("layers")) return o.err("layers", "required field is missing");
  TRY_ASSIGN(auto layers, o.obj_array("layers"));
  m.layers.reserve(layers.size());
  for (const auto& lo : layers) {
    TRY_ASSIGN(Descriptor d, detail::read_descriptor(lo));
    m.layers.push_back(std::move(d));
  }
  if (o.has("subject")) {
    TRY_ASSIGN(Obj so, o.obj("subject"));
    TRY_ASSIGN(Descriptor s, detail::read_descriptor(so));
    m.subject = std::move(s);
  }
  TRY_ASSIGN(m.annotations, o.str_map("annotations"));

  // Unknown layer media types are not an error here: image-spec says tools
  // storing or copying manifests MUST NOT fail on them (attestations, SBOMs).
  // resolve() refuses them when an image is about to be unpacked.
  return m;
}

Result<Index> read_index(const Obj& o, const Descriptor* from) {
  Index ix;
  TRY_ASSIGN(ix.media_type, check_kind(o, Kind::index, from));
  TRY_ASSIGN(ix.artifact_type, o.str("artifactType"));
  if (!o.raw().contains("manifests")) return o.err("manifests", "required field is missing");
  TRY_ASSIGN(auto ms, o.obj_array("manifests"));
  ix.manifests.reserve(ms.size());
  for (const auto& mo : ms) {
    TRY_ASSIGN(Descriptor d, detail::read_descriptor(mo));
    if (ix.is_docker() && !media::is_manifest(d.media_type))
      return mo.err("mediaType", "a Docker manifest list may only point at manifests, got \"" + d.media_type.substr(0, 100) + "\"");
    ix.manifests.push_back(std::move(d));
  }
  if (o.has("subject")) {
    TRY_ASSIGN(Obj so, o.obj("subject"));
    TRY_ASSIGN(Descriptor s, detail::read_descriptor(so));
    ix.subject = std::move(s);
  }
  TRY_ASSIGN(ix.annotations, o.str_map("annotations"));
  return ix;
}

template <class T>
Result<T> finish(Result<T> r, std::string_view bytes) {
  if (!r.ok()) return r;
  r->raw = std::string(bytes);
  r->digest = Digest::of(bytes);
  return r;
}

}  // namespace

Result<Manifest> parse_manifest(std::string_view bytes, const Descriptor* from) {
  std::string what = doc_name(Kind::manifest, from);
  TRY(precheck(bytes, from, what));
  TRY_ASSIGN(json j, detail::parse_json(bytes, what, kMaxManifestSize));
  TRY_ASSIGN(Obj o, Obj::of(j, what, ""));
  return finish(read_manifest(o, from), bytes);
}

Result<Index> parse_index(std::string_view bytes, const Descriptor* from) {
  std::string what = doc_name(Kind::index, from);
  TRY(precheck(bytes, from, what));
  TRY_ASSIGN(json j, detail::parse_json(bytes, what, kMaxManifestSize));
  TRY_ASSIGN(Obj o, Obj::of(j, what, ""));
  return finish(read_index(o, from), bytes);
}

Result<Document> parse_document(std::string_view bytes, const Descriptor* from) {
  Kind k;
  if (from && media::is_manifest(from->media_type)) {
    k = Kind::manifest;
  } else if (from && media::is_index(from->media_type)) {
    k = Kind::index;
  } else if (from) {
    return Error(Errc::unsupported, "document " + from->digest.str() + ": media type \"" +
                                        from->media_type.substr(0, 100) + "\" is neither a manifest nor an index");
  } else {
    std::string what = "document";
    TRY(precheck(bytes, nullptr, what));
    TRY_ASSIGN(json j, detail::parse_json(bytes, what, kMaxManifestSize));
    TRY_ASSIGN(Obj o, Obj::of(j, what, ""));
    TRY_ASSIGN(std::string mt, o.str("mediaType"));
    if (media::is_index(mt))
      k = Kind::index;
    else if (media::is_manifest(mt))
      k = Kind::manifest;
    else if (j.contains("manifests"))
      k = Kind::index;
    else if (j.contains("config") || j.contains("layers") || mt == media::kDockerSchema1 ||
             mt == media::kDockerSchema1Signed)
      k = Kind::manifest;
    else if (!mt.empty())
      return Error(Errc::unsupported, "document: unknown media type \"" + mt.substr(0, 100) + "\"");
    else
      return Error(Errc::invalid_input, "document: neither a manifest (config, layers) nor an index (manifests)");
    if (k == Kind::manifest) {
      TRY_ASSIGN(Manifest m, finish(read_manifest(Obj(j, "manifest", ""), nullptr), bytes));
      return Document(std::move(m));
    }
    TRY_ASSIGN(Index ix, finish(read_index(Obj(j, "index", ""), nullptr), bytes));
    return Document(std::move(ix));
  }
  if (k == Kind::manifest) {
    TRY_ASSIGN(Manifest m, parse_manifest(bytes, from));
    return Document(std::move(m));
  }
  TRY_ASSIGN(Index ix, parse_index(bytes, from));
  return Document(std::move(ix));
}

std::string serialize(const Manifest& m) {
  json j = json::object();
  j["schemaVersion"] = 2;
  if (!m.media_type.empty()) j["mediaType"] = m.media_type;
  if (!m.artifact_type.empty()) j["artifactType"] = m.artifact_type;
  j["config"] = detail::to_json(m.config);
  j["layers"] = json::array();
  for (const auto& l : m.layers) j["layers"].push_back(detail::to_json(l));
  if (m.subject) j["subject"] = detail::to_json(*m.subject);
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  return detail::dump(j);
}

std::string serialize(const Index& ix) {
  json j = json::object();
  j["schemaVersion"] = 2;
  if (!ix.media_type.empty()) j["mediaType"] = ix.media_type;
  if (!ix.artifact_type.empty()) j["artifactType"] = ix.artifact_type;
  j["manifests"] = json::array();
  for (const auto& d : ix.manifests) j["manifests"].push_back(detail::to_json(d));
  if (ix.subject) j["subject"] = detail::to_json(*ix.subject);
  if (!ix.annotations.empty()) j["annotations"] = ix.annotations;
  return detail::dump(j);
}

}  // namespace berth::image
