// berth/store: extracting references from manifests, indexes and configs.
#include "store/gc_walk.h"

#include <nlohmann/json.hpp>


namespace berth {

using json = nlohmann::json;

std::vector<Digest> chain_ids(std::span<const Digest> diff_ids) {
  std::vector<Digest> out;
  out.reserve(diff_ids.size());
  for (const Digest& d : diff_ids) {
    if (out.empty()) out.push_back(d);
    else out.push_back(Digest::of(out.back().str() + " " + d.str()));
  }
  return out;
}

bool gc_reads_media_type(std::string_view mt) {
  return mt.empty() || mt == "application/json" || (mt.size() > 5 && mt.substr(mt.size() - 5) == "+json") ||
         mt == "application/vnd.docker.distribution.manifest.v1+prettyjws";
}

bool gc_must_parse(std::string_view mt) {
  return mt == "application/vnd.oci.image.index.v1+json" || mt == "application/vnd.oci.image.manifest.v1+json" ||
         mt == "application/vnd.docker.distribution.manifest.list.v2+json" ||
         mt == "application/vnd.docker.distribution.manifest.v2+json" ||
         mt == "application/vnd.oci.image.config.v1+json" || mt == "application/vnd.docker.container.image.v1+json";
}

namespace {

std::optional<GcRef> as_ref(const json& o) {
  if (!o.is_object()) return std::nullopt;
  auto dg = o.find("digest");
  if (dg == o.end() || !dg->is_string()) return std::nullopt;
  auto d = Digest::parse(dg->get_ref<const std::string&>());
  if (!d) return std::nullopt;
  auto mt = o.find("mediaType");
  return GcRef{*d, mt != o.end() && mt->is_string() ? mt->get<std::string>() : ""};
}

}  // namespace

Result<BlobRefs> blob_refs(std::string_view data, std::string_view media_type) {
  BlobRefs out;
  const bool must = gc_must_parse(media_type);
  auto bad = [&](const std::string& why) -> Result<BlobRefs> {
    if (!must) return BlobRefs{};
    return Error(Errc::invalid_input, why);
  };
  if (!gc_reads_media_type(media_type)) return out;
  if (data.size() > kGcMaxJsonBlob) return bad("larger than " + std::to_string(kGcMaxJsonBlob) + " bytes");
  size_t first = data.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || data[first] != '{') return bad("not a JSON object");
  json j = json::parse(data, nullptr, false);
  if (!j.is_object()) return bad("not a JSON object");

  // Below, a malformation in a must-parse type is an error; in any other JSON
  // the offending entry is skipped and the rest still counts (keeping more is
  // the safe direction).
  for (const char* list : {"manifests", "layers", "blobs"}) {
    auto it = j.find(list);
    if (it == j.end()) continue;
    if (!it->is_array()) {
      if (must) return bad(std::string(list) + " is not an array");
      continue;
    }
    for (const auto& o : *it) {
      auto r = as_ref(o);
      if (r) out.children.push_back(std::move(*r));
      else if (must) return bad(std::string(list) + ": descriptor without a valid digest");
    }
  }
  // Docker schema 1 (legacy, signed): layers are fsLayers[].blobSum.
  if (auto it = j.find("fsLayers"); it != j.end() && it->is_array()) {
    for (const auto& o : *it) {
      auto bs = o.is_object() ? o.find("blobSum") : o.end();
      auto d = (o.is_object() && bs != o.end() && bs->is_string()) ? Digest::parse(bs->get_ref<const std::string&>())
                                                                    : Result<Digest>(Error(Errc::invalid_input, ""));
      if (d) out.children.push_back({*d, "application/vnd.docker.image.rootfs.diff.tar.gzip"});
    }
  }
  // An image config also has a `config` member (the runtime settings): only
  // a descriptor-shaped one is followed.
  if (auto it = j.find("config"); it != j.end() && it->is_object() && it->contains("digest")) {
    auto r = as_ref(*it);
    if (r) out.children.push_back(std::move(*r));
    else if (must) return bad("config: descriptor without a valid digest");
  }
  if (auto rf = j.find("rootfs"); rf != j.end() && rf->is_object()) {
    auto ids = rf->find("diff_ids");
    if (ids != rf->end() && ids->is_array()) {
      std::vector<Digest> diffs;
      for (const auto& v : *ids) {
        auto d = v.is_string() ? Digest::parse(v.get_ref<const std::string&>())
                               : Result<Digest>(Error(Errc::invalid_input, "not a string"));
        if (!d) {
          if (must) return Error(Errc::invalid_input, "rootfs.diff_ids: invalid digest");
          break;  // the chain cannot continue past an unknown layer
        }
        diffs.push_back(*d);
      }
      out.snapshots = chain_ids(diffs);
    }
  }
  if (auto s = j.find("subject"); s != j.end()) {
    out.subject = as_ref(*s);
    if (!out.subject && must) return bad("subject: descriptor without a valid digest");
  }
  return out;
}

}  // namespace berth
