// Fuzzes the parser for what CNI plugins print (success results and error
// JSON). Invariants: an accepted result re-serialised parses to the same
// structure; error text never spans lines.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "network/cni.h"

using namespace berth::network;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = cni::parse_result(in, "fuzz");
  if (r.ok()) {
    auto again = cni::parse_result(r->raw.dump(), "fuzz");
    if (!again.ok() || again->ips.size() != r->ips.size() || again->interfaces.size() != r->interfaces.size() ||
        again->routes.size() != r->routes.size())
      std::abort();
    for (const auto& ip : r->ips)
      if (ip.interface && *ip.interface >= r->interfaces.size()) std::abort();
  } else if (r.error().message.find('\n') != std::string::npos) {
    std::abort();
  }
  auto e = cni::plugin_error("fuzz", "ADD", 1, in, in);
  if (e.message.find('\n') != std::string::npos || e.message.find('\r') != std::string::npos) std::abort();
  return 0;
}
