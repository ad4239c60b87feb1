// Manifest validation, htpasswd/ACL, Basic/challenge parsing and JWT verification.
#include <gtest/gtest.h>

#include <fstream>

#include "base/fs.h"
#include "registry/auth.h"
#include "registry/jwt.h"
#include "registry/manifest.h"

using namespace berth;
using namespace berth::registry;

static const std::string kD1 = "sha256:" + std::string(64, 'a');
static const std::string kD2 = "sha256:" + std::string(64, 'b');

static std::string image(const std::string& extra = "") {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
         R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" + kD1 + R"(","size":2},)"
         R"("layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" + kD2 + R"(","size":3}])" +
         extra + "}";
}

TEST(RegistryManifest, ImageManifest) {
  auto m = parse_manifest(image(), "application/vnd.oci.image.manifest.v1+json");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_FALSE(m->is_index);
  ASSERT_EQ(m->blobs.size(), 2u);
  EXPECT_EQ(m->artifact_type, "application/vnd.oci.image.config.v1+json");
}

TEST(RegistryManifest, SubjectAndArtifactType) {
  auto m = parse_manifest(image(R"(,"artifactType":"application/x-sig","subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                                kD1 + R"(","size":9},"annotations":{"k":"v"})"),
                          "");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->artifact_type, "application/x-sig");
  ASSERT_TRUE(m->subject.has_value());
  EXPECT_EQ(m->subject->str(), kD1);
  EXPECT_EQ(m->annotations.at("k"), "v");
}

TEST(RegistryManifest, Index) {
  std::string idx = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
                    R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + kD1 + R"(","size":5}]})";
  auto m = parse_manifest(idx, "application/vnd.oci.image.index.v1+json");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->is_index);
  EXPECT_EQ(m->manifests.size(), 1u);
}

TEST(RegistryManifest, RejectsHostile) {
  EXPECT_FALSE(parse_manifest("", "").ok());
  EXPECT_FALSE(parse_manifest("[]", "").ok());
  EXPECT_FALSE(parse_manifest("{\"schemaVersion\":1}", "").ok());
  EXPECT_FALSE(parse_manifest(std::string(100000, '['), "").ok());  // deep nesting
  // Content-Type disagrees with the document.
  EXPECT_FALSE(parse_manifest(image(), "application/vnd.oci.image.index.v1+json").ok());
  std::string bad = image();
  bad.replace(bad.find(kD2), kD2.size(), "sha256:../../etc/passwd");
  EXPECT_FALSE(parse_manifest(bad, "").ok());
  std::string neg = image();
  neg.replace(neg.find("\"size\":3"), 8, "\"size\":-3");
  EXPECT_FALSE(parse_manifest(neg, "").ok());
  EXPECT_FALSE(parse_manifest(R"({"schemaVersion":2,"mediaType":"application/x-evil"})", "").ok());
}

TEST(RegistryAuth, BasicAndChallenge) {
  std::string u, p;
  ASSERT_TRUE(parse_basic_auth("Basic YWxpY2U6czNjcjN0Onh5", &u, &p));  // alice:s3cr3t:xy
  EXPECT_EQ(u, "alice");
  EXPECT_EQ(p, "s3cr3t:xy");
  EXPECT_FALSE(parse_basic_auth("Basic !!!!", &u, &p));
  EXPECT_FALSE(parse_basic_auth("Bearer abc", &u, &p));
  Challenge c;
  ASSERT_TRUE(parse_challenge(R"(Bearer realm="https://r/token",service="reg",scope="repository:a:pull,push")", &c));
  EXPECT_EQ(c.scheme, "Bearer");
  EXPECT_EQ(c.params["scope"], "repository:a:pull,push");
  EXPECT_EQ(c.params["realm"], "https://r/token");
  EXPECT_FALSE(parse_challenge(R"(Bearer realm="unterminated)", &c));
}

TEST(RegistryAuth, HtpasswdBcrypt) {
  auto dir = TempDir::create("/tmp", "berth-reg-test");
  ASSERT_TRUE(dir.ok());
  std::string path = dir->path() + "/htpasswd";
  // "u:p" made with htpasswd -nbB u p
  ASSERT_TRUE(atomic_write_file(path, "u:$2y$05$j74BXNU7H7AEAwrNBP9xKuJ9BX5pMduz2vOvNUUHZaFwIZe7BP/Zu\n").ok());
  auto h = Htpasswd::load(path);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_TRUE((*h)->verify("u", "p"));
  EXPECT_TRUE((*h)->verify("u", "p"));  // cached path
  EXPECT_FALSE((*h)->verify("u", "q"));
  EXPECT_FALSE((*h)->verify("v", "p"));
  ASSERT_TRUE(atomic_write_file(path, "u:plaintext\n").ok());
  EXPECT_FALSE(Htpasswd::load(path).ok());
  ASSERT_TRUE(atomic_write_file(path, "u:$apr1$abc$def\n").ok());
  EXPECT_FALSE(Htpasswd::load(path).ok());
}

TEST(RegistryAuth, Acl) {
  auto acl = Acl::parse(R"(rules:
  - {user: alice, repos: "team/*", actions: [pull, push]}
  - {user: "*", repos: "public/*", actions: [pull]}
  - {user: anonymous, repos: "open/*", actions: [pull]}
  - {user: bob, repos: "team/app", actions: [delete]}
)", "acl.yaml");
  ASSERT_TRUE(acl.ok()) << acl.error().message;
  auto& a = **acl;
  EXPECT_EQ(a.allowed("alice", "team/x"), kPull | kPush);
  EXPECT_EQ(a.allowed("alice", "team/x/y"), kPull | kPush);
  EXPECT_EQ(a.allowed("alice", "other"), 0u);
  EXPECT_EQ(a.allowed("bob", "public/z"), unsigned(kPull));
  EXPECT_EQ(a.allowed("", "public/z"), 0u);  // "*" means any authenticated user
  EXPECT_EQ(a.allowed("", "open/z"), unsigned(kPull));
  EXPECT_EQ(a.allowed("bob", "team/app"), unsigned(kDelete));
  EXPECT_FALSE(Acl::parse("rules: [{user: a, repos: b, actions: [fly]}]", "x").ok());
  EXPECT_FALSE(Acl::parse("nope: 1", "x").ok());
  EXPECT_FALSE(Acl::parse("rules: [", "x").ok());
}

TEST(RegistryJwt, SignVerify) {
  std::string key(32, 'k');
  TokenClaims c;
  c.issuer = "iss";
  c.subject = "alice";
  c.audience = "svc";
  c.issued_at = 1000;
  c.expires_at = 2000;
  c.access["team/app"] = kPull | kPush;
  std::string t = sign_token(c, key);
  auto v = verify_token(t, key, "iss", "svc", 1500);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(v->subject, "alice");
  EXPECT_EQ(v->access["team/app"], unsigned(kPull | kPush));
  EXPECT_FALSE(verify_token(t, key, "iss", "svc", 2000).ok());             // expired
  EXPECT_FALSE(verify_token(t, key, "other", "svc", 1500).ok());           // issuer
  EXPECT_FALSE(verify_token(t, key, "iss", "other", 1500).ok());           // audience
  EXPECT_FALSE(verify_token(t, std::string(32, 'x'), "iss", "svc", 1500).ok());  // wrong key
  // alg=none with the same claims and an empty signature.
  auto d1 = t.find('.'), d2 = t.rfind('.');
  std::string none = base64url_encode(R"({"alg":"none","typ":"JWT"})") + t.substr(d1, d2 - d1) + ".";
  EXPECT_FALSE(verify_token(none, key, "iss", "svc", 1500).ok());
  // A token that brings its own key (jwk) and claims RS256 is refused: only our key and alg count.
  std::string rs = base64url_encode(R"({"alg":"RS256","jwk":{"kty":"RSA"}})") + t.substr(d1);
  EXPECT_FALSE(verify_token(rs, key, "iss", "svc", 1500).ok());
  // Tampered claims.
  std::string tampered = t;
  tampered[d1 + 3] = tampered[d1 + 3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify_token(tampered, key, "iss", "svc", 1500).ok());
  auto dc = decode_claims(t);
  ASSERT_TRUE(dc.ok());
  EXPECT_EQ(dc->expires_at, 2000);
  EXPECT_FALSE(decode_claims("garbage").ok());
  std::string out;
  EXPECT_TRUE(base64url_decode(base64url_encode("hello!?"), &out));
  EXPECT_EQ(out, "hello!?");
  EXPECT_FALSE(base64url_decode("a", &out));
  EXPECT_FALSE(base64url_decode("ab+/", &out));
}
