#include "registry/names.h"

#include <gtest/gtest.h>

using namespace berth::registry;

TEST(RegistryNames, RepoGrammar) {
  for (const char* ok : {"a", "foo/bar", "a.b/c_d/e__f/g-h", "x--y", "0/1/2", "library/busybox"})
    EXPECT_TRUE(valid_repo_name(ok)) << ok;
  for (const char* bad : {"", "A", "foo/", "/foo", "foo//bar", "-a", "a-", "a___b", "a..b", "a._b", "a/../b",
                          "foo bar", "foo:bar", "a/B"})
    EXPECT_FALSE(valid_repo_name(bad)) << bad;
  EXPECT_FALSE(valid_repo_name(std::string(256, 'a')));
  EXPECT_TRUE(valid_repo_name(std::string(255, 'a')));
}

TEST(RegistryNames, TagGrammar) {
  EXPECT_TRUE(valid_tag("latest"));
  EXPECT_TRUE(valid_tag("_x.Y-1"));
  EXPECT_TRUE(valid_tag(std::string(128, 'a')));
  EXPECT_FALSE(valid_tag(std::string(129, 'a')));
  EXPECT_FALSE(valid_tag(".hidden"));
  EXPECT_FALSE(valid_tag("-x"));
  EXPECT_FALSE(valid_tag("a/b"));
  EXPECT_FALSE(valid_tag(""));
}

TEST(RegistryNames, Routes) {
  auto r = parse_route("/v2/");
  EXPECT_EQ(r.endpoint, Endpoint::base);
  r = parse_route("/v2/_catalog");
  EXPECT_EQ(r.endpoint, Endpoint::catalog);
  r = parse_route("/v2/a/b/tags/list");
  EXPECT_EQ(r.endpoint, Endpoint::tags_list);
  EXPECT_EQ(r.name, "a/b");
  r = parse_route("/v2/a/manifests/latest");
  EXPECT_EQ(r.endpoint, Endpoint::manifest);
  EXPECT_EQ(r.ref, "latest");
  r = parse_route("/v2/blobs/blobs/sha256:x");  // a repository may be called "blobs"
  EXPECT_EQ(r.endpoint, Endpoint::blob);
  EXPECT_EQ(r.name, "blobs");
  r = parse_route("/v2/a/blobs/uploads/");
  EXPECT_EQ(r.endpoint, Endpoint::upload_start);
  EXPECT_EQ(r.name, "a");
  r = parse_route("/v2/a/blobs/uploads");
  EXPECT_EQ(r.endpoint, Endpoint::upload_start);
  r = parse_route("/v2/a/b/blobs/uploads/abc");
  EXPECT_EQ(r.endpoint, Endpoint::upload);
  EXPECT_EQ(r.name, "a/b");
  EXPECT_EQ(r.ref, "abc");
  r = parse_route("/v2/a/referrers/sha256:x");
  EXPECT_EQ(r.endpoint, Endpoint::referrers);
  EXPECT_EQ(parse_route("/v2/manifests/x").endpoint, Endpoint::none);
  EXPECT_EQ(parse_route("/v3/a/manifests/x").endpoint, Endpoint::none);
  EXPECT_EQ(parse_route("/token").endpoint, Endpoint::token);
}

TEST(RegistryNames, QueryAndRanges) {
  std::multimap<std::string, std::string> q;
  ASSERT_TRUE(parse_query("a=1&scope=x%3Ay&scope=z+w&flag", &q));
  EXPECT_EQ(q.count("scope"), 2u);
  EXPECT_EQ(q.find("a")->second, "1");
  EXPECT_TRUE(q.count("flag"));
  EXPECT_FALSE(parse_query("a=%zz", &q));
  EXPECT_FALSE(parse_query("a=%00", &q));
  EXPECT_FALSE(parse_query("a=%4", &q));
  uint64_t s, e;
  ASSERT_TRUE(parse_content_range("0-99", &s, &e));
  EXPECT_EQ(e, 99u);
  ASSERT_TRUE(parse_content_range("bytes=5-9", &s, &e));
  EXPECT_EQ(s, 5u);
  EXPECT_FALSE(parse_content_range("9-5", &s, &e));
  EXPECT_FALSE(parse_content_range("x-5", &s, &e));
  EXPECT_FALSE(parse_content_range("99999999999999999999999-1", &s, &e));
}
