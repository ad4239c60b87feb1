#include "image/media_types.h"

namespace berth::image::media {

LayerType classify_layer(std::string_view mt) {
  using C = Compression;
  struct Row {
    std::string_view mt;
    C c;
    bool nd;
  };
  static constexpr Row rows[] = {
      {kOciLayer, C::none, false},          {kOciLayerGzip, C::gzip, false},
      {kOciLayerZstd, C::zstd, false},      {kOciLayerNd, C::none, true},
      {kOciLayerNdGzip, C::gzip, true},     {kOciLayerNdZstd, C::zstd, true},
      {kDockerLayerGzip, C::gzip, false},   {kDockerLayer, C::none, false},
      {kDockerForeignLayerGzip, C::gzip, true},
  };
  for (const auto& r : rows)
    if (r.mt == mt) return LayerType{true, r.c, r.nd};
  return LayerType{};
}

std::string_view oci_layer_type(Compression c) {
  switch (c) {
    case Compression::gzip: return kOciLayerGzip;
    case Compression::zstd: return kOciLayerZstd;
    default: return kOciLayer;
  }
}

const char* compression_name(Compression c) {
  switch (c) {
    case Compression::gzip: return "gzip";
    case Compression::zstd: return "zstd";
    default: return "none";
  }
}

static bool restricted_name(std::string_view s) {
  // RFC 6838 4.2: restricted-name-first ALPHA/DIGIT, then up to 126 of
  // ALPHA / DIGIT / "!" / "#" / "$" / "&" / "-" / "^" / "_" / "." / "+".
  if (s.empty() || s.size() > 127) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(s[0])) return false;
  for (char c : s.substr(1))
    if (!alnum(c) && std::string_view("!#$&-^_.+").find(c) == std::string_view::npos) return false;
  return true;
}

bool valid_media_type(std::string_view mt) {
  auto slash = mt.find('/');
  if (slash == std::string_view::npos) return false;
  return restricted_name(mt.substr(0, slash)) && restricted_name(mt.substr(slash + 1));
}

}  // namespace berth::image::media
