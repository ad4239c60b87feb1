#include "engine/netsetup.h"

#include "base/fs.h"
#include "base/userns.h"
#include "engine/engine.h"
#include "engine/slirp.h"
#include "network/network.h"

namespace berth::engine {

namespace {

network::BridgeNetwork bridge_for(Engine& e) {
  network::BridgeNetwork n;
  n.state_dir = e.paths().cni_state();
  if (const char* b = std::getenv("BERTH_BRIDGE"); b && *b) n.bridge = b;
  if (const char* s = std::getenv("BERTH_SUBNET"); s && *s) n.subnet = s;
  return n;
}

// Rootless: the bridge needs the host's root; slirp4netns stands in for it.
bool rootless_bridge(const std::string& mode) { return mode == "bridge" && in_user_namespace(); }
std::string slirp_pid_file(Engine& e, const Container& c) { return e.paths().run + "/slirp-" + c.id.substr(0, 16) + ".pid"; }

std::vector<std::string> strings(const nlohmann::json& j, const char* key) {
  std::vector<std::string> v;
  if (j.contains(key) && j[key].is_array())
    for (const auto& s : j[key])
      if (s.is_string()) v.push_back(s.get<std::string>());
  return v;
}

Result<std::vector<network::PortMapping>> requested_ports(const Container& c) {
  std::vector<network::PortMapping> ports;
  for (const auto& p : strings(c.config, "publish")) {
    TRY_ASSIGN(auto m, network::parse_publish(p));
    ports.insert(ports.end(), m.begin(), m.end());
  }
  if (c.config.value("publish_all", false)) {
    auto m = network::publish_all(strings(c.config, "exposed"));
    if (m.ok()) ports.insert(ports.end(), m->begin(), m->end());
  }
  return ports;
}

nlohmann::json ports_json(const std::vector<network::PortMapping>& ports) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& p : ports)
    a.push_back({{"host_ip", p.host_ip}, {"host_port", p.host_port}, {"container_port", p.container_port},
                 {"protocol", p.protocol}});
  return a;
}

Status setup_slirp(Engine& e, Container& c, const std::string& ns) {
  TRY_ASSIGN(auto ports, requested_ports(c));
  std::string pid_file = slirp_pid_file(e, c);
  std::string api = ports.empty() ? "" : e.paths().run + "/slirp-" + c.id.substr(0, 16) + ".sock";
  (void)stop_slirp(pid_file);  // a leftover from a crash
  TRY(start_slirp(ns, pid_file, e.paths().dir(c.id) + "/slirp4netns.log", api));
  for (auto& p : ports) {
    auto s = slirp_forward(api, p);
    if (!s.ok()) {
      (void)stop_slirp(pid_file);
      return std::move(s).error().wrap("container " + c.name);
    }
  }
  c.config["network_status"] = {{"ip", kSlirpIp}, {"prefix_len", kSlirpPrefix}, {"gateway", kSlirpGateway},
                                {"mac", ""}, {"ports", ports_json(ports)}};
  return write_network_files(e, c, kSlirpIp);
}

}  // namespace

Status write_network_files(Engine& e, const Container& c, const std::string& ip) {
  const auto& cfg = c.config;
  std::string mode = cfg.value("network", "bridge");
  std::string hostname = cfg.value("hostname", c.id.substr(0, 12));
  std::string dir = e.paths().dir(c.id);
  std::string hosts;
  if (mode == "host") {
    auto h = read_file("/etc/hosts", 1 << 20);
    hosts = h.ok() ? *h : network::hosts_file(hostname, "", strings(cfg, "add_host"));
    for (const auto& a : strings(cfg, "add_host")) {
      auto colon = a.find_first_of(":=");
      if (colon != std::string::npos) hosts += a.substr(colon + 1) + "\t" + a.substr(0, colon) + "\n";
    }
  } else {
    std::string gw = cfg.contains("network_status") ? cfg["network_status"].value("gateway", "") : "";
    hosts = network::hosts_file(hostname, ip, strings(cfg, "add_host"), gw);
  }
  TRY(write_fresh(dir + "/hosts", hosts, 0644));
  TRY_ASSIGN(std::string resolv, network::resolv_conf(strings(cfg, "dns"), strings(cfg, "dns_search"),
                                                      strings(cfg, "dns_option"), mode == "bridge"));
  TRY(write_fresh(dir + "/resolv.conf", resolv, 0644));
  TRY(write_fresh(dir + "/hostname", hostname + "\n", 0644));
  return Status{};
}

Status setup_network(Engine& e, Container& c) {
  std::string mode = c.config.value("network", "bridge");
  c.config.erase("network_status");
  if (mode == "host") return write_network_files(e, c, "");
  if (mode == "none") return Status{};  // the runtime's namespace; files written at create
  TRY(mkdir_p(e.paths().netns_dir(), 0755));
  std::string ns = e.paths().netns(c.id);
  (void)network::remove_netns(ns);  // a leftover from a crash
  TRY(network::create_netns(e.paths().netns_dir(), c.id));
  if (rootless_bridge(mode)) {
    auto s = network::bring_up_loopback(ns);
    if (s.ok()) s = setup_slirp(e, c, ns);
    if (!s.ok()) (void)network::remove_netns(ns);
    return s;
  }
  auto ports = requested_ports(c);
  if (!ports.ok()) {
    (void)network::remove_netns(ns);
    return std::move(ports).error();
  }
  auto att = network::attach(bridge_for(e), c.id, ns, *ports);
  if (!att.ok()) {
    (void)network::remove_netns(ns);
    return std::move(att).error().wrap("container " + c.name + ": network");
  }
  nlohmann::json st = {{"ip", att->ip}, {"prefix_len", att->prefix_len}, {"gateway", att->gateway},
                       {"mac", att->mac}, {"ports", nlohmann::json::array()}};
  for (const auto& p : att->ports)
    st["ports"].push_back({{"host_ip", p.host_ip}, {"host_port", p.host_port}, {"container_port", p.container_port},
                           {"protocol", p.protocol}});
  c.config["network_status"] = st;
  return write_network_files(e, c, att->ip);
}

Status teardown_network(Engine& e, Container& c) {
  std::string mode = c.config.value("network", "bridge");
  if (mode == "host") return Status{};
  std::string ns = e.paths().netns(c.id);
  Status first;
  if (mode == "none" && !path_exists(ns)) return Status{};  // (made by berth before 2026-11-22 if it exists)
  if (rootless_bridge(mode)) first = stop_slirp(slirp_pid_file(e, c));
  else if (mode == "bridge") first = network::detach(bridge_for(e), c.id, ns);
  auto r = network::remove_netns(ns);
  if (first.ok() && !r.ok()) first = r;
  return first;
}

}  // namespace berth::engine
