#include "image/resolve.h"

#include "image/media_types.h"

namespace berth::image {

Result<Document> read_document(const content::Store& store, const Descriptor& d) {
  if (d.size > kMaxManifestSize)
    return Error(Errc::limit, "manifest " + d.digest.str() + ": size " + std::to_string(d.size) +
                                  " is over the limit of " + std::to_string(kMaxManifestSize) + " bytes");
  TRY_ASSIGN(std::string bytes, store.read_blob(d.digest, kMaxManifestSize));
  return parse_document(bytes, &d);
}

Result<ImageConfig> read_config(const content::Store& store, const Descriptor& d) {
  if (d.size > kMaxConfigSize)
    return Error(Errc::limit, "config " + d.digest.str() + ": size " + std::to_string(d.size) +
                                  " is over the limit of " + std::to_string(kMaxConfigSize) + " bytes");
  TRY_ASSIGN(std::string bytes, store.read_blob(d.digest, kMaxConfigSize));
  return parse_config(bytes, &d);
}

Result<ResolvedImage> resolve(const content::Store& store, const Descriptor& top, const Platform& want) {
  ResolvedImage r;
  r.top = top;
  Descriptor cur = top;
  for (int depth = 0;; depth++) {
    if (depth > 4) return Error(Errc::invalid_input, "index " + top.digest.str() + ": indexes nested more than 4 deep");
    TRY_ASSIGN(Document doc, read_document(store, cur));
    if (auto* ix = std::get_if<Index>(&doc)) {
      TRY_ASSIGN(cur, select_platform(*ix, want));
      continue;
    }
    r.manifest = std::move(std::get<Manifest>(doc));
    r.manifest_descriptor = cur;
    break;
  }
  const Manifest& m = r.manifest;
  std::string what = "manifest " + m.digest.str();
  if (!m.is_image())
    return Error(Errc::unsupported, what + ": an artifact (config media type \"" + m.config.media_type +
                                        "\"), not a runnable image");
  for (size_t i = 0; i < m.layers.size(); i++)
    if (!media::classify_layer(m.layers[i].media_type).known)
      return Error(Errc::unsupported, what + ": layers[" + std::to_string(i) + "]: unknown layer media type \"" +
                                          m.layers[i].media_type.substr(0, 100) + "\"");
  TRY_ASSIGN(r.config, read_config(store, m.config));
  if (r.config.diff_ids.size() != m.layers.size())
    return Error(Errc::invalid_input, what + ": " + std::to_string(m.layers.size()) + " layers but config " +
                                          m.config.digest.str() + " lists " + std::to_string(r.config.diff_ids.size()) +
                                          " diff_ids");
  return r;
}

}  // namespace berth::image
