#include "transport/auth.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/fs.h"

using namespace berth;
using namespace berth::transport;

TEST(Challenge, DockerHubBearer) {
  auto r = parse_challenges(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")");
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].scheme, "bearer");
  EXPECT_EQ((*r)[0].param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ((*r)[0].param("service"), "registry.docker.io");
  EXPECT_EQ((*r)[0].param("scope"), "repository:library/busybox:pull");
}

TEST(Challenge, BasicAndCaseAndSpaces) {
  auto r = parse_challenges(R"(BASIC  Realm = "Registry Realm" , charset=UTF-8)");
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].scheme, "basic");
  EXPECT_EQ((*r)[0].param("realm"), "Registry Realm");
  EXPECT_EQ((*r)[0].param("charset"), "UTF-8");
}

TEST(Challenge, SeveralInOneHeader) {
  auto r = parse_challenges(R"(Basic realm="a", Bearer realm="https://t/x",service=reg, Negotiate)");
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].scheme, "basic");
  EXPECT_EQ((*r)[1].scheme, "bearer");
  EXPECT_EQ((*r)[1].param("service"), "reg");
  EXPECT_EQ((*r)[2].scheme, "negotiate");
}

TEST(Challenge, QuotedEscapesAndCommasInsideQuotes) {
  auto r = parse_challenges(R"(Bearer realm="https://t/a,b",scope="repository:x:pull,push",error="say \"hi\"")");
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ((*r)[0].param("realm"), "https://t/a,b");
  EXPECT_EQ((*r)[0].param("scope"), "repository:x:pull,push");
  EXPECT_EQ((*r)[0].param("error"), "say \"hi\"");
}

TEST(Challenge, Token68IsSkipped) {
  auto r = parse_challenges("Basic abc123==, Bearer realm=x");
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].param("realm"), "x");
}

TEST(Challenge, HostileInputIsAnError) {
  EXPECT_FALSE(parse_challenges("").ok());
  EXPECT_FALSE(parse_challenges(R"(Bearer realm="unterminated)").ok());
  EXPECT_FALSE(parse_challenges("Bearer realm=x;y").ok());
  EXPECT_FALSE(parse_challenges("\"quoted-scheme\"").ok());
  EXPECT_FALSE(parse_challenges(std::string(20000, 'a')).ok());
  std::string many;
  for (int i = 0; i < 40; i++) many += "Basic realm=x, ";
  EXPECT_FALSE(parse_challenges(many).ok());
}

TEST(Token, Parse) {
  auto t = parse_token_response(R"({"token":"abc.def","expires_in":300})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->token, "abc.def");
  EXPECT_EQ(t->expires_in, 300);
  t = parse_token_response(R"({"access_token":"zz","expires_in":5})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->token, "zz");
  EXPECT_EQ(t->expires_in, 60);  // the spec's minimum
  t = parse_token_response(R"({"token":"x"})");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->expires_in, 60);
  EXPECT_FALSE(parse_token_response(R"({"expires_in":5})").ok());
  EXPECT_FALSE(parse_token_response("not json").ok());
  EXPECT_FALSE(parse_token_response(R"({"token":"a\nb"})").ok());  // header injection
  EXPECT_FALSE(parse_token_response(R"([1])").ok());
}

TEST(Base64, RoundTrip) {
  for (std::string s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", "user:p@ss:word", std::string("\0\xff\x10", 3)}) {
    auto d = base64_decode(base64_encode(s));
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(base64_encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_FALSE(base64_decode("a").has_value());
  EXPECT_FALSE(base64_decode("ab$d").has_value());
}

TEST(AuthKey, Normalize) {
  EXPECT_EQ(normalize_auth_key("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(normalize_auth_key("registry-1.docker.io"), "docker.io");
  EXPECT_EQ(normalize_auth_key("http://LocalHost:5000/"), "localhost:5000");
  EXPECT_EQ(normalize_auth_key("quay.io/org/repo"), "quay.io/org/repo");
  EXPECT_EQ(normalize_auth_key("127.0.0.1:5000"), "127.0.0.1:5000");
}

class AuthFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::create("/tmp", "berth-authfile-test");
    ASSERT_TRUE(t.ok());
    dir_ = std::make_unique<TempDir>(std::move(*t));
  }
  std::string path(const char* n) { return dir_->path() + "/" + n; }
  std::unique_ptr<TempDir> dir_;
};

TEST_F(AuthFileTest, RoundTripKeepsOtherKeysAndMode) {
  std::string p = path("sub/auth.json");
  ASSERT_TRUE(mkdir_p(dir_->path() + "/sub").ok());
  ASSERT_TRUE(atomic_write_file(p, R"({"auths":{"https://index.docker.io/v1/":{"auth":"dTE6cDE="},"quay.io":{}},"credsStore":"x","psFormat":"t"})").ok());
  auto f = AuthFile::load(p);
  ASSERT_TRUE(f.ok()) << f.error().str();
  auto c = f->lookup("docker.io");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->username, "u1");
  EXPECT_EQ(c->password, "p1");
  f->set("localhost:5000", {"alice", "s3:cret"});
  ASSERT_TRUE(f->save(p).ok());
  struct stat st;
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto g = AuthFile::load(p);
  ASSERT_TRUE(g.ok()) << g.error().str();
  auto a = g->lookup("localhost:5000");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->username, "alice");
  EXPECT_EQ(a->password, "s3:cret");  // a ':' in the password survives
  EXPECT_TRUE(g->lookup("docker.io").has_value());
  auto text = read_file(p);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("credsStore"), std::string::npos);
  EXPECT_NE(text->find("psFormat"), std::string::npos);
  EXPECT_NE(text->find("https://index.docker.io/v1/"), std::string::npos);  // written back under its original key
  EXPECT_NE(text->find("quay.io"), std::string::npos);                      // the helper placeholder survives

  EXPECT_TRUE(g->erase("http://localhost:5000"));
  EXPECT_FALSE(g->erase("localhost:5000"));
  ASSERT_TRUE(g->save(p).ok());
  auto h = AuthFile::load(p);
  ASSERT_TRUE(h.ok());
  EXPECT_FALSE(h->lookup("localhost:5000").has_value());
}

TEST_F(AuthFileTest, NamespacedLookupPrefersTheMostSpecific) {
  AuthFile f;
  f.set("quay.io", {"host", "1"});
  f.set("quay.io/team", {"team", "2"});
  EXPECT_EQ(f.lookup("quay.io/team/app")->username, "team");
  EXPECT_EQ(f.lookup("quay.io/other/app")->username, "host");
  EXPECT_FALSE(f.lookup("docker.io/library/x").has_value());
}

TEST_F(AuthFileTest, MissingIsEmptyMalformedIsAnError) {
  auto m = AuthFile::load(path("nope.json"));
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->keys().empty());
  ASSERT_TRUE(atomic_write_file(path("bad.json"), "{\"auths\": [").ok());
  auto b = AuthFile::load(path("bad.json"));
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().message.find("bad.json"), std::string::npos);
  ASSERT_TRUE(atomic_write_file(path("bad2.json"), R"({"auths":{"x":{"auth":"bm9jb2xvbg=="}}})").ok());  // "nocolon"
  EXPECT_FALSE(AuthFile::load(path("bad2.json")).ok());
  ASSERT_TRUE(atomic_write_file(path("bad3.json"), R"({"auths":"x"})").ok());
  EXPECT_FALSE(AuthFile::load(path("bad3.json")).ok());
}

TEST_F(AuthFileTest, FindCredentialsUsesTheGivenFileOnly) {
  AuthFile f;
  f.set("reg.example:5000", {"bob", "pw"});
  ASSERT_TRUE(f.save(path("a.json")).ok());
  auto c = find_credentials("reg.example:5000", path("a.json"));
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->username, "bob");
  auto none = find_credentials("other:1", path("a.json"));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}
