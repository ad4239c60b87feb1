#include "image_lookup.h"

#include <map>

namespace berth::cli {

image::Descriptor to_descriptor(const metadata::Target& t) {
  image::Descriptor d;
  d.media_type = t.media_type;
  d.digest = t.digest;
  d.size = static_cast<uint64_t>(t.size);
  return d;
}

metadata::Target to_target(const image::Descriptor& d) {
  return metadata::Target{d.digest, d.media_type, static_cast<int64_t>(d.size)};
}

std::string untagged_name(const Digest& manifest) { return "<none>@" + manifest.str(); }
bool is_untagged_name(const std::string& name) { return name.rfind("<none>@", 0) == 0; }

Result<Digest> image_id(Store& store, const image::Descriptor& top) {
  TRY_ASSIGN(auto r, image::resolve(store.content(), top));
  return r.manifest.config.digest;
}

static bool is_hex(const std::string& s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return !s.empty();
}

Result<FoundImage> find_image(Store& store, const std::string& what) {
  TRY_ASSIGN(auto all, store.db().list_images());
  auto names_of = [&](const Digest& target) {
    std::vector<metadata::Image> v;
    for (auto& i : all)
      if (i.target.digest == target) v.push_back(i);
    return v;
  };
  // 1. A reference (by name, or name@digest).
  if (auto ref = image::parse_reference(what); ref.ok()) {
    if (ref->digest) {
      for (auto& i : all)
        if (i.target.digest == *ref->digest)
          return FoundImage{names_of(i.target.digest), i, to_descriptor(i.target), false};
    } else {
      for (auto& i : all)
        if (i.name == ref->str()) return FoundImage{names_of(i.target.digest), i, to_descriptor(i.target), true};
      // podman resolves short names to localhost/ when docker.io has nothing.
      if (ref->domain == image::kDefaultDomain && what.find('/') == std::string::npos) {
        std::string local = "localhost/" + ref->path.substr(ref->path.find('/') + 1) + ":" + ref->tag;
        for (auto& i : all)
          if (i.name == local) return FoundImage{names_of(i.target.digest), i, to_descriptor(i.target), true};
      }
    }
  }
  // 2. An image ID (config digest) or a prefix of one, or a manifest digest.
  std::string hex = what;
  if (hex.rfind("sha256:", 0) == 0) hex = hex.substr(7);
  if (hex.size() >= 3 && is_hex(hex)) {
    std::map<std::string, metadata::Image> matches;  // keyed by target digest
    for (auto& i : all) {
      if (i.target.digest.hex().rfind(hex, 0) == 0) matches.emplace(i.target.digest.str(), i);
      auto id = image_id(store, to_descriptor(i.target));
      if (id.ok() && id->hex().rfind(hex, 0) == 0) matches.emplace(i.target.digest.str(), i);
    }
    if (matches.size() > 1)
      return Error(Errc::invalid_argument, "image ID prefix \"" + what + "\" is ambiguous");
    if (matches.size() == 1) {
      auto& i = matches.begin()->second;
      return FoundImage{names_of(i.target.digest), i, to_descriptor(i.target), false};
    }
  }
  return Error(Errc::not_found, "image \"" + what + "\": no such image");
}

}  // namespace berth::cli
