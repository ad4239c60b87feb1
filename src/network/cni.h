// berth/network internals: the CNI plugin execution protocol (spec 1.0.0,
// section 2 and 3) and the parser for what plugins print. Exposed for the
// tests and the fuzz target; the engine uses network.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace berth::network::cni {

// Plugins print a few KiB; anything near this is hostile or broken.
inline constexpr size_t kMaxOutput = 1 << 20;

struct Interface {
  std::string name;
  std::string mac;      // may be empty
  std::string sandbox;  // empty: on the host
};
struct IpConfig {
  std::string address;  // "10.89.0.2" (no prefix)
  int prefix_len = 0;
  bool v6 = false;
  std::string gateway;  // may be empty
  std::optional<size_t> interface;  // index into interfaces, validated
};
struct Route {
  std::string dst;  // CIDR
  std::string gw;   // may be empty
};
struct CniResult {
  std::string cni_version;
  std::vector<Interface> interfaces;
  std::vector<IpConfig> ips;
  std::vector<Route> routes;
  nlohmann::json raw;  // the validated object, passed on as prevResult
};

// Strictly validates a success result (size, JSON, field types, CIDR/IP syntax,
// interface indexes in range). `plugin` only names the source in errors.
Result<CniResult> parse_result(std::string_view text, std::string_view plugin);
// Turns a failed plugin's stdout (error JSON: code/msg/details) and stderr into
// one line: "cni plugin bridge ADD failed: <msg>: <details> (code 7)".
Error plugin_error(std::string_view plugin, std::string_view command, int exit_status,
                   std::string_view out, std::string_view err);

// Parses "a.b.c.d" / IPv6 text; false on anything else.
bool parse_ip(std::string_view s, bool* v6 = nullptr);
// "10.89.0.0/16" -> address, prefix; false when malformed or prefix out of range.
bool parse_cidr(std::string_view s, std::string* addr, int* prefix, bool* v6 = nullptr);
// CNI container IDs and berth's names for networks and bridges.
bool valid_container_id(std::string_view id);

struct Invocation {
  std::string command;       // ADD, DEL, CHECK, VERSION
  std::string container_id;
  std::string netns;         // may be empty for DEL
  std::string ifname = "eth0";
  std::vector<std::string> plugin_dirs;
  std::chrono::milliseconds timeout{30000};
};

// The plugin's execution config (section 3 "Deriving execution configuration"):
// the plugin object without "capabilities", plus cniVersion and name from the
// list, runtimeConfig with each capability the plugin declares and berth
// provides (capability_args), and prevResult when given.
nlohmann::json exec_config(const nlohmann::json& list, const nlohmann::json& plugin,
                           const nlohmann::json& capability_args,
                           const nlohmann::json* prev_result);

// Finds the executable for `type` in plugin_dirs, runs it with the CNI_* env
// (plus the caller's environment, PATH completed with the sbin dirs since
// plugins run iptables) and `config` on stdin, killing it after the timeout.
// Success: the plugin's stdout. Failure: one line naming the plugin.
Result<std::string> exec_plugin(const std::string& type, const Invocation& inv,
                                const nlohmann::json& config);

// Runs path with argv (argv[0] included) and env, stdin_data on stdin, collecting
// stdout/stderr up to kMaxOutput each; killed (SIGKILL) after timeout.
struct RunResult {
  int exit_status = -1;  // exit code, or 128+signal
  bool timed_out = false;
  std::string out, err;
};
Result<RunResult> run(const std::string& path, const std::vector<std::string>& argv,
                      const std::vector<std::string>& env, std::string_view stdin_data,
                      std::chrono::milliseconds timeout);

}  // namespace berth::network::cni
