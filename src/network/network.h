// berth/network: container networking — network namespaces, a bridge network
// through the CNI plugins, port publishing and the /etc files a container needs.
//
// Promises:
// - create_netns leaves the caller's own namespace untouched; the namespace
//   lives as long as its bind mount (remove_netns drops it).
// - attach runs a CNI 1.0.0 network configuration list exactly as the CNI spec's
//   execution protocol says (env, stdin config with name/cniVersion/runtimeConfig/
//   prevResult, result on stdout, error JSON), each plugin bounded by a timeout.
//   A failed attach has already been undone (CNI DEL) when it returns.
// - detach is idempotent and tolerant: a missing netns, a missing or corrupt
//   cache, a container already gone are not errors; it removes as much as it can
//   (iptables rules, veth, host-local IP) and reports the first real failure.
// - Everything read from a plugin (its result or error JSON) is untrusted:
//   size-limited, strictly validated, and a failure is one line naming the plugin.
//
// IPv4 only; rootful only (see docs/network.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace berth::network {

// ---- network namespaces --------------------------------------------------

// A new network namespace pinned by a bind mount at dir/name, like `ip netns
// add`: dir is made a shared mount point (so unmounting propagates into mount
// namespaces copied from ours and never pins a dead namespace), the namespace is
// unshared on a short-lived thread. Fails with already_exists if dir/name exists.
// Returns the path.
Result<std::string> create_netns(const std::string& dir, const std::string& name);
// Unmount (MNT_DETACH) and unlink; a path that is missing or not mounted is fine.
Status remove_netns(const std::string& path);
// Runs fn on a dedicated thread that has joined the network namespace at
// netns_path; the calling thread's namespace never changes. Sockets fn creates
// stay in that namespace (useful to listen inside a container's network).
Status in_netns(const std::string& netns_path, const std::function<Status()>& fn);
// Sets IFF_UP on "lo" inside the namespace (SIOCSIFFLAGS). A fresh namespace has
// lo down; Docker's --network none has it up, and so should berth's: the engine
// calls this for none; attach calls it for bridge.
Status bring_up_loopback(const std::string& netns_path);

// ---- port publishing (-p, -P) --------------------------------------------

struct PortMapping {
  std::string host_ip;         // empty: every host address
  uint16_t host_port = 0;      // 0: attach picks a free port
  uint16_t container_port = 0;
  std::string protocol = "tcp";  // tcp, udp or sctp

  friend bool operator==(const PortMapping&, const PortMapping&) = default;
};

// Docker's -p syntax: [ip:][hostPort:]containerPort[/proto] where ports may be
// equal-length ranges ("8000-8001:80-81"); "127.0.0.1::80" and "80" leave the
// host port to attach. Returns one mapping per port. IPv6 host addresses are
// refused (unsupported).
Result<std::vector<PortMapping>> parse_publish(std::string_view flag);
// -P: every exposed port ("80/tcp", "53/udp", "80", "8000-8002/tcp" as in an
// image config's ExposedPorts) to a free host port on every host address.
Result<std::vector<PortMapping>> publish_all(const std::vector<std::string>& exposed);
// Replaces host_port 0 with a port the kernel reports free for that protocol and
// address (bind to port 0, read it back, close; Docker does the same, and the same
// small race applies). Other mappings are kept as they are.
Status pick_host_ports(std::vector<PortMapping>& ports);

// ---- the bridge network (CNI) --------------------------------------------

struct BridgeNetwork {
  std::string name = "berth";       // CNI network name (iptables comments, host-local subdir)
  std::string bridge = "berth0";    // Linux bridge, at most 15 bytes
  std::string subnet = "10.89.0.0/16";
  std::string gateway;              // default: the subnet's first address
  std::vector<std::string> plugin_dirs = {"/usr/lib/cni", "/opt/cni/bin"};
  std::string state_dir;            // required: <state_dir>/ipam (host-local dataDir), <state_dir>/results
  std::chrono::milliseconds plugin_timeout{30000};  // each plugin call is killed after this
};

struct Attachment {
  std::string ip;           // "10.89.0.2"
  int prefix_len = 0;
  std::string gateway;
  std::string mac;
  std::string interface = "eth0";
  std::vector<PortMapping> ports;  // with the chosen host ports
  nlohmann::json cni_result;       // the final CNI result, as the plugins returned it
};

// The CNI network configuration list attach runs for `net` (cniVersion 1.0.0:
// bridge + host-local, portmap, firewall). Fails on an invalid network definition.
Result<nlohmann::json> conflist(const BridgeNetwork& net);

// Connects the namespace at netns_path to the bridge as eth0 (CNI ADD), with
// ports published through portmap (at most 4096 mappings). container_id must match the CNI rule
// ^[A-Za-z0-9][A-Za-z0-9_.-]*$. The final result is cached under
// state_dir/results for detach.
Result<Attachment> attach(const BridgeNetwork& net, const std::string& container_id,
                          const std::string& netns_path, std::vector<PortMapping> ports);
// CNI DEL in reverse order with the cached result (or, without a cache, with the
// current conflist and the IP host-local recorded). Continues past a failing
// plugin so the others still clean up; returns the first failure. When the netns
// is gone the bridge plugin cannot find the container's IP, so detach removes its
// masquerade rules itself. Idempotent.
Status detach(const BridgeNetwork& net, const std::string& container_id,
              const std::string& netns_path);

// ---- /etc files ----------------------------------------------------------

// RFC 1123 host name: dot-separated labels of [A-Za-z0-9-], no leading/trailing
// '-', each 1..63 bytes, at most 253 in all.
Status validate_hostname(std::string_view name);
// --add-host "name:ip" (IPv4 or IPv6 ip, or "host-gateway").
Status validate_add_host(std::string_view entry);
// Docker's /etc/hosts: localhost, the ip6 lines, the --add-host entries, then
// "<ip>\t<hostname>" when ip is not empty (none mode has no container line).
// "host-gateway" entries become host_gateway (skipped when that is empty).
// Entries are expected to be validated already; invalid ones are skipped.
std::string hosts_file(const std::string& hostname, const std::string& ip,
                       const std::vector<std::string>& add_hosts,
                       const std::string& host_gateway = "");
// /etc/resolv.conf for a container. Without --dns/--dns-search/--dns-option it is
// the host's file (systemd-resolved's upstream file when the host points at
// 127.0.0.53). For bridge mode loopback nameservers (127.0.0.0/8, ::1) are
// dropped because they mean nothing in another netns, and 8.8.8.8/8.8.4.4 are used
// when none is left (Docker's behaviour). Any flag given rebuilds the file, taking
// each missing part from the host. dns_search "." means no search list.
Result<std::string> resolv_conf(const std::vector<std::string>& dns,
                                const std::vector<std::string>& dns_search,
                                const std::vector<std::string>& dns_options, bool bridge,
                                const std::string& host_resolv = "/etc/resolv.conf");

}  // namespace berth::network
