// The /etc/hosts, /etc/resolv.conf contents a container gets.
#include <sstream>

#include "base/fs.h"
#include "network/cni.h"
#include "network/network.h"

namespace berth::network {
namespace {

bool loopback_ip(std::string_view ip) { return ip.starts_with("127.") || ip == "::1"; }

// resolv.conf tokens go verbatim into the file: no whitespace, no comment start,
// nothing that could start a new directive.
bool token_ok(std::string_view t) {
  if (t.empty() || t.size() > 253) return false;
  for (char c : t) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '#' || c == ';') return false;
  }
  return true;
}

struct Resolv {
  std::vector<std::string> nameservers, search, options;
};

Resolv parse_resolv(const std::string& text) {
  Resolv r;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key;
    if (!(words >> key) || key[0] == '#' || key[0] == ';') continue;
    std::string v;
    if (key == "nameserver") {
      if (words >> v && cni::parse_ip(v)) r.nameservers.push_back(v);
    } else if (key == "search" || key == "domain") {
      r.search.clear();  // the last search/domain line wins (resolv.conf(5))
      while (words >> v) r.search.push_back(v);
    } else if (key == "options") {
      while (words >> v) r.options.push_back(v);
    }
  }
  return r;
}

}  // namespace

Status validate_hostname(std::string_view name) {
  auto bad = [&](std::string_view why) {
    return Error(Errc::invalid_argument, "hostname \"" + std::string(name.substr(0, 80)) + "\": " + std::string(why));
  };
  if (name.empty()) return bad("empty");
  if (name.size() > 253) return bad("longer than 253 bytes");
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    std::string_view label = name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63) return bad("each dot-separated label must be 1-63 bytes");
    if (label.front() == '-' || label.back() == '-') return bad("a label starts or ends with '-'");
    for (char c : label)
      if (!isalnum(static_cast<unsigned char>(c)) && c != '-') return bad("only letters, digits, '-' and '.' are allowed");
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return {};
}

Status validate_add_host(std::string_view entry) {
  size_t colon = entry.find(':');
  if (colon == std::string_view::npos)
    return Error(Errc::invalid_argument, "add-host \"" + std::string(entry.substr(0, 80)) + "\": expected name:ip");
  std::string_view ip = entry.substr(colon + 1);
  if (ip != "host-gateway" && !cni::parse_ip(ip))
    return Error(Errc::invalid_argument, "add-host \"" + std::string(entry.substr(0, 80)) +
                                             "\": \"" + std::string(ip.substr(0, 50)) + "\" is not an IP address");
  auto st = validate_hostname(entry.substr(0, colon));
  if (!st.ok()) return Error(Errc::invalid_argument, "add-host: " + st.error().message);
  return {};
}

std::string hosts_file(const std::string& hostname, const std::string& ip,
                       const std::vector<std::string>& add_hosts, const std::string& host_gateway) {
  std::string s =
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "ff00::0\tip6-mcastprefix\n"
      "ff02::1\tip6-allnodes\n"
      "ff02::2\tip6-allrouters\n";
  for (const auto& e : add_hosts) {
    if (!validate_add_host(e).ok()) continue;
    size_t colon = e.find(':');
    std::string addr = e.substr(colon + 1);
    if (addr == "host-gateway") {
      if (host_gateway.empty() || !cni::parse_ip(host_gateway)) continue;
      addr = host_gateway;
    }
    s += addr + "\t" + e.substr(0, colon) + "\n";
  }
  if (!ip.empty() && cni::parse_ip(ip) && validate_hostname(hostname).ok()) s += ip + "\t" + hostname + "\n";
  return s;
}

Result<std::string> resolv_conf(const std::vector<std::string>& dns,
                                const std::vector<std::string>& dns_search,
                                const std::vector<std::string>& dns_options, bool bridge,
                                const std::string& host_resolv) {
  for (const auto& d : dns)
    if (!cni::parse_ip(d)) return Error(Errc::invalid_argument, "dns \"" + d.substr(0, 80) + "\" is not an IP address");
  for (const auto& d : dns_search)
    if (d != "." && (!token_ok(d) || !validate_hostname(d).ok()))
      return Error(Errc::invalid_argument, "dns-search \"" + d.substr(0, 80) + "\" is not a domain name");
  for (const auto& o : dns_options)
    if (!token_ok(o)) return Error(Errc::invalid_argument, "dns-option \"" + o.substr(0, 80) + "\" is not one resolver option");

  std::string host_text;
  if (auto r = read_file(host_resolv, 1 << 20); r.ok()) {
    host_text = std::move(*r);
  } else if (r.error().sys_errno != ENOENT) {
    return std::move(r).error().wrap("reading the host's resolver configuration");
  }
  Resolv host = parse_resolv(host_text);
  // systemd-resolved's stub listens on the host's loopback only; its real
  // upstream servers are in a sibling file (Docker reads it too).
  if (host.nameservers.size() == 1 && host.nameservers[0] == "127.0.0.53" &&
      host_resolv == "/etc/resolv.conf") {
    if (auto r = read_file("/run/systemd/resolve/resolv.conf", 1 << 20); r.ok()) {
      host_text = std::move(*r);
      host = parse_resolv(host_text);
    }
  }
  auto filter = [&](std::vector<std::string> ns) {
    if (!bridge) return ns;
    std::vector<std::string> kept;
    for (auto& n : ns)
      if (!loopback_ip(n)) kept.push_back(std::move(n));
    if (kept.empty()) kept = {"8.8.8.8", "8.8.4.4"};
    return kept;
  };

  if (dns.empty() && dns_search.empty() && dns_options.empty()) {
    if (!bridge) return host_text;
    // Keep the host's file, minus nameserver lines a netns cannot reach.
    std::string out;
    std::istringstream in(host_text);
    std::string line;
    size_t kept = 0;
    while (std::getline(in, line)) {
      std::istringstream words(line);
      std::string key, v;
      if (words >> key && key == "nameserver") {
        if (!(words >> v) || loopback_ip(v)) continue;
        ++kept;
      }
      out += line + "\n";
    }
    if (kept == 0) out += "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";
    return out;
  }

  std::vector<std::string> ns = dns.empty() ? filter(host.nameservers) : dns;
  std::vector<std::string> search = dns_search.empty() ? host.search : dns_search;
  std::vector<std::string> options = dns_options.empty() ? host.options : dns_options;
  std::string out;
  bool no_search = search.size() == 1 && search[0] == ".";
  if (!search.empty() && !no_search) {
    out += "search";
    for (const auto& s : search)
      if (s != ".") out += " " + s;
    out += "\n";
  }
  for (const auto& n : ns) out += "nameserver " + n + "\n";
  if (!options.empty()) {
    out += "options";
    for (const auto& o : options) out += " " + o;
    out += "\n";
  }
  return out;
}

}  // namespace berth::network
