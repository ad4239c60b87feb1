// berth-unpack-test: a test/bench driver for snapshot::unpack_flat and
// Snapshotter::prepare on an OCI image layout, until the CLI's `berth unpack`
// is wired. Not installed; only tests/e2e/layer_*_test.sh and bench/unpack use it.
//
//   berth-unpack-test [--rootless] LAYOUT[:REF] ROOTFS_DIR
//   berth-unpack-test --snapshots ROOT LAYOUT[:REF]      (prints the lowerdirs)
//   berth-unpack-test --pack DIR OUT.tar.gz                (write_layer, prints digests)
#include <fcntl.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/fs.h"
#include "layer/layer.h"
#include "snapshot/snapshot.h"

using namespace berth;

namespace {

Result<nlohmann::json> load_json(const std::string& path) {
  TRY_ASSIGN(std::string text, read_file(path, 4 << 20));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error(Errc::invalid_input, path + ": not a JSON object");
  return j;
}

Result<Digest> digest_field(const nlohmann::json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || !j[key].is_string()) return Error(Errc::invalid_input, where + ": missing \"" + key + "\"");
  auto d = Digest::parse(j[key].get<std::string>());
  if (!d) return std::move(d).error().wrap(where);
  return *d;
}

std::string blob_path(const std::string& layout, const Digest& d) { return layout + "/blobs/" + d.encoded_path(); }

Result<std::vector<snapshot::Layer>> read_image(const std::string& layout, const std::string& ref) {
  TRY_ASSIGN(auto index, load_json(layout + "/index.json"));
  if (!index.contains("manifests") || !index["manifests"].is_array())
    return Error(Errc::invalid_input, "index.json: no manifests");
  const nlohmann::json* pick = nullptr;
  for (auto& m : index["manifests"]) {
    std::string name;
    if (m.contains("annotations") && m["annotations"].contains("org.opencontainers.image.ref.name"))
      name = m["annotations"]["org.opencontainers.image.ref.name"].get<std::string>();
    if (ref.empty() ? pick == nullptr : name == ref) pick = &m;
  }
  if (!pick) return Error(Errc::not_found, "index.json: no manifest named \"" + ref + "\"");
  TRY_ASSIGN(Digest mdig, digest_field(*pick, "digest", "index.json"));
  TRY_ASSIGN(auto manifest, load_json(blob_path(layout, mdig)));
  if (!manifest.contains("config") || !manifest.contains("layers") || !manifest["layers"].is_array())
    return Error(Errc::invalid_input, "manifest " + mdig.str() + ": not an image manifest");
  TRY_ASSIGN(Digest cdig, digest_field(manifest["config"], "digest", "manifest config"));
  TRY_ASSIGN(auto config, load_json(blob_path(layout, cdig)));
  if (!config.contains("rootfs") || !config["rootfs"].contains("diff_ids") || !config["rootfs"]["diff_ids"].is_array())
    return Error(Errc::invalid_input, "config " + cdig.str() + ": no rootfs.diff_ids");
  auto& diffs = config["rootfs"]["diff_ids"];
  auto& layers = manifest["layers"];
  if (diffs.size() != layers.size())
    return Error(Errc::invalid_input, "image: " + std::to_string(layers.size()) + " layers but " +
                                          std::to_string(diffs.size()) + " diff_ids");
  std::vector<snapshot::Layer> out;
  for (size_t i = 0; i < layers.size(); i++) {
    TRY_ASSIGN(Digest blob, digest_field(layers[i], "digest", "layer " + std::to_string(i)));
    if (!diffs[i].is_string()) return Error(Errc::invalid_input, "diff_id " + std::to_string(i) + " is not a string");
    auto diff = Digest::parse(diffs[i].get<std::string>());
    if (!diff) return std::move(diff).error();
    out.push_back({blob, *diff});
  }
  return out;
}

int usage() {
  std::fprintf(stderr,
               "usage: berth-unpack-test [--rootless] LAYOUT[:REF] ROOTFS\n"
               "       berth-unpack-test --snapshots ROOT LAYOUT[:REF]\n"
               "       berth-unpack-test --pack DIR OUT.tar.gz\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "--pack") {
    UniqueFd out(::open(args[2].c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!out) return std::perror(args[2].c_str()), 1;
    auto r = layer::write_layer(args[1], out.get(), {.compression = layer::Compression::gzip});
    if (!r) {
      std::fprintf(stderr, "berth-unpack-test: %s\n", r.error().str().c_str());
      return 1;
    }
    std::printf("diff_id %s\nblob %s %llu bytes\n", r->diff_id.str().c_str(), r->blob_digest.str().c_str(),
                static_cast<unsigned long long>(r->compressed_size));
    return 0;
  }
  bool rootless = false;
  std::string snapshots;
  while (!args.empty() && args[0].starts_with("--")) {
    if (args[0] == "--rootless") {
      rootless = true;
      args.erase(args.begin());
    } else if (args[0] == "--snapshots" && args.size() > 1) {
      snapshots = args[1];
      args.erase(args.begin(), args.begin() + 2);
    } else {
      return usage();
    }
  }
  if (args.size() != (snapshots.empty() ? 2u : 1u)) return usage();
  std::string layout = args[0], ref;
  if (auto c = layout.rfind(':'); c != std::string::npos) {
    ref = layout.substr(c + 1);
    layout = layout.substr(0, c);
  }
  auto layers = read_image(layout, ref);
  if (!layers) {
    std::fprintf(stderr, "berth-unpack-test: %s\n", layers.error().str().c_str());
    return 1;
  }
  snapshot::BlobOpener blobs = [&](const Digest& d) -> Result<UniqueFd> {
    std::string p = blob_path(layout, d);
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sys_error("open blob " + p);
    return UniqueFd(fd);
  };
  if (!snapshots.empty()) {
    auto sn = snapshot::Snapshotter::open(snapshots);
    if (!sn) {
      std::fprintf(stderr, "berth-unpack-test: %s\n", sn.error().str().c_str());
      return 1;
    }
    auto lower = sn->prepare(*layers, blobs);
    if (!lower) {
      std::fprintf(stderr, "berth-unpack-test: %s\n", lower.error().str().c_str());
      return 1;
    }
    for (auto& l : *lower) std::printf("%s\n", l.c_str());
    return 0;
  }
  snapshot::FlatOptions fo;
  if (rootless) fo.rootless = true;
  if (auto s = snapshot::unpack_flat(*layers, blobs, args[1], fo); !s) {
    std::fprintf(stderr, "berth-unpack-test: %s\n", s.error().str().c_str());
    return 1;
  }
  return 0;
}
