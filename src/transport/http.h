// berth/transport: a small HTTP/1.1 client over libcurl for the registry API.
//
// Promises:
//  - Connections, DNS results and TLS sessions are shared by all threads of a
//    Client (a curl share handle); each request runs on a pooled easy handle,
//    so parallel blob transfers reuse keep-alive connections.
//  - Response bodies are never decoded (no Accept-Encoding): blob bytes arrive
//    exactly as the registry stored them, so digests can be checked.
//  - A 2xx body can be streamed to a sink; any other body is buffered up to
//    max_body (it is an error document) and never handed to the sink.
//  - Redirects are followed only for GET/HEAD, at most 5, http(s) only;
//    libcurl drops our Authorization header when a redirect changes host
//    (blob storage back ends must not see registry tokens).
//  - perform() makes one attempt; retrying is the caller's decision (retry.h),
//    because only it knows whether a request can be replayed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace berth::transport {

struct TlsOptions {
  bool verify = true;           // false: accept any certificate (and allows plain HTTP, see endpoint.h)
  std::string extra_ca_pem;     // PEM CAs trusted in addition to the system bundle
  std::string client_cert;      // path to a PEM client certificate (mutual TLS)
  std::string client_key;       // path to its PEM key
};

using BodySink = std::function<Status(const char* data, size_t len)>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  // Request body: either `body`, or [body_offset, body_offset+body_length) of body_fd.
  std::string body;
  int body_fd = -1;
  uint64_t body_offset = 0;
  uint64_t body_length = 0;
  BodySink sink;                 // receives a 2xx body when set
  // Called with the status before the first byte of a 2xx body reaches the
  // sink (a 200 where a 206 was asked for means "starting over").
  std::function<Status(long status)> on_body_start;
  size_t max_body = 1 << 20;     // limit on a buffered body (error documents, manifests)
  const TlsOptions* tls = nullptr;
};

struct HttpResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased, final response only
  std::string body;       // buffered body (non-2xx, or 2xx without a sink)
  std::string final_url;  // after redirects

  std::optional<std::string> header(std::string_view name) const;  // first occurrence
  std::vector<std::string> headers_named(std::string_view name) const;
};

class HttpClient {
 public:
  static Result<std::shared_ptr<HttpClient>> create(std::string user_agent = "berth/0.1.0");
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // One attempt. Transport failures (DNS, connect, TLS, reset, timeout,
  // truncated body) are Errc::network (Errc::timeout for timeouts); an error
  // returned by the sink is passed through unchanged.
  Result<HttpResponse> perform(const HttpRequest& req);

  struct Impl;

 private:
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Resolves a Location header against the URL it came from (absolute URLs,
// "/path?q" and relative paths), as RFC 3986 section 5.2 says for these cases.
std::string resolve_url(std::string_view base, std::string_view location);
// Appends "k=v" with '?' or '&' as appropriate; the value is percent-encoded.
std::string add_query(std::string_view url, std::string_view key, std::string_view value);
std::string url_encode(std::string_view s);

}  // namespace berth::transport
