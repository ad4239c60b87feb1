// Fuzzes everything the registry parses from a request line and headers:
// routes, names, tags, query strings, Content-Range, Basic credentials,
// WWW-Authenticate challenges and bearer tokens.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "registry/auth.h"
#include "registry/jwt.h"
#include "registry/names.h"

using namespace berth::registry;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string path;
  if (percent_decode(in, &path)) {
    Route r = parse_route(path);
    (void)valid_repo_name(r.name);
    (void)valid_tag(r.ref);
  }
  std::multimap<std::string, std::string> q;
  (void)parse_query(in, &q);
  uint64_t s, e;
  (void)parse_content_range(in, &s, &e);
  std::string u, p;
  (void)parse_basic_auth(in, &u, &p);
  Challenge c;
  (void)parse_challenge(in, &c);
  (void)parse_actions(in);
  (void)verify_token(in, std::string(32, 'k'), "iss", "aud", 1000);
  std::string out;
  (void)base64url_decode(in, &out);
  return 0;
}
