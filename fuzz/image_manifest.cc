// Fuzzes every parser of untrusted image documents: manifest, index, config,
// descriptor, and Dockerfile --change lines. They must never crash, and a
// document berth accepted must survive serialize -> parse unchanged.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "image/change.h"
#include "image/config.h"
#include "image/manifest.h"
#include "image/media_types.h"

using namespace berth::image;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)parse_document(in);
  // With a matching descriptor the digest check passes and the shape and
  // media-type checks run against the referrer too.
  for (auto mt : {media::kOciManifest, media::kOciIndex, media::kDockerManifest, media::kDockerManifestList}) {
    Descriptor d = Descriptor::of(mt, in);
    if (auto m = parse_document(in, &d); m.ok()) {
      if (auto* man = std::get_if<Manifest>(&*m)) {
        auto again = parse_manifest(serialize(*man));
        if (!again.ok() || serialize(*again) != serialize(*man)) std::abort();
      } else {
        auto& ix = std::get<Index>(*m);
        auto again = parse_index(serialize(ix));
        if (!again.ok() || serialize(*again) != serialize(ix)) std::abort();
      }
    }
  }
  if (auto c = parse_config(in); c.ok()) {
    auto again = parse_config(serialize(*c));
    if (!again.ok()) std::abort();
  }
  (void)parse_descriptor(in);
  RunConfig rc;
  std::vector<std::string> lines;
  size_t i = 0;
  while (i < in.size() && lines.size() < 16) {
    size_t j = in.find('\n', i);
    if (j == std::string_view::npos) j = in.size();
    lines.emplace_back(in.substr(i, j - i));
    i = j + 1;
  }
  (void)apply_changes(rc, lines);
  return 0;
}
