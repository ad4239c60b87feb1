// Fuzzes what a registry or a credentials file can feed the transport's
// parsers: WWW-Authenticate challenges, token-service answers, auth files
// (config.json), upload Range headers and Location resolution. Must never
// crash; errors are expected. The first input byte picks the parser.
#include <cstdint>
#include <string>

#include "transport/auth.h"
#include "transport/endpoint.h"
#include "transport/http.h"

using namespace berth;
using namespace berth::transport;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      auto r = parse_challenges(in);
      if (r.ok())
        for (auto& c : *r) (void)c.param("realm");
      break;
    }
    case 1: (void)parse_token_response(in); break;
    case 2: {
      auto f = AuthFile::parse(in, "fuzz");
      if (f.ok()) {
        (void)f->lookup("docker.io/library/busybox");
        (void)f->serialize();
      }
      break;
    }
    case 3: (void)parse_upload_range(in); break;
    case 4: {
      (void)resolve_url("http://127.0.0.1:5000/v2/a/blobs/uploads/", in);
      (void)base64_decode(in);
      (void)normalize_auth_key(in);
      break;
    }
  }
  return 0;
}
