// berth/registry: transport-independent request/response types and the
// distribution-spec error vocabulary.
//
// The HTTP layer (server.h) parses requests and calls Registry::handle()
// (registry.h) with a Request; handlers are plain synchronous code that never
// sees a socket. Bodies are streamed: a handler that wants the request body
// returns a BodySink the transport feeds chunk by chunk, and a response body
// may be a file region the transport sends with sendfile().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace berth::registry {

struct Request {
  std::string method;  // "GET", "HEAD", ...
  std::string target;  // raw request target, for the access log
  std::string path;    // percent-decoded path
  std::multimap<std::string, std::string> query;  // decoded; "scope" may repeat
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::optional<uint64_t> content_length;                      // absent for chunked bodies
  std::string remote;     // "ip:port"
  std::string tls_user;   // CN of a verified client certificate, "" without one
  bool tls = false;
  std::string host;       // Host header, for absolute URLs (token realm)

  // First header with this (lowercase) name, or "".
  std::string_view header(std::string_view name) const;
  std::string_view q(const std::string& key) const {
    auto it = query.find(key);
    return it == query.end() ? std::string_view() : std::string_view(it->second);
  }
  bool has_q(const std::string& key) const { return query.count(key) != 0; }
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When valid, the body is file[offset, offset+length) instead of `body`.
  UniqueFd file;
  uint64_t file_offset = 0;
  uint64_t file_length = 0;
  bool head = false;        // HEAD: Content-Length describes a body that is not sent
  uint64_t head_length = 0;
  bool close = false;       // close the connection after this response
  std::string user;         // authenticated user, for the access log

  void set(std::string name, std::string value) { headers.emplace_back(std::move(name), std::move(value)); }
  uint64_t content_length() const { return head ? head_length : file.valid() ? file_length : body.size(); }
};

// Receives a request body. The transport calls write() per chunk, then
// finish() at the end of the body; if write() fails (or the client goes
// away), the transport calls fail() instead of finish() and sends its answer.
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual Status write(const char* data, size_t len) = 0;
  virtual Response finish() = 0;
  virtual Response fail(const Error& e) = 0;
};

// What Registry::handle() decided: answer now, or read the body first.
struct Dispatch {
  Response response;                // valid when sink is null
  std::unique_ptr<BodySink> sink;   // the body goes here, then sink->finish()
};

// The error codes of distribution-spec v1.1 ("Error Codes" table).
enum class ApiCode {
  BLOB_UNKNOWN,
  BLOB_UPLOAD_INVALID,
  BLOB_UPLOAD_UNKNOWN,
  DIGEST_INVALID,
  MANIFEST_BLOB_UNKNOWN,
  MANIFEST_INVALID,
  MANIFEST_UNKNOWN,
  NAME_INVALID,
  NAME_UNKNOWN,
  SIZE_INVALID,
  UNAUTHORIZED,
  DENIED,
  UNSUPPORTED,
  TOOMANYREQUESTS,
  RANGE_INVALID,  // not in the table; used only with 416 bodies
};
const char* api_code_name(ApiCode c);

// {"errors":[{"code":..,"message":..,"detail":..}]} with Content-Type application/json.
Response api_error(int status, ApiCode code, std::string_view message, std::string_view detail = {});

}  // namespace berth::registry
