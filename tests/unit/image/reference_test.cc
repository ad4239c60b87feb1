#include "image/reference.h"

#include <gtest/gtest.h>

#include "image/platform.h"

using namespace berth;
using namespace berth::image;

static std::string norm(std::string_view s) {
  auto r = parse_reference(s);
  return r.ok() ? r->str() : "ERR: " + r.error().message;
}

TEST(Reference, Normalises) {
  const std::string h(64, 'e');
  EXPECT_EQ(norm("busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
  EXPECT_EQ(norm("user/app"), "docker.io/user/app:latest");
  EXPECT_EQ(norm("index.docker.io/library/busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(norm("localhost:5000/a/b:tag"), "localhost:5000/a/b:tag");
  EXPECT_EQ(norm("localhost/a"), "localhost/a:latest");
  EXPECT_EQ(norm("quay.io/a/b-c__d.e"), "quay.io/a/b-c__d.e:latest");
  EXPECT_EQ(norm("[::1]:5000/x"), "[::1]:5000/x:latest");
  EXPECT_EQ(norm("busybox@sha256:" + h), "docker.io/library/busybox@sha256:" + h);
  EXPECT_EQ(norm("busybox:1@sha256:" + h), "docker.io/library/busybox:1@sha256:" + h);
  EXPECT_EQ(norm("localhost:5000"), "docker.io/library/localhost:5000");
  auto nodefault = parse_reference("busybox", {.default_tag = false});
  ASSERT_TRUE(nodefault.ok());
  EXPECT_EQ(nodefault->str(), "docker.io/library/busybox");
}

TEST(Reference, Rejects) {
  for (std::string bad : std::vector<std::string>{"", "Busybox", "a//b", "a/", "-a", "a-", "a..b", "a___b", ":tag", "a:", "a:-x",
                          "a@sha256:123", "a@md5:" + std::string(32, '0'), "host:port/x", "a b",
                          std::string(64, 'f'), "a:" + std::string(129, 't'), "x/" + std::string(260, 'a')}) {
    auto r = parse_reference(bad);
    EXPECT_FALSE(r.ok()) << bad << " -> " << r->str();
    if (!r.ok()) EXPECT_NE(r.error().message.find("invalid reference"), std::string::npos);
  }
  EXPECT_NE(parse_reference("docker.io/Library/x").error().message.find("lowercase"), std::string::npos);
}

TEST(Reference, Familiar) {
  EXPECT_EQ(parse_reference("busybox")->familiar(), "busybox:latest");
  EXPECT_EQ(parse_reference("docker.io/user/app:1")->familiar(), "user/app:1");
  EXPECT_EQ(parse_reference("docker.io/library/a/b")->familiar_name(), "library/a/b");
  EXPECT_EQ(parse_reference("quay.io/x/y:2")->familiar(), "quay.io/x/y:2");
  EXPECT_EQ(parse_reference("localhost:5000/x")->familiar_name(), "localhost:5000/x");
  // Found by fuzz_image_reference: shortening must not turn a path into a registry.
  EXPECT_EQ(parse_reference("docker.io/xl.lr.io/x")->familiar(), "docker.io/xl.lr.io/x:latest");
  EXPECT_EQ(parse_reference("docker.io/localhost/x")->familiar(), "docker.io/localhost/x:latest");
}

TEST(Platform, ParseAndNormalise) {
  EXPECT_EQ(parse_platform("linux/amd64")->str(), "linux/amd64");
  EXPECT_EQ(parse_platform("linux/x86_64")->str(), "linux/amd64");
  EXPECT_EQ(parse_platform("linux/aarch64")->str(), "linux/arm64/v8");
  EXPECT_EQ(parse_platform("linux/arm64")->str(), "linux/arm64/v8");
  EXPECT_EQ(parse_platform("linux/armhf")->str(), "linux/arm/v7");
  EXPECT_EQ(parse_platform("linux/arm")->str(), "linux/arm/v7");
  EXPECT_EQ(parse_platform("linux/arm/6")->str(), "linux/arm/v6");
  EXPECT_EQ(parse_platform("arm64")->str(), "linux/arm64/v8");
  EXPECT_FALSE(parse_platform("linux//amd64").ok());
  EXPECT_FALSE(parse_platform("a/b/c/d").ok());
  EXPECT_EQ(host_platform().os, "linux");
  EXPECT_FALSE(host_platform().architecture.empty());
}

TEST(Platform, SelectFromIndex) {
  const std::string h(64, '1');
  Index ix;
  auto add = [&](std::string arch, std::string variant, char c) {
    Descriptor d;
    d.media_type = "application/vnd.oci.image.manifest.v1+json";
    d.digest = *Digest::parse("sha256:" + std::string(64, c));
    d.platform = Platform{arch, "linux", "", {}, variant, {}};
    ix.manifests.push_back(d);
  };
  add("unknown", "", '0');
  add("arm", "v6", '1');
  add("arm", "v7", '2');
  add("arm64", "", '3');
  add("amd64", "", '4');
  EXPECT_EQ(select_platform(ix, *parse_platform("linux/arm/v7"))->digest.hex()[0], '2');
  EXPECT_EQ(select_platform(ix, *parse_platform("linux/aarch64"))->digest.hex()[0], '3');
  EXPECT_EQ(select_platform(ix, *parse_platform("linux/x86_64"))->digest.hex()[0], '4');
  auto miss = select_platform(ix, *parse_platform("linux/s390x"));
  ASSERT_FALSE(miss.ok());
  EXPECT_EQ(miss.error().code, Errc::not_found);
  EXPECT_NE(miss.error().message.find("available: linux/arm/v6, linux/arm/v7, linux/arm64, linux/amd64"), std::string::npos)
      << miss.error().message;
}

// Found by fuzz_image_reference: only a whole input of 64 hex characters is an
// image ID (distribution/reference); "library/<hex>" round-trips through its
// familiar form "<hex>:latest".
TEST(Reference, Hex64OnlyRefusedAsWholeInput) {
  std::string hex(64, 'e');
  EXPECT_FALSE(parse_reference(hex).ok());
  auto r = parse_reference("library/" + hex);
  ASSERT_TRUE(r.ok()) << r.error().str();
  auto fam = parse_reference(r->familiar());
  ASSERT_TRUE(fam.ok()) << fam.error().str();
  EXPECT_EQ(fam->str(), r->str());
}
