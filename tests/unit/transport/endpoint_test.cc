#include "transport/endpoint.h"

#include <gtest/gtest.h>

#include "transport/retry.h"

using namespace berth;
using namespace berth::transport;

static Digest dg() { return Digest::of("x"); }

TEST(Endpoint, HostsAndSchemes) {
  EXPECT_EQ(api_host("docker.io"), "registry-1.docker.io");
  EXPECT_EQ(api_host("localhost:5000"), "localhost:5000");
  EXPECT_TRUE(is_loopback("localhost:5000"));
  EXPECT_TRUE(is_loopback("127.0.0.1:5000"));
  EXPECT_TRUE(is_loopback("127.1.2.3"));
  EXPECT_TRUE(is_loopback("[::1]:5000"));
  EXPECT_FALSE(is_loopback("127.example.com:5000"));
  EXPECT_FALSE(is_loopback("10.0.0.1:5000"));
  EXPECT_FALSE(is_loopback("localhost.evil.com"));
  EXPECT_EQ(candidate_schemes("quay.io", true), (std::vector<std::string>{"https"}));
  EXPECT_EQ(candidate_schemes("localhost:5000", true), (std::vector<std::string>{"https"}));
  EXPECT_EQ(candidate_schemes("localhost:5000", false), (std::vector<std::string>{"http", "https"}));
  EXPECT_EQ(candidate_schemes("reg.lan:5000", false), (std::vector<std::string>{"https", "http"}));
}

TEST(Endpoint, Urls) {
  Digest d = dg();
  EXPECT_EQ(v2_url("https://h"), "https://h/v2/");
  EXPECT_EQ(manifest_url("http://h:5000", "library/busybox", "latest"), "http://h:5000/v2/library/busybox/manifests/latest");
  EXPECT_EQ(blob_url("https://h", "a/b", d), "https://h/v2/a/b/blobs/" + d.str());
  EXPECT_EQ(upload_start_url("https://h", "a"), "https://h/v2/a/blobs/uploads/");
  EXPECT_EQ(mount_url("https://h", "a", d, "b/c"),
            "https://h/v2/a/blobs/uploads/?mount=sha256%3A" + d.hex() + "&from=b%2Fc");
  EXPECT_EQ(token_url("https://auth/token", "reg", {"repository:a:pull", "repository:b:pull,push"}),
            "https://auth/token?service=reg&scope=repository%3Aa%3Apull&scope=repository%3Ab%3Apull%2Cpush");
  EXPECT_EQ(token_url("https://auth/token?x=1", "", {}), "https://auth/token?x=1");
}

TEST(Endpoint, ResolveLocation) {
  EXPECT_EQ(resolve_url("http://h:5000/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/u1?_state=x"),
            "http://h:5000/v2/a/blobs/uploads/u1?_state=x");
  EXPECT_EQ(resolve_url("http://h:5000/v2/a/blobs/uploads/", "https://other/x"), "https://other/x");
  EXPECT_EQ(resolve_url("http://h/v2/a/blobs/uploads/?mount=1", "u2"), "http://h/v2/a/blobs/uploads/u2");
  EXPECT_EQ(resolve_url("https://h/v2/x", "//cdn/y"), "https://cdn/y");
  EXPECT_EQ(add_query("http://h/u?_state=a", "digest", "sha256:ab"), "http://h/u?_state=a&digest=sha256%3Aab");
  EXPECT_EQ(add_query("http://h/u", "digest", "sha256:ab"), "http://h/u?digest=sha256%3Aab");
}

TEST(Endpoint, UploadRange) {
  EXPECT_EQ(parse_upload_range("0-1023"), 1024u);
  EXPECT_EQ(parse_upload_range("bytes=0-99"), 100u);
  EXPECT_FALSE(parse_upload_range("5-10").has_value());
  EXPECT_FALSE(parse_upload_range("0-").has_value());
  EXPECT_FALSE(parse_upload_range("garbage").has_value());
  EXPECT_FALSE(parse_upload_range("0-12x").has_value());
}

TEST(Retry, WhatIsRetried) {
  EXPECT_TRUE(is_retryable({true, 0}));
  EXPECT_TRUE(is_retryable({false, 500}));
  EXPECT_TRUE(is_retryable({false, 502}));
  EXPECT_TRUE(is_retryable({false, 503}));
  EXPECT_TRUE(is_retryable({false, 429}));
  EXPECT_TRUE(is_retryable({false, 408}));
  EXPECT_FALSE(is_retryable({false, 501}));
  EXPECT_FALSE(is_retryable({false, 404}));
  EXPECT_FALSE(is_retryable({false, 401}));
  EXPECT_FALSE(is_retryable({false, 400}));
  EXPECT_FALSE(is_retryable({false, 200}));
  RetryPolicy p;
  p.max_attempts = 3;
  EXPECT_TRUE(should_retry(p, 1, {false, 503}));
  EXPECT_TRUE(should_retry(p, 2, {false, 503}));
  EXPECT_FALSE(should_retry(p, 3, {false, 503}));  // bounded
  EXPECT_FALSE(should_retry(p, 1, {false, 403}));
}

TEST(Retry, BackoffGrowsIsCappedAndJittered) {
  RetryPolicy p;
  p.base_ms = 100;
  p.max_ms = 1000;
  EXPECT_EQ(backoff_ms(p, 1, 1.0), 100);
  EXPECT_EQ(backoff_ms(p, 2, 1.0), 200);
  EXPECT_EQ(backoff_ms(p, 3, 1.0), 400);
  EXPECT_EQ(backoff_ms(p, 4, 1.0), 800);
  EXPECT_EQ(backoff_ms(p, 5, 1.0), 1000);
  EXPECT_EQ(backoff_ms(p, 60, 1.0), 1000);  // no overflow
  EXPECT_EQ(backoff_ms(p, 3, 0.0), 200);    // jitter keeps at least half
  for (double u : {0.0, 0.3, 0.7, 0.999}) {
    int64_t v = backoff_ms(p, 4, u);
    EXPECT_GE(v, 400);
    EXPECT_LE(v, 800);
  }
  EXPECT_EQ(backoff_ms(p, 1, 0.5, 0), 0);       // Retry-After: 0
  EXPECT_EQ(backoff_ms(p, 1, 0.5, 3), 1000);    // capped
  EXPECT_EQ(backoff_ms(p, 1, 5.0), 100);        // unit clamped
}
