#include "image/manifest.h"

#include <gtest/gtest.h>

#include "image/config.h"
#include "image/media_types.h"

using namespace berth;
using namespace berth::image;

namespace {

const std::string kHexA(64, 'a');
const std::string kHexB(64, 'b');
const std::string kHexC(64, 'c');

std::string oci_manifest() {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
         R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:)" + kHexA + R"(","size":7},)"
         R"("layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:)" + kHexB +
         R"(","size":32654,"annotations":{"k":"v"}}],"annotations":{"org.opencontainers.image.created":"x"}})";
}

std::string oci_index() {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
         R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" + kHexA + R"(","size":10,)"
         R"("platform":{"architecture":"arm64","os":"linux","variant":"v8"}},)"
         R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:)" + kHexB + R"(","size":10,)"
         R"("platform":{"architecture":"amd64","os":"linux"}}]})";
}

Descriptor desc_for(std::string_view mt, const std::string& bytes) { return Descriptor::of(mt, bytes); }

std::string msg(const Error& e) { return e.message; }

}  // namespace

TEST(Manifest, ParsesOci) {
  auto m = parse_manifest(oci_manifest());
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->media_type, media::kOciManifest);
  EXPECT_EQ(m->config.size, 7u);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].annotations.at("k"), "v");
  EXPECT_TRUE(m->is_image());
  EXPECT_EQ(m->raw, oci_manifest());
  EXPECT_EQ(m->digest, Digest::of(oci_manifest()));
}

TEST(Manifest, ParsesDockerSchema2) {
  std::string doc = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
                    R"("config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:)" + kHexA +
                    R"(","size":1},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"sha256:)" +
                    kHexB + R"(","size":2}]})";
  auto d = desc_for(media::kDockerManifest, doc);
  auto m = parse_manifest(doc, &d);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_TRUE(m->is_docker());
  EXPECT_EQ(media::classify_layer(m->layers[0].media_type).compression, media::Compression::gzip);
}

TEST(Manifest, MediaTypeMayBeOmittedInOci) {
  std::string doc = oci_manifest();
  doc.erase(doc.find(R"("mediaType":"application/vnd.oci.image.manifest.v1+json",)"),
            std::string(R"("mediaType":"application/vnd.oci.image.manifest.v1+json",)").size());
  auto d = desc_for(media::kOciManifest, doc);
  auto m = parse_manifest(doc, &d);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(media_type_of(*m), media::kOciManifest);
}

TEST(Manifest, RejectsManifestIndexConfusion) {
  // CVE-2021-41190: one document that is both.
  std::string both = R"({"schemaVersion":2,"manifests":[],"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:)" +
                     kHexA + R"(","size":1},"layers":[]})";
  for (auto r : {parse_manifest(both).ok(), parse_index(both).ok(), parse_document(both).ok()}) EXPECT_FALSE(r);
  EXPECT_NE(msg(parse_manifest(both).error()).find("CVE-2021-41190"), std::string::npos);

  // Declared index, shaped like a manifest.
  std::string lying = oci_manifest();
  lying.replace(lying.find("image.manifest.v1"), 17, "image.index.v1");
  auto r = parse_manifest(lying);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(msg(r.error()).find("declares"), std::string::npos) << msg(r.error());

  // The referring descriptor says index, the bytes are a manifest.
  auto d = desc_for(media::kOciIndex, oci_manifest());
  auto r2 = parse_document(oci_manifest(), &d);
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(msg(r2.error()).find("is a manifest, not an index"), std::string::npos) << msg(r2.error());

  // The descriptor says Docker, the document declares OCI.
  auto d3 = desc_for(media::kDockerManifest, oci_manifest());
  EXPECT_FALSE(parse_manifest(oci_manifest(), &d3).ok());
}

TEST(Manifest, RejectsDigestAndSizeMismatch) {
  auto d = desc_for(media::kOciManifest, oci_manifest());
  d.size += 1;
  auto r = parse_manifest(oci_manifest(), &d);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::size_mismatch);
  d = desc_for(media::kOciManifest, oci_manifest());
  d.digest = *Digest::parse("sha256:" + kHexC);
  r = parse_manifest(oci_manifest(), &d);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::digest_mismatch);
}

TEST(Manifest, MalformedJsonSaysWhere) {
  auto r = parse_manifest(R"({"schemaVersion":2,"config":)");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(msg(r.error()).find("malformed JSON at byte"), std::string::npos) << msg(r.error());
  auto dup = parse_manifest(R"({"schemaVersion":2,"schemaVersion":2})");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(msg(dup.error()).find("duplicate key"), std::string::npos);
  std::string deep(200, '[');
  EXPECT_FALSE(parse_manifest(deep + std::string(200, ']')).ok());
}

TEST(Manifest, RejectsOversized) {
  std::string big = oci_manifest();
  big.insert(big.size() - 1, ",\"pad\":\"" + std::string(kMaxManifestSize, 'x') + "\"");
  auto r = parse_manifest(big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::limit);
}

TEST(Manifest, RejectsBadFields) {
  auto check = [](std::string doc, std::string_view needle) {
    auto r = parse_manifest(doc);
    ASSERT_FALSE(r.ok()) << doc;
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  };
  std::string m = oci_manifest();
  auto rep = [&](std::string_view from, std::string_view to) {
    std::string s = m;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  check(rep("\"schemaVersion\":2", "\"schemaVersion\":3"), "schemaVersion");
  check(rep("\"schemaVersion\":2", "\"schemaVersion\":1"), "schema 1");
  check(rep("sha256:" + kHexB, "sha256:XYZ"), "layers[0].digest");
  check(rep("\"size\":32654", "\"size\":-1"), "layers[0].size");
  check(rep("\"size\":32654", "\"size\":1.5"), "layers[0].size");
  check(rep("\"size\":32654", "\"size\":\"1\""), "must be an integer");
  check(rep("v1.tar+gzip", "v1 tar"), "not a valid media type");
  check(rep("application/vnd.oci.image.manifest.v1+json", "application/x-foo"), "unknown media type");
  check(rep("\"k\":\"v\"", "\"k\":1"), "annotations");
  check(R"({"schemaVersion":2,"config":{"mediaType":"a/b","digest":"sha256:)" + kHexA + R"(","size":1}})", "layers");
  check("[]", "must be a JSON object");
  // Go matches struct fields case-insensitively: a second spelling is ambiguous.
  check(rep("\"schemaVersion\":2,", "\"schemaVersion\":2,\"MediaType\":\"application/vnd.oci.image.index.v1+json\","),
        "MediaType: differs from field \"mediaType\" only in case");
  check(rep("\"layers\"", "\"Layers\""), "Layers");
}

TEST(Manifest, UnknownLayerTypesAreKeptForCopying) {
  std::string m = oci_manifest();
  m.replace(m.find("v1.tar+gzip"), 11, "v1.tar+lzma");
  ASSERT_TRUE(parse_manifest(m).ok());  // image-spec: copying MUST NOT fail; resolve() refuses to unpack
}

TEST(Manifest, ArtifactLayersMayHaveAnyType) {
  std::string doc = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example+type",)"
                    R"("config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="},)"
                    R"("layers":[{"mediaType":"application/x-anything","digest":"sha256:)" + kHexB + R"(","size":3}]})";
  auto m = parse_manifest(doc);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_FALSE(m->is_image());
  EXPECT_EQ(*m->config.data, "{}");
  std::string bad = doc;
  bad.replace(bad.find("e30="), 4, "e3x9");
  EXPECT_FALSE(parse_manifest(bad).ok());
}

TEST(Index, ParsesAndSerialisesDeterministically) {
  auto ix = parse_index(oci_index());
  ASSERT_TRUE(ix.ok()) << ix.error().message;
  ASSERT_EQ(ix->manifests.size(), 2u);
  EXPECT_EQ(ix->manifests[0].platform->variant, "v8");
  std::string out = serialize(*ix);
  auto again = parse_index(out);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(serialize(*again), out);
  EXPECT_EQ(out.find(' '), std::string::npos);
  EXPECT_LT(out.find("\"manifests\""), out.find("\"mediaType\""));  // sorted keys
}

TEST(Index, DocumentDetection) {
  auto d = parse_document(oci_index());
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(std::holds_alternative<Index>(*d));
  auto m = parse_document(oci_manifest());
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(std::holds_alternative<Manifest>(*m));
  EXPECT_FALSE(parse_document(R"({"schemaVersion":2})").ok());
  std::string list = oci_index();
  list.replace(list.find("application/vnd.oci.image.index.v1+json"), 39,
               "application/vnd.docker.distribution.manifest.list.v2+json");
  list.replace(list.find("application/vnd.oci.image.manifest.v1+json"), 42, "application/vnd.oci.image.index.v1+json");
  auto dl = parse_index(list);
  ASSERT_FALSE(dl.ok());  // a Docker manifest list points at manifests only
  EXPECT_NE(dl.error().message.find("manifests[0].mediaType"), std::string::npos) << dl.error().message;
}

TEST(Descriptor, RoundTrip) {
  Descriptor d = Descriptor::of(media::kOciLayer, "hello");
  d.annotations["a"] = "b";
  d.platform = Platform{"amd64", "linux", "", {}, "", {}};
  d.data = "hello";
  auto back = parse_descriptor(serialize(d));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(serialize(*back), serialize(d));
  EXPECT_EQ(back->data, "hello");
  EXPECT_FALSE(parse_descriptor(R"({"mediaType":"nope","digest":"sha256:)" + kHexA + R"(","size":1})").ok());
}

TEST(Config, ParsesAndKeepsUnknownFieldsOnSerialise) {
  std::string doc = R"({"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05.123456789Z",)"
                    R"("config":{"Env":["PATH=/bin","A=b=c"],"Cmd":["sh"],"ExposedPorts":{"80/tcp":{}},"Labels":{"x":"y"},)"
                    R"("Healthcheck":{"Test":["CMD","true"],"Interval":1000000000,"Retries":3}},)"
                    R"("rootfs":{"type":"layers","diff_ids":["sha256:)" + kHexA + R"("]},)"
                    R"("history":[{"created_by":"x","empty_layer":true}],"docker_version":"24.0.0"})";
  auto c = parse_config(doc);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(env_get(c->config.env, "A"), "b=c");
  EXPECT_EQ(c->config.cmd->at(0), "sh");
  EXPECT_FALSE(c->config.entrypoint.has_value());
  EXPECT_EQ(c->config.exposed_ports, std::vector<std::string>{"80/tcp"});
  EXPECT_EQ(c->config.healthcheck->retries, 3);
  EXPECT_TRUE(c->history[0].empty_layer);
  c->config.user = "1000";
  std::string out = serialize(*c);
  EXPECT_NE(out.find("docker_version"), std::string::npos);
  auto again = parse_config(out);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->config.user, "1000");
  EXPECT_EQ(serialize(*again), out);
}

TEST(Config, RejectsBadConfigs) {
  std::string good = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}})";
  ASSERT_TRUE(parse_config(good).ok());
  EXPECT_FALSE(parse_config(R"({"os":"linux","rootfs":{"type":"layers","diff_ids":[]}})").ok());
  EXPECT_FALSE(parse_config(R"({"architecture":"amd64","os":"linux"})").ok());
  EXPECT_FALSE(parse_config(R"({"architecture":"amd64","os":"linux","rootfs":{"type":"x","diff_ids":[]}})").ok());
  EXPECT_FALSE(parse_config(R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:1"]}})").ok());
  EXPECT_FALSE(parse_config(R"({"architecture":"amd64","os":"linux","created":"yesterday","rootfs":{"type":"layers","diff_ids":[]}})").ok());
  auto r = parse_config(R"({"architecture":"amd64","os":"linux","config":{"Env":"PATH=/"},"rootfs":{"type":"layers","diff_ids":[]}})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("config.Env"), std::string::npos) << r.error().message;
  auto lc = parse_config(R"({"architecture":"amd64","os":"linux","config":{"env":["A=1"]},"rootfs":{"type":"layers","diff_ids":[]}})");
  ASSERT_FALSE(lc.ok());
  EXPECT_NE(lc.error().message.find("config.env: differs from field \"Env\""), std::string::npos) << lc.error().message;
  // Label and annotation maps are Go maps (case-sensitive): "Foo" and "foo" are two labels.
  EXPECT_TRUE(parse_config(R"({"architecture":"amd64","os":"linux","config":{"Labels":{"Foo":"1","foo":"2"}},"rootfs":{"type":"layers","diff_ids":[]}})").ok());
  Descriptor d = Descriptor::of(media::kOciLayer, good);
  EXPECT_EQ(parse_config(good, &d).error().code, Errc::unsupported);
}

TEST(Config, Timestamps) {
  EXPECT_TRUE(valid_timestamp("2024-01-02T03:04:05Z"));
  EXPECT_TRUE(valid_timestamp("2024-01-02T03:04:05.5+01:00"));
  EXPECT_TRUE(valid_timestamp("0001-01-01T00:00:00Z"));
  EXPECT_FALSE(valid_timestamp("2024-01-02 03:04:05Z"));
  EXPECT_FALSE(valid_timestamp("2024-01-02T03:04:05"));
  EXPECT_TRUE(valid_timestamp(now_rfc3339()));
}
