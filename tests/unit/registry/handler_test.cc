// Registry::handle() end to end, without a network: every endpoint and error
// code of the distribution-spec plus auth, ACL, tokens, read-only and GC.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "registry/auth.h"
#include "registry/jwt.h"
#include "registry/names.h"
#include "registry/registry.h"

using namespace berth;
using namespace berth::registry;
using nlohmann::json;

namespace {

struct Reply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string h(const std::string& name) const {
    for (auto& [k, v] : headers)
      if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
    return "";
  }
  std::string code() const {
    auto j = json::parse(body, nullptr, false);
    if (!j.is_object() || !j.contains("errors")) return "";
    return j["errors"][0]["code"].get<std::string>();
  }
};

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::create("/tmp", "berth-reg-unit");
    ASSERT_TRUE(d.ok());
    dir_.emplace(std::move(*d));
    cfg_.root = dir_->path() + "/root";
  }
  void open() {
    auto r = Registry::open(cfg_);
    ASSERT_TRUE(r.ok()) << r.error().str();
    reg_ = std::move(*r);
  }
  Reply call(const std::string& method, const std::string& target, const std::string& body = "",
             std::vector<std::pair<std::string, std::string>> headers = {}) {
    Request q;
    q.method = method;
    q.target = target;
    auto qp = target.find('?');
    EXPECT_TRUE(percent_decode(target.substr(0, qp), &q.path));
    if (qp != std::string::npos) {
      EXPECT_TRUE(parse_query(target.substr(qp + 1), &q.query));
    }
    for (auto& [k, v] : headers) {
      std::string n = k;
      for (char& c : n) c = static_cast<char>(std::tolower(c));
      q.headers.emplace_back(n, v);
    }
    q.host = "reg.test";
    if (method == "PUT" || method == "POST" || method == "PATCH") q.content_length = body.size();
    Dispatch d = reg_->handle(q);
    Response r;
    if (d.sink) {
      // Two chunks, to exercise streaming.
      size_t half = body.size() / 2;
      Status s = d.sink->write(body.data(), half);
      if (s) s = d.sink->write(body.data() + half, body.size() - half);
      r = s ? d.sink->finish() : d.sink->fail(s.error());
    } else {
      r = std::move(d.response);
    }
    Reply out;
    out.status = r.status;
    out.headers = r.headers;
    if (r.file.valid()) {
      out.body.resize(r.file_length);
      EXPECT_EQ(::pread(r.file.get(), out.body.data(), r.file_length, static_cast<off_t>(r.file_offset)),
                static_cast<ssize_t>(r.file_length));
    } else {
      out.body = r.body;
    }
    return out;
  }
  Reply push_blob(const std::string& repo, const std::string& data, const std::vector<std::pair<std::string, std::string>>& h = {}) {
    return call("POST", "/v2/" + repo + "/blobs/uploads/?digest=" + Digest::of(data).str(), data, h);
  }
  std::string manifest_for(const std::string& config, const std::string& layer, const std::string& extra = "") {
    return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
           Digest::of(config).str() + R"(","size":)" + std::to_string(config.size()) +
           R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" + Digest::of(layer).str() +
           R"(","size":)" + std::to_string(layer.size()) + "}]" + extra + "}";
  }
  Reply put_manifest(const std::string& repo, const std::string& ref, const std::string& m,
                     std::vector<std::pair<std::string, std::string>> h = {}) {
    h.emplace_back("Content-Type", "application/vnd.oci.image.manifest.v1+json");
    return call("PUT", "/v2/" + repo + "/manifests/" + ref, m, h);
  }
  // Pushes config+layer and a manifest tagged `tag`; returns the manifest.
  std::string push_image(const std::string& repo, const std::string& tag, const std::string& seed) {
    std::string cfg = "{\"seed\":\"" + seed + "\"}", layer = "layer-" + seed;
    EXPECT_EQ(push_blob(repo, cfg).status, 201);
    EXPECT_EQ(push_blob(repo, layer).status, 201);
    std::string m = manifest_for(cfg, layer);
    EXPECT_EQ(put_manifest(repo, tag, m).status, 201);
    return m;
  }

  std::optional<TempDir> dir_;
  Config cfg_;
  std::unique_ptr<Registry> reg_;
};

TEST_F(RegistryTest, BaseAndUnknownEndpoint) {
  open();
  EXPECT_EQ(call("GET", "/v2/").status, 200);
  EXPECT_EQ(call("GET", "/v3/").status, 404);
  auto r = call("GET", "/v2/Bad_Name/tags/list");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.code(), "NAME_INVALID");
}

TEST_F(RegistryTest, MonolithicPushPullAndRanges) {
  open();
  std::string data = "hello, registry";
  Digest d = Digest::of(data);
  auto p = push_blob("a/b", data);
  ASSERT_EQ(p.status, 201);
  EXPECT_EQ(p.h("Location"), "/v2/a/b/blobs/" + d.str());
  EXPECT_EQ(p.h("Docker-Content-Digest"), d.str());
  auto g = call("GET", "/v2/a/b/blobs/" + d.str());
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.body, data);
  auto rg = call("GET", "/v2/a/b/blobs/" + d.str(), "", {{"Range", "bytes=7-"}});
  EXPECT_EQ(rg.status, 206);
  EXPECT_EQ(rg.body, "registry");
  EXPECT_EQ(rg.h("Content-Range"), "bytes 7-14/15");
  EXPECT_EQ(call("GET", "/v2/a/b/blobs/" + d.str(), "", {{"Range", "bytes=-3"}}).body, "try");
  auto bad = call("GET", "/v2/a/b/blobs/" + d.str(), "", {{"Range", "bytes=15-20"}});
  EXPECT_EQ(bad.status, 416);
  EXPECT_EQ(bad.h("Content-Range"), "bytes */15");
  // Blobs are per repository.
  auto other = call("GET", "/v2/other/blobs/" + d.str());
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(other.code(), "BLOB_UNKNOWN");
  EXPECT_EQ(call("GET", "/v2/a/b/blobs/sha256:nothex").code(), "DIGEST_INVALID");
  // Wrong digest: nothing published.
  auto wrong = call("POST", "/v2/a/b/blobs/uploads/?digest=" + Digest::of("x").str(), "y");
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(wrong.code(), "DIGEST_INVALID");
  EXPECT_EQ(call("HEAD", "/v2/a/b/blobs/" + Digest::of("x").str()).status, 404);
  // sha512 is accepted.
  std::string d512 = Digest::of(data, DigestAlg::sha512).str();
  EXPECT_EQ(call("POST", "/v2/a/b/blobs/uploads/?digest=" + d512, data).status, 201);
  EXPECT_EQ(call("GET", "/v2/a/b/blobs/" + d512).body, data);
}

TEST_F(RegistryTest, KnownBlobIsVerifiedNotTrusted) {
  open();
  std::string secret = "someone else's layer";
  Digest d = Digest::of(secret);
  ASSERT_EQ(push_blob("private", secret).status, 201);
  // Knowing the digest is not enough: the bytes must hash to it.
  auto steal = call("POST", "/v2/attacker/blobs/uploads/?digest=" + d.str(), "guess");
  EXPECT_EQ(steal.code(), "DIGEST_INVALID");
  EXPECT_EQ(call("GET", "/v2/attacker/blobs/" + d.str()).status, 404);
  std::string loc = call("POST", "/v2/attacker/blobs/uploads/").h("Location");
  EXPECT_EQ(call("PUT", loc + "?digest=" + d.str(), "guess").code(), "DIGEST_INVALID");
  EXPECT_EQ(call("GET", "/v2/attacker/blobs/" + d.str()).status, 404);
  // With the real bytes the existing blob is linked (not rewritten), both ways.
  EXPECT_EQ(push_blob("second", secret).status, 201);
  EXPECT_EQ(call("GET", "/v2/second/blobs/" + d.str()).body, secret);
  loc = call("POST", "/v2/third/blobs/uploads/").h("Location");
  EXPECT_EQ(call("PUT", loc + "?digest=" + d.str(), secret).status, 201);
  EXPECT_EQ(call("GET", "/v2/third/blobs/" + d.str()).body, secret);
  EXPECT_EQ(call("GET", loc).code(), "BLOB_UPLOAD_UNKNOWN");
}

TEST_F(RegistryTest, ChunkedSessionUpload) {
  open();
  auto s = call("POST", "/v2/repo/blobs/uploads/");
  ASSERT_EQ(s.status, 202);
  std::string loc = s.h("Location");
  ASSERT_EQ(loc.rfind("/v2/repo/blobs/uploads/", 0), 0u);
  auto c1 = call("PATCH", loc, "abcde", {{"Content-Range", "0-4"}});
  EXPECT_EQ(c1.status, 202);
  EXPECT_EQ(c1.h("Range"), "0-4");
  // A chunk that does not continue at the current offset.
  auto ooo = call("PATCH", loc, "zz", {{"Content-Range", "10-11"}});
  EXPECT_EQ(ooo.status, 416);
  EXPECT_EQ(ooo.h("Range"), "0-4");
  auto st = call("GET", loc);
  EXPECT_EQ(st.status, 204);
  EXPECT_EQ(st.h("Range"), "0-4");
  EXPECT_EQ(call("PATCH", loc, "fgh", {{"Content-Range", "5-7"}}).status, 202);
  // PUT with the final chunk and a wrong digest fails and ends the session.
  std::string all = "abcdefghij";
  auto bad = call("PUT", loc + "?digest=" + Digest::of("nope").str(), "ij");
  EXPECT_EQ(bad.code(), "DIGEST_INVALID");
  EXPECT_EQ(call("GET", loc).code(), "BLOB_UPLOAD_UNKNOWN");
  // Again, correctly.
  loc = call("POST", "/v2/repo/blobs/uploads/").h("Location");
  EXPECT_EQ(call("PATCH", loc, "abcdefgh").status, 202);  // streamed chunk without Content-Range
  auto done = call("PUT", loc + "?digest=" + Digest::of(all).str(), "ij");
  EXPECT_EQ(done.status, 201);
  EXPECT_EQ(call("GET", "/v2/repo/blobs/" + Digest::of(all).str()).body, all);
  // Uploads are bound to their repository; DELETE cancels.
  loc = call("POST", "/v2/repo/blobs/uploads/").h("Location");
  std::string id = loc.substr(loc.rfind('/') + 1);
  EXPECT_EQ(call("GET", "/v2/other/blobs/uploads/" + id).code(), "BLOB_UPLOAD_UNKNOWN");
  EXPECT_EQ(call("DELETE", loc).status, 204);
  EXPECT_EQ(call("GET", loc).status, 404);
  // A session finished with a sha512 digest.
  loc = call("POST", "/v2/repo/blobs/uploads/").h("Location");
  EXPECT_EQ(call("PATCH", loc, all).status, 202);
  auto d512 = Digest::of(all, DigestAlg::sha512).str();
  EXPECT_EQ(call("PUT", loc + "?digest=" + d512).status, 201);
  EXPECT_EQ(call("GET", "/v2/repo/blobs/" + d512).body, all);
}

TEST_F(RegistryTest, StaleUploadsExpire) {
  cfg_.upload_expiry = 3600;
  open();
  std::string loc = call("POST", "/v2/repo/blobs/uploads/").h("Location");
  ASSERT_EQ(call("PATCH", loc, "partial").status, 202);
  auto none = reg_->expire_uploads();
  ASSERT_TRUE(none.ok()) << none.error().str();
  EXPECT_EQ(*none, 0u);
  EXPECT_EQ(call("GET", loc).status, 204);  // fresh sessions survive
  // The same registry with an expiry in the past drops it.
  reg_.reset();
  cfg_.upload_expiry = -10;
  open();
  auto gone = reg_->expire_uploads();
  ASSERT_TRUE(gone.ok()) << gone.error().str();
  EXPECT_EQ(*gone, 1u);
  EXPECT_EQ(call("GET", loc).code(), "BLOB_UPLOAD_UNKNOWN");
}

TEST_F(RegistryTest, UploadSessionCap) {
  cfg_.max_uploads = 2;
  open();
  EXPECT_EQ(call("POST", "/v2/a/blobs/uploads/").status, 202);
  std::string loc = call("POST", "/v2/a/blobs/uploads/").h("Location");
  auto over = call("POST", "/v2/a/blobs/uploads/");
  EXPECT_EQ(over.status, 429);
  EXPECT_EQ(over.code(), "TOOMANYREQUESTS");
  EXPECT_EQ(push_blob("a", "monolithic pushes need no session").status, 201);
  EXPECT_EQ(call("DELETE", loc).status, 204);
  EXPECT_EQ(call("POST", "/v2/a/blobs/uploads/").status, 202);
}

TEST_F(RegistryTest, CrossRepositoryMount) {
  open();
  std::string data = "shared layer";
  Digest d = Digest::of(data);
  ASSERT_EQ(push_blob("src", data).status, 201);
  auto m = call("POST", "/v2/dst/blobs/uploads/?mount=" + d.str() + "&from=src");
  EXPECT_EQ(m.status, 201);
  EXPECT_EQ(m.h("Location"), "/v2/dst/blobs/" + d.str());
  EXPECT_EQ(call("GET", "/v2/dst/blobs/" + d.str()).body, data);
  // Not in `from`: a plain upload session instead.
  auto f = call("POST", "/v2/dst2/blobs/uploads/?mount=" + d.str() + "&from=nowhere");
  EXPECT_EQ(f.status, 202);
  EXPECT_NE(f.h("Location").find("/blobs/uploads/"), std::string::npos);
}

TEST_F(RegistryTest, Manifests) {
  open();
  std::string m = push_image("app", "v1", "1");
  Digest md = Digest::of(m);
  auto g = call("GET", "/v2/app/manifests/v1");
  EXPECT_EQ(g.status, 200);
  EXPECT_EQ(g.body, m);
  EXPECT_EQ(g.h("Content-Type"), "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(g.h("Docker-Content-Digest"), md.str());
  EXPECT_EQ(call("HEAD", "/v2/app/manifests/" + md.str()).status, 200);
  EXPECT_EQ(call("GET", "/v2/app/manifests/v2").code(), "MANIFEST_UNKNOWN");
  EXPECT_EQ(call("GET", "/v2/nope/manifests/v1").code(), "NAME_UNKNOWN");
  // Missing blobs.
  auto miss = put_manifest("app", "v3", manifest_for("{}", "absent"));
  EXPECT_EQ(miss.status, 400);
  EXPECT_EQ(miss.code(), "MANIFEST_BLOB_UNKNOWN");
  // Blobs of another repository do not count.
  auto other = put_manifest("app2", "v1", m);
  EXPECT_EQ(other.code(), "MANIFEST_BLOB_UNKNOWN");
  EXPECT_EQ(put_manifest("app", "v4", "{not json").code(), "MANIFEST_INVALID");
  // Digest reference must match the body.
  EXPECT_EQ(put_manifest("app", Digest::of("x").str(), m).code(), "DIGEST_INVALID");
  EXPECT_EQ(put_manifest("app", md.str(), m).status, 201);
  // Size limit.
  std::string huge = m.substr(0, m.size() - 1) + ",\"annotations\":{\"x\":\"" + std::string(5 << 20, 'a') + "\"}}";
  EXPECT_EQ(put_manifest("app", "big", huge).status, 413);
  // Index: children must exist.
  std::string idx = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                    md.str() + R"(","size":)" + std::to_string(m.size()) + "}]}";
  EXPECT_EQ(call("PUT", "/v2/app/manifests/idx", idx, {{"Content-Type", "application/vnd.oci.image.index.v1+json"}}).status, 201);
  EXPECT_EQ(call("PUT", "/v2/app2/manifests/idx", idx, {{"Content-Type", "application/vnd.oci.image.index.v1+json"}}).code(),
            "MANIFEST_BLOB_UNKNOWN");
  // Deletes: tag, then manifest (which drops its tags).
  EXPECT_EQ(call("DELETE", "/v2/app/manifests/idx").status, 202);
  EXPECT_EQ(call("GET", "/v2/app/manifests/idx").code(), "MANIFEST_UNKNOWN");
  EXPECT_EQ(call("DELETE", "/v2/app/manifests/" + md.str()).status, 202);
  EXPECT_EQ(call("GET", "/v2/app/manifests/v1").code(), "MANIFEST_UNKNOWN");
  EXPECT_EQ(call("DELETE", "/v2/app/manifests/" + md.str()).status, 404);
  // Blob delete.
  std::string layer_digest = Digest::of("layer-1").str();
  EXPECT_EQ(call("DELETE", "/v2/app/blobs/" + layer_digest).status, 202);
  EXPECT_EQ(call("GET", "/v2/app/blobs/" + layer_digest).status, 404);
}

TEST_F(RegistryTest, TagsAndCatalogPagination) {
  open();
  for (const char* t : {"c", "a", "b", "d"}) push_image("pag", t, "x");
  auto all = json::parse(call("GET", "/v2/pag/tags/list").body);
  EXPECT_EQ(all["tags"], json({"a", "b", "c", "d"}));
  auto p1 = call("GET", "/v2/pag/tags/list?n=2");
  EXPECT_EQ(json::parse(p1.body)["tags"], json({"a", "b"}));
  EXPECT_EQ(p1.h("Link"), "</v2/pag/tags/list?n=2&last=b>; rel=\"next\"");
  auto p2 = call("GET", "/v2/pag/tags/list?n=2&last=b");
  EXPECT_EQ(json::parse(p2.body)["tags"], json({"c", "d"}));
  EXPECT_EQ(p2.h("Link"), "");
  EXPECT_EQ(json::parse(call("GET", "/v2/pag/tags/list?n=100000000").body)["tags"].size(), 4u);
  EXPECT_EQ(call("GET", "/v2/pag/tags/list?n=-1").status, 400);
  EXPECT_EQ(call("GET", "/v2/none/tags/list").code(), "NAME_UNKNOWN");
  push_image("pag2", "t", "y");
  push_image("pag3", "t", "z");
  auto c1 = call("GET", "/v2/_catalog?n=2");
  EXPECT_EQ(json::parse(c1.body)["repositories"], json({"pag", "pag2"}));
  EXPECT_EQ(c1.h("Link"), "</v2/_catalog?n=2&last=pag2>; rel=\"next\"");
  EXPECT_EQ(json::parse(call("GET", "/v2/_catalog?n=2&last=pag2").body)["repositories"], json({"pag3"}));
}

TEST_F(RegistryTest, Referrers) {
  open();
  std::string m = push_image("r", "v1", "1");
  Digest md = Digest::of(m);
  ASSERT_EQ(push_blob("r", "{}").status, 201);
  ASSERT_EQ(push_blob("r", "sig").status, 201);
  std::string subj = R"(,"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + md.str() +
                     R"(","size":)" + std::to_string(m.size()) + "}";
  std::string sig = manifest_for("{}", "sig", R"(,"artifactType":"application/x-sig")" + subj + R"(,"annotations":{"k":"v"})");
  auto put = put_manifest("r", Digest::of(sig).str(), sig);
  EXPECT_EQ(put.status, 201);
  EXPECT_EQ(put.h("OCI-Subject"), md.str());
  std::string sbom = manifest_for("{}", "sig", R"(,"artifactType":"application/x-sbom")" + subj);
  EXPECT_EQ(put_manifest("r", Digest::of(sbom).str(), sbom).status, 201);
  auto all = call("GET", "/v2/r/referrers/" + md.str());
  EXPECT_EQ(all.status, 200);
  EXPECT_EQ(all.h("Content-Type"), "application/vnd.oci.image.index.v1+json");
  auto j = json::parse(all.body);
  EXPECT_EQ(j["manifests"].size(), 2u);
  auto f = call("GET", "/v2/r/referrers/" + md.str() + "?artifactType=application/x-sig");
  EXPECT_EQ(f.h("OCI-Filters-Applied"), "artifactType");
  auto fj = json::parse(f.body);
  ASSERT_EQ(fj["manifests"].size(), 1u);
  EXPECT_EQ(fj["manifests"][0]["digest"], Digest::of(sig).str());
  EXPECT_EQ(fj["manifests"][0]["annotations"]["k"], "v");
  // Unknown subject: an empty index, never 404.
  auto none = call("GET", "/v2/r/referrers/" + Digest::of("zz").str());
  EXPECT_EQ(none.status, 200);
  EXPECT_TRUE(json::parse(none.body)["manifests"].empty());
}

TEST_F(RegistryTest, ReadOnly) {
  cfg_.read_only = true;
  open();
  auto r = push_blob("a", "x");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.code(), "UNSUPPORTED");
  EXPECT_EQ(call("GET", "/v2/").status, 200);
}

class RegistryAuthTest : public RegistryTest {
 protected:
  void SetUp() override {
    RegistryTest::SetUp();
    // alice:p (bcrypt), bob:p
    ASSERT_TRUE(atomic_write_file(dir_->path() + "/htpasswd",
                                  "alice:$2y$05$j74BXNU7H7AEAwrNBP9xKuJ9BX5pMduz2vOvNUUHZaFwIZe7BP/Zu\n"
                                  "bob:$2y$05$j74BXNU7H7AEAwrNBP9xKuJ9BX5pMduz2vOvNUUHZaFwIZe7BP/Zu\n")
                    .ok());
    ASSERT_TRUE(atomic_write_file(dir_->path() + "/acl.yaml", R"(rules:
  - {user: alice, repos: "team/*", actions: [pull, push, delete]}
  - {user: bob, repos: "team/*", actions: [pull]}
  - {user: anonymous, repos: "public/*", actions: [pull]}
  - {user: alice, repos: "public/*", actions: [pull, push]}
)").ok());
    cfg_.htpasswd = dir_->path() + "/htpasswd";
    cfg_.acl = dir_->path() + "/acl.yaml";
  }
  static std::pair<std::string, std::string> basic(const std::string& u) {
    // base64("<u>:p")
    return {"Authorization", u == "alice" ? "Basic YWxpY2U6cA==" : "Basic Ym9iOnA="};
  }
};

TEST_F(RegistryAuthTest, BasicAuthAndAcl) {
  open();
  auto anon = call("GET", "/v2/");
  EXPECT_EQ(anon.status, 401);
  EXPECT_EQ(anon.h("WWW-Authenticate"), "Basic realm=\"berth-registry\"");
  EXPECT_EQ(call("GET", "/v2/", "", {{"Authorization", "Basic YWxpY2U6eA=="}}).status, 401);  // alice:x
  EXPECT_EQ(call("GET", "/v2/", "", {basic("alice")}).status, 200);
  EXPECT_EQ(push_blob("team/app", "layer", {basic("alice")}).status, 201);
  auto bob_push = push_blob("team/app", "other", {basic("bob")});
  EXPECT_EQ(bob_push.status, 403);
  EXPECT_EQ(bob_push.code(), "DENIED");
  EXPECT_EQ(call("GET", "/v2/team/app/blobs/" + Digest::of("layer").str(), "", {basic("bob")}).status, 200);
  EXPECT_EQ(call("GET", "/v2/team/app/blobs/" + Digest::of("layer").str()).status, 401);
  EXPECT_EQ(call("DELETE", "/v2/team/app/blobs/" + Digest::of("layer").str(), "", {basic("bob")}).status, 403);
  EXPECT_EQ(push_blob("public/x", "pub", {basic("alice")}).status, 201);
  EXPECT_EQ(call("GET", "/v2/public/x/blobs/" + Digest::of("pub").str()).status, 200);
  // Mount needs pull on `from`: anonymous-visible only.
  // Catalog: anonymous sees only public repositories.
  auto cat = json::parse(call("GET", "/v2/_catalog").body);
  EXPECT_EQ(cat["repositories"], json({"public/x"}));
  auto cat_bob = json::parse(call("GET", "/v2/_catalog", "", {basic("bob")}).body);
  EXPECT_EQ(cat_bob["repositories"], json({"team/app"}));
}

TEST_F(RegistryAuthTest, BearerTokens) {
  ASSERT_TRUE(atomic_write_file(dir_->path() + "/token.key", std::string(48, 'K')).ok());
  cfg_.token_key = dir_->path() + "/token.key";
  open();
  auto ch = call("GET", "/v2/team/app/tags/list");
  EXPECT_EQ(ch.status, 401);
  EXPECT_EQ(ch.h("WWW-Authenticate"),
            "Bearer realm=\"http://reg.test/token\",service=\"berth-registry\",scope=\"repository:team/app:pull\"");
  auto tok = call("GET", "/token?service=berth-registry&scope=repository:team/app:pull,push", "", {basic("bob")});
  ASSERT_EQ(tok.status, 200);
  auto tj = json::parse(tok.body);
  std::string t = tj["token"];
  EXPECT_EQ(tj["access_token"], t);
  // bob asked for push but the ACL grants pull only.
  auto claims = verify_token(t, std::string(48, 'K'), "berth-registry", "berth-registry", time(nullptr));
  ASSERT_TRUE(claims.ok());
  EXPECT_EQ(claims->access["team/app"], unsigned(kPull));
  std::pair<std::string, std::string> bearer{"Authorization", "Bearer " + t};
  EXPECT_EQ(call("GET", "/v2/", "", {bearer}).status, 200);
  auto push = push_blob("team/app", "b", {bearer});
  EXPECT_EQ(push.status, 401);
  EXPECT_NE(push.h("WWW-Authenticate").find("insufficient_scope"), std::string::npos);
  // A token for one repository is not valid for another.
  EXPECT_EQ(call("GET", "/v2/team/other/tags/list", "", {bearer}).status, 401);
  // Wrong password at the token endpoint; garbage token.
  EXPECT_EQ(call("GET", "/token?scope=repository:team/app:pull", "", {{"Authorization", "Basic Ym9iOng="}}).status, 401);
  EXPECT_EQ(call("GET", "/v2/", "", {{"Authorization", "Bearer abc.def.ghi"}}).status, 401);
  // alice pushes with a token.
  auto at = json::parse(call("GET", "/token?scope=repository:team/app:pull,push", "", {basic("alice")}).body);
  std::pair<std::string, std::string> ab{"Authorization", "Bearer " + at["token"].get<std::string>()};
  EXPECT_EQ(push_blob("team/app", "b", {ab}).status, 201);
}

TEST_F(RegistryTest, GarbageCollection) {
  open();
  std::string kept = push_image("gc", "v1", "keep");
  ASSERT_EQ(push_blob("gc", "orphan").status, 201);
  // An untagged manifest.
  ASSERT_EQ(push_blob("gc", "{\"seed\":\"gone\"}").status, 201);
  ASSERT_EQ(push_blob("gc", "layer-gone").status, 201);
  std::string gone = manifest_for("{\"seed\":\"gone\"}", "layer-gone");
  ASSERT_EQ(put_manifest("gc", Digest::of(gone).str(), gone).status, 201);
  // Inside the grace period nothing goes.
  auto g0 = reg_->gc(3600);
  ASSERT_TRUE(g0.ok()) << g0.error().str();
  EXPECT_EQ(g0->blobs_removed, 0u);
  EXPECT_EQ(call("GET", "/v2/gc/blobs/" + Digest::of("orphan").str()).status, 200);
  // Everything is "old" when the grace is negative.
  auto g = reg_->gc(-10);
  ASSERT_TRUE(g.ok()) << g.error().str();
  EXPECT_EQ(g->manifests_removed, 1u);
  EXPECT_EQ(g->blobs_removed, 4u);  // orphan, gone config, gone layer, gone manifest
  EXPECT_EQ(call("GET", "/v2/gc/blobs/" + Digest::of("orphan").str()).status, 404);
  EXPECT_EQ(call("GET", "/v2/gc/manifests/" + Digest::of(gone).str()).status, 404);
  EXPECT_EQ(call("GET", "/v2/gc/manifests/v1").body, kept);
  EXPECT_EQ(call("GET", "/v2/gc/blobs/" + Digest::of("layer-keep").str()).status, 200);
  // Re-pushing a swept blob works.
  EXPECT_EQ(push_blob("gc", "orphan").status, 201);
  EXPECT_EQ(call("GET", "/v2/gc/blobs/" + Digest::of("orphan").str()).status, 200);
}

}  // namespace
