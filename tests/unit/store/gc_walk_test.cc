#include "store/gc_walk.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "store/gc.h"

using namespace berth;
using json = nlohmann::json;

namespace {
constexpr const char* kManifest = "application/vnd.oci.image.manifest.v1+json";
const std::string A = Digest::of("a").str(), B = Digest::of("b").str(), C = Digest::of("c").str();
}  // namespace

TEST(GcWalk, ManifestChildrenAndSubject) {
  std::string m = json{{"schemaVersion", 2},
                       {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"}, {"digest", A}, {"size", 1}}},
                       {"layers", {{{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"}, {"digest", B}, {"size", 1}}}},
                       {"subject", {{"mediaType", kManifest}, {"digest", C}, {"size", 1}}}}
                      .dump();
  auto r = blob_refs(m, kManifest);
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_EQ(r->children.size(), 2u);
  EXPECT_EQ(r->children[0].digest.str(), B);  // lists first, then config
  EXPECT_EQ(r->children[1].digest.str(), A);
  EXPECT_EQ(r->children[1].media_type, "application/vnd.oci.image.config.v1+json");
  ASSERT_TRUE(r->subject.has_value());
  EXPECT_EQ(r->subject->digest.str(), C);
}

TEST(GcWalk, IndexAndConfig) {
  std::string idx = json{{"manifests", {{{"digest", A}}, {{"digest", B}, {"mediaType", kManifest}}}}}.dump();
  auto r = blob_refs(idx, "application/vnd.oci.image.index.v1+json");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->children.size(), 2u);
  EXPECT_EQ(r->children[0].media_type, "");

  // A config's own `config` (runtime settings) is not a descriptor.
  std::string cfg = json{{"config", {{"Cmd", {"sh"}}}}, {"rootfs", {{"type", "layers"}, {"diff_ids", {A, B}}}}}.dump();
  r = blob_refs(cfg, "application/vnd.docker.container.image.v1+json");
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(r->children.empty());
  ASSERT_EQ(r->snapshots.size(), 2u);
  EXPECT_EQ(r->snapshots[0].str(), A);
  EXPECT_EQ(r->snapshots[1], Digest::of(A + " " + B));
}

TEST(GcWalk, MalformedKnownTypesAreErrors) {
  for (std::string bad : {"{ nope", "[]", "", "{\"layers\": 3}", "{\"layers\": [{\"digest\": \"sha256:zz\"}]}",
                          "{\"manifests\": [7]}", "{\"config\": {\"digest\": 1}}",
                          "{\"rootfs\": {\"diff_ids\": [\"md5:x\"]}}"}) {
    auto r = blob_refs(bad, kManifest);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, Errc::invalid_input) << bad;
    }
  }
  EXPECT_EQ(blob_refs(std::string(kGcMaxJsonBlob + 1, ' '), kManifest).error().code, Errc::invalid_input);
}

TEST(GcWalk, UnknownTypesAreLenient) {
  // Valid entries still count; broken ones are skipped.
  std::string doc = json{{"layers", {{{"digest", "garbage"}}, {{"digest", A}}}}, {"manifests", "x"}}.dump();
  auto r = blob_refs(doc, "application/vnd.example.thing+json");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->children.size(), 1u);
  EXPECT_EQ(r->children[0].digest.str(), A);
  EXPECT_TRUE(blob_refs("not json", "application/json")->children.empty());
  EXPECT_TRUE(blob_refs("\x1f\x8b", "").ok());
  // Non-JSON media types are never parsed, even if the bytes are JSON.
  std::string layer_like = json{{"layers", {{{"digest", A}}}}}.dump();
  EXPECT_TRUE(blob_refs(layer_like, "application/vnd.oci.image.layer.v1.tar")->children.empty());
  EXPECT_TRUE(gc_reads_media_type(""));
  EXPECT_FALSE(gc_reads_media_type("application/vnd.oci.image.layer.v1.tar+zstd"));
}

TEST(GcWalk, DockerSchema1FsLayers) {
  std::string m = json{{"schemaVersion", 1}, {"fsLayers", {{{"blobSum", A}}, {{"blobSum", "bad"}}, {{"blobSum", B}}}}}.dump();
  auto r = blob_refs(m, "application/vnd.docker.distribution.manifest.v1+prettyjws");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->children.size(), 2u);
  EXPECT_EQ(r->children[1].digest.str(), B);
  EXPECT_FALSE(gc_reads_media_type(r->children[0].media_type));  // layers are never opened
}
