// Fuzzes -p / -P parsing. Invariants: every accepted mapping is complete, and
// printing it back in Docker's syntax parses to the same mapping.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "network/network.h"

using namespace berth::network;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto r = parse_publish(in); r.ok()) {
    if (r->empty() || r->size() > 65535) std::abort();
    // Round-trip a sample: a full 1-65535 range would make one input take seconds.
    for (size_t i = 0; i < r->size() && i < 64; ++i) {
      const PortMapping& m = (*r)[i];
      if (m.container_port == 0) std::abort();
      if (m.protocol != "tcp" && m.protocol != "udp" && m.protocol != "sctp") std::abort();
      std::string again = m.host_ip + (m.host_ip.empty() ? "" : ":") +
                          (m.host_port ? std::to_string(m.host_port) + ":" : (m.host_ip.empty() ? "" : ":")) +
                          std::to_string(m.container_port) + "/" + m.protocol;
      auto back = parse_publish(again);
      if (!back.ok() || back->size() != 1 || (*back)[0] != m) std::abort();
    }
  } else if (r.error().message.find('\n') != std::string::npos && in.find('\n') == std::string_view::npos) {
    std::abort();  // errors are one line
  }
  (void)publish_all({std::string(in)});
  return 0;
}
