// -p / -P: Docker's publish syntax and host port picking.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <set>
#include <tuple>

#include "base/fd.h"
#include "network/cni.h"
#include "network/network.h"

namespace berth::network {
namespace {

Error bad_publish(std::string_view flag, std::string_view why) {
  return Error(Errc::invalid_argument,
               "publish \"" + std::string(flag.substr(0, 80)) + "\": " + std::string(why));
}

// "80" or "8000-8001": a first..last range of valid ports.
bool parse_range(std::string_view s, uint16_t* first, uint16_t* last) {
  auto num = [](std::string_view p, uint16_t* out) {
    if (p.empty() || p.size() > 5) return false;
    uint32_t n = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return false;
      n = n * 10 + static_cast<uint32_t>(c - '0');
    }
    if (n == 0 || n > 65535) return false;
    *out = static_cast<uint16_t>(n);
    return true;
  };
  size_t dash = s.find('-');
  if (dash == std::string_view::npos) {
    if (!num(s, first)) return false;
    *last = *first;
    return true;
  }
  return num(s.substr(0, dash), first) && num(s.substr(dash + 1), last) && *first <= *last;
}

bool valid_protocol(std::string_view p) { return p == "tcp" || p == "udp" || p == "sctp"; }

}  // namespace

Result<std::vector<PortMapping>> parse_publish(std::string_view flag) {
  if (flag.empty()) return bad_publish(flag, "empty");
  if (flag.size() > 128) return bad_publish(flag, "too long");
  std::string_view rest = flag;
  std::string proto = "tcp";
  if (size_t slash = rest.rfind('/'); slash != std::string_view::npos) {
    proto = std::string(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
    if (!valid_protocol(proto)) return bad_publish(flag, "protocol must be tcp, udp or sctp");
  }
  if (!rest.empty() && rest[0] == '[') return bad_publish(flag, "IPv6 host addresses are not supported");
  // Split on ':' from the right: containerPort, hostPort, ip.
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t c = rest.find(':', start);
    parts.push_back(rest.substr(start, c == std::string_view::npos ? std::string_view::npos : c - start));
    if (c == std::string_view::npos) break;
    start = c + 1;
  }
  if (parts.size() > 3) {
    return bad_publish(flag, parts.size() > 4 ? "IPv6 host addresses are not supported"
                                              : "expected [ip:][hostPort:]containerPort[/proto]");
  }
  std::string_view cport = parts.back();
  std::string_view hport = parts.size() >= 2 ? parts[parts.size() - 2] : std::string_view();
  std::string host_ip = parts.size() == 3 ? std::string(parts[0]) : std::string();
  if (parts.size() == 3) {
    bool v6 = false;
    if (host_ip.empty() || !cni::parse_ip(host_ip, &v6)) return bad_publish(flag, "host IP is not an IP address");
    if (v6) return bad_publish(flag, "IPv6 host addresses are not supported");
  }
  if (parts.size() == 2 && hport.empty()) return bad_publish(flag, "empty host port");
  uint16_t c1, c2;
  if (!parse_range(cport, &c1, &c2)) return bad_publish(flag, "container port must be 1-65535 or a range of them");
  std::vector<PortMapping> out;
  uint32_t n = static_cast<uint32_t>(c2) - c1 + 1;
  if (hport.empty()) {
    for (uint32_t i = 0; i < n; ++i)
      out.push_back({host_ip, 0, static_cast<uint16_t>(c1 + i), proto});
    return out;
  }
  uint16_t h1, h2;
  if (!parse_range(hport, &h1, &h2)) return bad_publish(flag, "host port must be 1-65535 or a range of them");
  if (static_cast<uint32_t>(h2) - h1 + 1 != n)
    return bad_publish(flag, "host and container port ranges differ in length");
  for (uint32_t i = 0; i < n; ++i)
    out.push_back({host_ip, static_cast<uint16_t>(h1 + i), static_cast<uint16_t>(c1 + i), proto});
  return out;
}

Result<std::vector<PortMapping>> publish_all(const std::vector<std::string>& exposed) {
  std::vector<PortMapping> out;
  // An image may EXPOSE 1-65535: duplicates are found by key, not by scanning.
  std::set<std::tuple<uint16_t, std::string>> seen;
  for (const auto& e : exposed) {
    std::string_view s = e;
    std::string proto = "tcp";
    if (size_t slash = s.rfind('/'); slash != std::string_view::npos) {
      proto = std::string(s.substr(slash + 1));
      s = s.substr(0, slash);
    }
    uint16_t p1, p2;
    if (!valid_protocol(proto) || !parse_range(s, &p1, &p2))
      return Error(Errc::invalid_input, "exposed port \"" + e.substr(0, 80) + "\" is not port[-port][/tcp|udp|sctp]");
    for (uint32_t p = p1; p <= p2; ++p) {
      if (seen.emplace(static_cast<uint16_t>(p), proto).second)
        out.push_back(PortMapping{"", 0, static_cast<uint16_t>(p), proto});
    }
  }
  return out;
}

Status pick_host_ports(std::vector<PortMapping>& ports) {
  // Held until every port is picked, so two mappings never get the same port.
  std::vector<UniqueFd> held;
  for (auto& m : ports) {
    if (m.host_port != 0) continue;
    int type = m.protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM;
    int proto = m.protocol == "sctp" ? IPPROTO_SCTP : 0;
    // SCTP may be unavailable (module not loaded); TCP's view of free ports is
    // the best approximation then.
    UniqueFd s(::socket(AF_INET, type | SOCK_CLOEXEC, proto));
    if (!s && proto == IPPROTO_SCTP) s.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) return sys_error("socket to pick a host port");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = 0;
    if (m.host_ip.empty()) {
      a.sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (inet_pton(AF_INET, m.host_ip.c_str(), &a.sin_addr) != 1) {
      return Error(Errc::invalid_argument, "host IP \"" + m.host_ip + "\" is not an IPv4 address");
    }
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      return sys_error("binding " + (m.host_ip.empty() ? std::string("0.0.0.0") : m.host_ip) +
                       ":0 to pick a host port");
    socklen_t len = sizeof a;
    if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return sys_error("getsockname to pick a host port");
    m.host_port = ntohs(a.sin_port);
    held.push_back(std::move(s));
  }
  return {};
}

}  // namespace berth::network
