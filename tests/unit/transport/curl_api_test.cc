#include "transport/curl_api.h"

#include <gtest/gtest.h>

#include <string>

#include "transport/http.h"

using namespace berth;
using namespace berth::transport;

TEST(CurlApi, MissingLibraryIsOneLineError) {
  auto r = load_curl_api("libberth-no-such-curl.so.4");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unsupported);
  const std::string& m = r.error().message;
  EXPECT_EQ(m.rfind("libberth-no-such-curl.so.4 could not be loaded (needed for HTTP): ", 0), 0u) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

TEST(CurlApi, LibraryWithoutCurlSymbolsIsRejected) {
  // libc loads fine but is not libcurl: the first missing symbol is named.
  auto r = load_curl_api("libc.so.6");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("libc.so.6 lacks curl_global_init (needed for HTTP)"), std::string::npos)
      << r.error().message;
}

TEST(CurlApi, LoadsOnceAndWorks) {
  auto a = curl_api();
  ASSERT_TRUE(a.ok()) << a.error().str();
  auto b = curl_api();
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);  // one table per process
  const CurlApi& cu = **a;
  EXPECT_STREQ(cu.easy_strerror(CURLE_OK), "No error");
  CURL* e = cu.easy_init();
  ASSERT_NE(e, nullptr);
  // A variadic setopt through the pointer reaches libcurl: an unknown
  // protocol list is refused there, a valid one accepted.
  EXPECT_EQ(cu.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https"), CURLE_OK);
  EXPECT_NE(cu.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "no-such-protocol"), CURLE_OK);
  EXPECT_EQ(cu.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 500L), CURLE_OK);
  cu.easy_cleanup(e);
}

TEST(CurlApi, HttpClientReportsTransportErrors) {
  auto c = HttpClient::create();
  ASSERT_TRUE(c.ok()) << c.error().str();
  HttpRequest req;
  req.url = "http://127.0.0.1:1/v2/";  // nothing listens on port 1
  auto r = (*c)->perform(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::network) << r.error().str();
  EXPECT_NE(r.error().message.find("GET http://127.0.0.1:1/v2/"), std::string::npos) << r.error().message;
}
