// The bridge network: CNI ADD/DEL over berth's conflist, the result cache, and
// the cleanup the plugins cannot do once a namespace is gone.
#include <arpa/inet.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>

#include "base/fs.h"
#include "network/cni.h"
#include "network/network.h"

namespace berth::network {
namespace {

using nlohmann::json;
constexpr unsigned long kNsfsMagic = 0x6e736673;  // linux/magic.h NSFS_MAGIC
constexpr const char* kIfname = "eth0";
constexpr const char* kCacheKind = "berthCniCacheV1";
constexpr size_t kMaxPorts = 4096;

bool valid_ifname(std::string_view n) {
  if (n.empty() || n.size() > 15) return false;
  for (char c : n)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

struct Subnet {
  uint32_t net = 0;  // host order
  int prefix = 0;
  std::string gateway;
};

std::string ip4_str(uint32_t host_order) {
  in_addr a{htonl(host_order)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

Result<Subnet> check_network(const BridgeNetwork& net) {
  auto bad = [&](const std::string& why) {
    return Error(Errc::invalid_argument, "network " + net.name + ": " + why);
  };
  if (!cni::valid_container_id(net.name) || net.name.size() > 64)
    return bad("name must match [A-Za-z0-9][A-Za-z0-9_.-]* (at most 64 bytes)");
  if (!valid_ifname(net.bridge)) return bad("bridge \"" + net.bridge + "\" is not an interface name (1-15 of [A-Za-z0-9_.-])");
  if (net.state_dir.empty() || net.state_dir[0] != '/') return bad("state_dir must be an absolute path");
  if (net.plugin_dirs.empty()) return bad("no plugin directories");
  std::string addr;
  int prefix = 0;
  bool v6 = false;
  if (!cni::parse_cidr(net.subnet, &addr, &prefix, &v6)) return bad("subnet \"" + net.subnet + "\" is not CIDR");
  if (v6) return bad("IPv6 subnets are not supported");
  if (prefix < 8 || prefix > 30) return bad("subnet prefix /" + std::to_string(prefix) + " must be between /8 and /30");
  in_addr a{};
  inet_pton(AF_INET, addr.c_str(), &a);
  uint32_t ip = ntohl(a.s_addr);
  uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  if ((ip & ~mask) != 0) return bad("subnet " + net.subnet + " has host bits set");
  Subnet s{ip, prefix, net.gateway};
  if (s.gateway.empty()) {
    s.gateway = ip4_str(ip + 1);
  } else {
    in_addr g{};
    if (inet_pton(AF_INET, s.gateway.c_str(), &g) != 1) return bad("gateway \"" + s.gateway + "\" is not an IPv4 address");
    uint32_t gh = ntohl(g.s_addr);
    if ((gh & mask) != ip || gh == ip || gh == (ip | ~mask)) return bad("gateway " + s.gateway + " is not a host address in " + net.subnet);
  }
  return s;
}

std::string cache_path(const BridgeNetwork& net, const std::string& id) {
  return net.state_dir + "/results/" + net.name + "-" + id + "-" + kIfname + ".json";
}

json port_args(const std::vector<PortMapping>& ports) {
  json a = json::array();
  for (const auto& p : ports) {
    json m = {{"hostPort", p.host_port}, {"containerPort", p.container_port}, {"protocol", p.protocol}};
    if (!p.host_ip.empty()) m["hostIP"] = p.host_ip;
    a.push_back(std::move(m));
  }
  return a;
}

cni::Invocation invocation(const BridgeNetwork& net, const std::string& command, const std::string& id,
                           const std::string& netns) {
  cni::Invocation inv;
  inv.command = command;
  inv.container_id = id;
  inv.netns = netns;
  inv.ifname = kIfname;
  inv.plugin_dirs = net.plugin_dirs;
  inv.timeout = net.plugin_timeout;
  return inv;
}

// DEL over the list in reverse, every plugin getting the same prevResult (the
// final ADD result). Keeps going after a failure: each plugin cleans up state
// the others cannot (veth and IP, DNAT chains, FORWARD rules).
Status run_del(const json& list, const json& caps, const json* prev, const cni::Invocation& inv) {
  Status first;
  const json& plugins = list["plugins"];
  for (size_t i = plugins.size(); i-- > 0;) {
    const json& p = plugins[i];
    std::string type = p.value("type", "");
    json cfg = cni::exec_config(list, p, caps, prev);
    auto r = cni::exec_plugin(type, inv, cfg);
    if (!r.ok() && first.ok()) first = std::move(r).error();
  }
  return first;
}

bool is_netns(const std::string& path) {
  struct statfs sf;
  return !path.empty() && ::statfs(path.c_str(), &sf) == 0 && static_cast<unsigned long>(sf.f_type) == kNsfsMagic;
}

// host-local keeps one file per IP holding "<container id>\r\n<ifname>". Without
// a cached result this is the only record of the container's address, which
// the firewall plugin needs to remove its FORWARD rules.
json recover_prev_result(const BridgeNetwork& net, const Subnet& sn, const std::string& id,
                         const std::string& netns) {
  std::string dir = net.state_dir + "/ipam/" + net.name;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return nullptr;
  std::string want = id + "\r\n" + kIfname;
  std::string found;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (!cni::parse_ip(name)) continue;
    auto text = read_file(dir + "/" + name, 4096);
    if (text.ok() && *text == want) {
      found = name;
      break;
    }
  }
  ::closedir(d);
  if (found.empty()) return nullptr;
  return json{{"cniVersion", "1.0.0"},
              {"interfaces", json::array({json{{"name", kIfname}, {"sandbox", netns}}})},
              {"ips", json::array({json{{"address", found + "/" + std::to_string(sn.prefix)},
                                        {"gateway", sn.gateway},
                                        {"interface", 0}}})}};
}

std::string find_tool(const char* name) {
  for (const char* d : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    std::string p = std::string(d) + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return {};
}

// The bridge plugin finds the container's IP by looking inside the namespace;
// once that is gone its DEL skips the masquerade chain it made on ADD
// (plugins 1.1.1, bridge.go cmdDel). Find it by the comment it carries,
// `name: "<net>" id: "<container>"`, and remove it the way TeardownIPMasq does.
Status remove_masquerade(const BridgeNetwork& net, const std::string& id) {
  std::string save = find_tool("iptables-save");
  std::string ipt = find_tool("iptables");
  if (save.empty() || ipt.empty()) return Error(Errc::not_found, "iptables/iptables-save not found to remove masquerade rules");
  auto timeout = net.plugin_timeout;
  TRY_ASSIGN(cni::RunResult saved, cni::run(save, {save, "-t", "nat"}, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, "", timeout));
  if (saved.exit_status != 0) return Error(Errc::io, "iptables-save -t nat failed: " + saved.err.substr(0, 200));
  std::string comment = "name: \"" + net.name + "\" id: \"" + id + "\"";
  std::string quoted = "name: \\\"" + net.name + "\\\" id: \\\"" + id + "\\\"";
  std::vector<std::pair<std::string, std::string>> jumps;  // POSTROUTING: source, chain
  std::vector<std::string> chains;
  auto token_after = [](const std::string& line, const std::string& flag) {
    size_t p = line.find(" " + flag + " ");
    if (p == std::string::npos) return std::string();
    p += flag.size() + 2;
    return line.substr(p, line.find(' ', p) - p);
  };
  auto chain_ok = [](const std::string& c) {
    if (!c.starts_with("CNI-") || c.size() > 28) return false;
    for (char ch : c)
      if (!isalnum(static_cast<unsigned char>(ch)) && ch != '-') return false;
    return true;
  };
  size_t start = 0;
  while (start < saved.out.size()) {
    size_t nl = saved.out.find('\n', start);
    std::string line = saved.out.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? saved.out.size() : nl + 1;
    if (line.find(quoted) == std::string::npos) continue;
    if (line.starts_with("-A POSTROUTING ")) {
      std::string src = token_after(line, "-s"), chain = token_after(line, "-j");
      if (chain_ok(chain) && !src.empty()) jumps.emplace_back(src, chain);
    } else if (line.starts_with("-A CNI-")) {
      std::string chain = line.substr(3, line.find(' ', 3) - 3);
      if (chain_ok(chain)) chains.push_back(chain);
    }
  }
  Status first;
  auto iptables = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {ipt, "-w", "-t", "nat"});
    auto r = cni::run(ipt, args, {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, "", timeout);
    if (!r.ok()) {
      if (first.ok()) first = std::move(r).error();
    } else if (r->exit_status != 0 && first.ok()) {
      std::string cmd;
      for (size_t i = 1; i < args.size(); ++i) cmd += " " + args[i];
      first = Error(Errc::io, "iptables" + cmd + ": " + r->err.substr(0, 200));
    }
  };
  for (const auto& [src, chain] : jumps) {
    iptables({"-D", "POSTROUTING", "-s", src, "-j", chain, "-m", "comment", "--comment", comment});
    chains.push_back(chain);
  }
  std::sort(chains.begin(), chains.end());
  chains.erase(std::unique(chains.begin(), chains.end()), chains.end());
  for (const auto& c : chains) {
    iptables({"-F", c});
    iptables({"-X", c});
  }
  return first;
}

}  // namespace

Result<json> conflist(const BridgeNetwork& net) {
  TRY_ASSIGN(Subnet sn, check_network(net));
  json ipam = {{"type", "host-local"},
               {"ranges", json::array({json::array({json{{"subnet", net.subnet}, {"gateway", sn.gateway}}})})},
               {"routes", json::array({json{{"dst", "0.0.0.0/0"}}})},
               {"dataDir", net.state_dir + "/ipam"}};
  json bridge = {{"type", "bridge"},   {"bridge", net.bridge}, {"isGateway", true},
                 {"ipMasq", true},     {"hairpinMode", true},  {"ipam", std::move(ipam)}};
  // portmap's default snat=true masquerades 127.0.0.1 -> container traffic and
  // sets route_localnet on the bridge, which is what makes -p reachable on the
  // host's loopback.
  json portmap = {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}};
  // FORWARD may default to DROP (Docker installed, firewalld): the firewall
  // plugin accepts the container's traffic in its own CNI-FORWARD chain.
  json firewall = {{"type", "firewall"}, {"backend", "iptables"}};
  return json{{"cniVersion", "1.0.0"},
              {"name", net.name},
              {"plugins", json::array({std::move(bridge), std::move(portmap), std::move(firewall)})}};
}

Result<Attachment> attach(const BridgeNetwork& net, const std::string& container_id,
                          const std::string& netns_path, std::vector<PortMapping> ports) {
  if (!cni::valid_container_id(container_id))
    return Error(Errc::invalid_argument, "container id \"" + container_id.substr(0, 80) + "\" is not a CNI container id");
  TRY_ASSIGN(json list, conflist(net));
  if (!is_netns(netns_path)) return Error(Errc::invalid_argument, "attach " + container_id + ": " + netns_path + " is not a network namespace");
  // Each mapping is a few iptables rules; tens of thousands would take minutes
  // to install and to remove.
  if (ports.size() > kMaxPorts)
    return Error(Errc::limit, "attach " + container_id + ": " + std::to_string(ports.size()) +
                                  " published ports, at most " + std::to_string(kMaxPorts));
  for (const auto& p : ports)
    if (p.container_port == 0 || (p.protocol != "tcp" && p.protocol != "udp" && p.protocol != "sctp"))
      return Error(Errc::invalid_argument, "attach " + container_id + ": invalid port mapping");
  TRY(pick_host_ports(ports));
  TRY(mkdir_p(net.state_dir + "/results", 0700));
  TRY(mkdir_p(net.state_dir + "/ipam", 0700));

  json caps = json::object();
  if (!ports.empty()) caps["portMappings"] = port_args(ports);
  // Written before ADD so a crash in the middle still leaves detach the exact
  // config and port mappings to DEL with.
  json cache = {{"kind", kCacheKind}, {"containerId", container_id}, {"ifName", kIfname},
                {"netns", netns_path}, {"config", list}, {"capabilityArgs", caps}, {"result", nullptr}};
  std::string cpath = cache_path(net, container_id);
  TRY(atomic_write_file(cpath, cache.dump(2) + "\n", 0600));

  cni::Invocation inv = invocation(net, "ADD", container_id, netns_path);
  json prev;  // null until the first plugin returns
  auto fail = [&](Error e) -> Error {
    // The spec wants a DEL after a failed ADD; whatever it reports, the ADD
    // error is what the caller needs to see.
    cni::Invocation del = invocation(net, "DEL", container_id, netns_path);
    Status d = run_del(list, caps, prev.is_null() ? nullptr : &prev, del);
    if (d.ok()) ::unlink(cpath.c_str());
    return e.wrap("attach " + container_id + " to network " + net.name);
  };
  cni::CniResult final_result;
  for (const auto& p : list["plugins"]) {
    std::string type = p.value("type", "");
    json cfg = cni::exec_config(list, p, caps, prev.is_null() ? nullptr : &prev);
    auto out = cni::exec_plugin(type, inv, cfg);
    if (!out.ok()) return fail(std::move(out).error());
    auto parsed = cni::parse_result(*out, type);
    if (!parsed.ok()) return fail(std::move(parsed).error());
    prev = parsed->raw;
    final_result = std::move(*parsed);
  }

  Attachment a;
  a.ports = ports;
  a.cni_result = final_result.raw;
  const cni::IpConfig* chosen = nullptr;
  for (const auto& ip : final_result.ips) {
    if (ip.v6) continue;
    bool in_sandbox = ip.interface && !final_result.interfaces[*ip.interface].sandbox.empty();
    if (!chosen || in_sandbox) chosen = &ip;
    if (in_sandbox) break;
  }
  if (!chosen) return fail(Error(Errc::invalid_input, "the CNI result has no IPv4 address"));
  a.ip = chosen->address;
  a.prefix_len = chosen->prefix_len;
  a.gateway = chosen->gateway;
  if (chosen->interface) {
    const auto& itf = final_result.interfaces[*chosen->interface];
    a.mac = itf.mac;
    a.interface = itf.name;
  }
  cache["result"] = final_result.raw;
  if (auto st = atomic_write_file(cpath, cache.dump(2) + "\n", 0600); !st.ok()) return fail(std::move(st).error());
  if (auto st = bring_up_loopback(netns_path); !st.ok()) return fail(std::move(st).error());
  return a;
}

Status detach(const BridgeNetwork& net, const std::string& container_id, const std::string& netns_path) {
  if (!cni::valid_container_id(container_id))
    return Error(Errc::invalid_argument, "container id \"" + container_id.substr(0, 80) + "\" is not a CNI container id");
  TRY_ASSIGN(Subnet sn, check_network(net));
  bool have_ns = is_netns(netns_path);
  std::string ns = have_ns ? netns_path : std::string();

  json list, caps, prev;
  std::string cpath = cache_path(net, container_id);
  if (auto text = read_file(cpath, 4 << 20); text.ok()) {
    json c = json::parse(*text, nullptr, false);
    // Our own file, but a torn disk or a hand edit must not stop the cleanup:
    // anything unexpected falls back to the current config.
    if (c.is_object() && c.value("kind", "") == kCacheKind && c.value("containerId", "") == container_id &&
        c.contains("config") && c["config"].is_object() && c["config"].contains("plugins") &&
        c["config"]["plugins"].is_array()) {
      list = c["config"];
      caps = c.contains("capabilityArgs") && c["capabilityArgs"].is_object() ? c["capabilityArgs"] : json::object();
      if (c.contains("result") && c["result"].is_object() && cni::parse_result(c["result"].dump(), "cache").ok())
        prev = c["result"];
    }
  }
  if (list.is_null()) {
    TRY_ASSIGN(list, conflist(net));
    // portmap's DEL does nothing without mappings, and its chains are named
    // after the container alone: any mapping makes it remove them.
    caps = json{{"portMappings", port_args({PortMapping{"", 1, 1, "tcp"}})}};
  }
  if (prev.is_null()) prev = recover_prev_result(net, sn, container_id, ns);

  Status st = run_del(list, caps, prev.is_null() ? nullptr : &prev, invocation(net, "DEL", container_id, ns));
  if (!have_ns) {
    Status m = remove_masquerade(net, container_id);
    if (st.ok() && !m.ok()) st = std::move(m);
  }
  if (!st.ok()) return std::move(st).error().wrap("detach " + container_id + " from network " + net.name);
  if (::unlink(cpath.c_str()) != 0 && errno != ENOENT) return sys_error("removing CNI cache " + cpath);
  return {};
}

}  // namespace berth::network
