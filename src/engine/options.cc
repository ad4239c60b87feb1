// `berth run` option parsers: Docker's syntax, one-line errors naming the
// flag and the value. -v/--mount/--tmpfs are in options_mounts.cc; the
// cross-field checks, healthcheck merge and JSON form in options_check.cc.
#include "engine/options.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "base/fs.h"
#include "engine/options_util.h"
#include "runtime/spec.h"

namespace berth::engine {

using detail::bad;
using detail::quote;

const char* restart_policy_name(RestartPolicy::Policy p) {
  switch (p) {
    case RestartPolicy::no: return "no";
    case RestartPolicy::on_failure: return "on-failure";
    case RestartPolicy::always: return "always";
    case RestartPolicy::unless_stopped: return "unless-stopped";
  }
  return "no";
}

EnvLookup process_env() {
  return [](const std::string& k) -> std::optional<std::string> {
    const char* v = std::getenv(k.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

Result<int64_t> parse_bytes(std::string_view s, std::string_view flag) {
  if (s.empty()) return bad(flag, s, "empty size");
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) i++;
  if (i == 0) return bad(flag, s, "expected a number");
  size_t int_end = i;
  size_t frac_begin = i, frac_end = i;
  if (i < s.size() && s[i] == '.') {
    frac_begin = ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) i++;
    frac_end = i;
    if (frac_end == frac_begin) return bad(flag, s, "expected digits after \".\"");
  }
  std::string_view unit = s.substr(i);
  if (!unit.empty() && unit[0] == ' ') unit.remove_prefix(1);  // "512 MB", as Docker's regexp allows
  // [kmgtp]?i?b?, case-insensitive
  std::string u;
  for (char c : unit) u += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int shift = 0;
  size_t k = 0;
  if (k < u.size()) {
    const char* letters = "kmgtp";
    if (const char* p = std::strchr(letters, u[k]); p && u[k]) {
      shift = 10 * static_cast<int>(p - letters + 1);
      k++;
    }
  }
  if (k < u.size() && u[k] == 'i') k++;
  if (k < u.size() && u[k] == 'b') k++;
  if (k != u.size()) return bad(flag, s, "unknown unit " + quote(unit));
  if (int_end > 19) return bad(flag, s, "too large");
  unsigned long long whole = std::strtoull(std::string(s.substr(0, int_end)).c_str(), nullptr, 10);
  long double v = static_cast<long double>(whole);
  if (frac_end > frac_begin) {
    long double frac = std::strtold(("0." + std::string(s.substr(frac_begin, frac_end - frac_begin))).c_str(), nullptr);
    v += frac;
  }
  v = std::ldexp(v, shift);
  if (v >= 9223372036854775807.0L) return bad(flag, s, "too large");
  return static_cast<int64_t>(v);
}

Result<int64_t> parse_duration(std::string_view s, std::string_view flag) {
  if (s.empty()) return bad(flag, s, "empty duration");
  if (s[0] == '-') return bad(flag, s, "cannot be negative");
  std::string_view rest = s;
  if (rest[0] == '+') rest.remove_prefix(1);
  if (rest == "0") return int64_t{0};
  if (rest.empty()) return bad(flag, s, "expected a number");
  long double total = 0;
  while (!rest.empty()) {
    size_t i = 0;
    while (i < rest.size() && (std::isdigit(static_cast<unsigned char>(rest[i])) || rest[i] == '.')) i++;
    std::string num(rest.substr(0, i));
    if (num.empty() || num == "." || std::count(num.begin(), num.end(), '.') > 1)
      return bad(flag, s, "expected a number before the unit");
    rest.remove_prefix(i);
    size_t j = 0;
    while (j < rest.size() && !std::isdigit(static_cast<unsigned char>(rest[j])) && rest[j] != '.') j++;
    std::string_view unit = rest.substr(0, j);
    rest.remove_prefix(j);
    long double mult;
    if (unit == "ns") mult = 1;
    else if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs") mult = 1e3L;
    else if (unit == "ms") mult = 1e6L;
    else if (unit == "s") mult = 1e9L;
    else if (unit == "m") mult = 60e9L;
    else if (unit == "h") mult = 3600e9L;
    else if (unit.empty()) return bad(flag, s, "missing unit (e.g. 30s, 1m, 500ms)");
    else return bad(flag, s, "unknown unit " + quote(unit));
    total += std::strtold(num.c_str(), nullptr) * mult;
    if (total >= 9223372036854775807.0L) return bad(flag, s, "too large");
  }
  return static_cast<int64_t>(total);
}

Result<int> parse_signal(std::string_view s, std::string_view flag) {
  int v = runtime::signal_from_name(s);
  if (v <= 0) return bad(flag, s, "unknown signal");
  return v;
}

namespace {

constexpr const char* kUlimits[] = {"as",     "core",   "cpu",    "data",       "fsize", "locks",
                                    "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
                                    "rtprio", "rttime", "sigpending", "stack"};

Result<uint64_t> ulimit_value(std::string_view v, std::string_view whole) {
  if (v == "unlimited" || v == "-1") return UINT64_MAX;
  auto n = detail::parse_int(v);
  if (!n || *n < 0) return bad("--ulimit", whole, "invalid value " + quote(v));
  return static_cast<uint64_t>(*n);
}

}  // namespace

Result<Ulimit> parse_ulimit(std::string_view s) {
  size_t eq = s.find('=');
  if (eq == std::string_view::npos) return bad("--ulimit", s, "expected name=soft[:hard]");
  Ulimit u;
  u.name = std::string(s.substr(0, eq));
  bool known = false;
  for (const char* n : kUlimits) known = known || u.name == n;
  if (!known) return bad("--ulimit", s, "unknown resource " + quote(u.name));
  std::string_view vals = s.substr(eq + 1);
  size_t colon = vals.find(':');
  TRY_ASSIGN(u.soft, ulimit_value(vals.substr(0, colon), s));
  u.hard = u.soft;
  if (colon != std::string_view::npos) {
    TRY_ASSIGN(u.hard, ulimit_value(vals.substr(colon + 1), s));
  }
  if (u.soft > u.hard) return bad("--ulimit", s, "soft limit must be less than or equal to hard limit");
  return u;
}

Result<RestartPolicy> parse_restart(std::string_view s) {
  RestartPolicy r;
  std::string_view name = s.substr(0, s.find(':'));
  if (name == "" || name == "no") r.policy = RestartPolicy::no;
  else if (name == "always") r.policy = RestartPolicy::always;
  else if (name == "unless-stopped") r.policy = RestartPolicy::unless_stopped;
  else if (name == "on-failure") r.policy = RestartPolicy::on_failure;
  else return bad("--restart", s, "unknown policy (no, on-failure[:max-retries], always, unless-stopped)");
  if (name.size() < s.size()) {
    if (r.policy != RestartPolicy::on_failure)
      return bad("--restart", s, "a maximum retry count can only be used with on-failure");
    auto n = detail::parse_int(s.substr(name.size() + 1));
    if (!n || *n < 0 || *n > INT_MAX) return bad("--restart", s, "invalid maximum retry count");
    r.max_retries = static_cast<int>(*n);
  }
  return r;
}

Result<std::optional<std::string>> parse_env(std::string_view s, const EnvLookup& lookup) {
  size_t eq = s.find('=');
  std::string_view key = s.substr(0, eq);
  if (key.empty()) return bad("-e", s, "empty variable name");
  if (s.find('\0') != std::string_view::npos) return bad("-e", s, "contains a NUL byte");
  if (eq != std::string_view::npos) return std::optional<std::string>(std::string(s));
  auto v = lookup ? lookup(std::string(key)) : std::nullopt;
  if (!v) return std::optional<std::string>();
  return std::optional<std::string>(std::string(key) + "=" + *v);
}

namespace {

// The line loop shared by --env-file and --label-file (Docker's
// parseKeyValueFile): leading whitespace trimmed, '#' and blank lines
// skipped, the key must not contain whitespace, the value is verbatim.
// `lookup` null: "KEY" lines are skipped (label files).
Result<std::vector<std::string>> key_value_lines(std::string_view text, std::string_view flag,
                                                 std::string_view where, const EnvLookup* lookup) {
  std::vector<std::string> out;
  if (text.substr(0, 3) == "\xef\xbb\xbf") text.remove_prefix(3);  // UTF-8 BOM
  size_t lineno = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    lineno++;
    auto at = [&](std::string why) {
      return Error(Errc::invalid_argument,
                   "invalid " + std::string(flag) + " " + quote(where) + " line " + std::to_string(lineno) + ": " + why);
    };
    if (!detail::valid_utf8(line)) return at("invalid UTF-8");
    if (line.find('\0') != std::string_view::npos) return at("contains a NUL byte");
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // files written on Windows
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front()))) line.remove_prefix(1);
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    std::string_view key = line.substr(0, eq);
    if (key.empty()) return at("no variable name");
    for (char c : key)
      if (std::isspace(static_cast<unsigned char>(c))) return at("variable " + quote(key) + " contains whitespace");
    if (eq != std::string_view::npos) {
      out.emplace_back(line);
    } else if (lookup && *lookup) {
      if (auto v = (*lookup)(std::string(key))) out.push_back(std::string(key) + "=" + *v);
    }
  }
  return out;
}

constexpr uint64_t kMaxEnvFile = 4 << 20;

}  // namespace

Result<std::vector<std::string>> parse_env_text(std::string_view text, std::string_view where,
                                                const EnvLookup& lookup) {
  return key_value_lines(text, "--env-file", where, &lookup);
}

Result<std::vector<std::string>> parse_env_file(const std::string& path, const EnvLookup& lookup) {
  auto text = read_file(path, kMaxEnvFile);
  if (!text.ok()) return bad("--env-file", path, text.error().str());
  return parse_env_text(*text, path, lookup);
}

Result<std::pair<std::string, std::string>> parse_label(std::string_view s, std::string_view flag) {
  size_t eq = s.find('=');
  std::string key(s.substr(0, eq));
  if (key.empty()) return bad(flag, s, "empty label name");
  if (s.find('\0') != std::string_view::npos) return bad(flag, s, "contains a NUL byte");
  std::string value = eq == std::string_view::npos ? "" : std::string(s.substr(eq + 1));
  return std::make_pair(std::move(key), std::move(value));
}

Result<std::map<std::string, std::string>> parse_label_file(const std::string& path) {
  auto text = read_file(path, kMaxEnvFile);
  if (!text.ok()) return bad("--label-file", path, text.error().str());
  TRY_ASSIGN(auto lines, key_value_lines(*text, "--label-file", path, nullptr));
  std::map<std::string, std::string> out;
  for (auto& l : lines) {
    size_t eq = l.find('=');
    out[l.substr(0, eq)] = l.substr(eq + 1);
  }
  return out;
}

Result<std::string> parse_capability(std::string_view s, std::string_view flag) {
  std::string n;
  for (char c : s) n += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (n == "ALL") return n;
  if (n.rfind("CAP_", 0) != 0) n = "CAP_" + n;
  if (runtime::cap_from_name(n) < 0) return bad(flag, s, "unknown capability " + quote(n));
  return n;
}

Status apply_security_opt(RunOptions& o, std::string_view s) {
  // Docker takes "key=value" and, for compatibility, "key:value".
  size_t sep = s.find_first_of("=:");
  std::string_view key = s.substr(0, sep);
  std::string_view val = sep == std::string_view::npos ? std::string_view() : s.substr(sep + 1);
  if (key == "no-new-privileges") {
    if (sep == std::string_view::npos || val == "true") o.no_new_privileges = true;
    else if (val == "false") o.no_new_privileges = false;
    else return bad("--security-opt", s, "expected no-new-privileges[=true|false]");
    return {};
  }
  if (key == "seccomp") {
    if (val.empty()) return bad("--security-opt", s, "expected seccomp=unconfined or seccomp=FILE");
    if (val == "unconfined") {
      o.seccomp_unconfined = true;
      o.seccomp_profile.clear();
      return {};
    }
    if (val == "builtin") {  // Docker 25: the default profile, explicitly
      o.seccomp_unconfined = false;
      o.seccomp_profile.clear();
      return {};
    }
    auto text = read_file(std::string(val), 4 << 20);
    if (!text.ok()) return bad("--security-opt", s, text.error().str());
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return bad("--security-opt", s, "the profile is not a JSON object");
    o.seccomp_unconfined = false;
    o.seccomp_profile = std::move(*text);
    return {};
  }
  // berth has neither SELinux nor AppArmor support; Docker on a host without
  // them accepts and ignores these too, and scripts pass them routinely.
  if (key == "label" || key == "apparmor") return {};
  if (key == "systempaths" && val == "unconfined") {
    o.systempaths_unconfined = true;
    return {};
  }
  return bad("--security-opt", s, "unknown option (seccomp=, no-new-privileges, label=, apparmor=, systempaths=)");
}

Result<std::pair<std::string, std::string>> parse_key_value(std::string_view s, std::string_view flag) {
  size_t eq = s.find('=');
  if (eq == std::string_view::npos || eq == 0) return bad(flag, s, "expected key=value");
  if (s.find('\0') != std::string_view::npos) return bad(flag, s, "contains a NUL byte");
  return std::make_pair(std::string(s.substr(0, eq)), std::string(s.substr(eq + 1)));
}

Result<std::string> parse_network(std::string_view s) {
  if (s == "bridge" || s == "default" || s.empty()) return std::string("bridge");
  if (s == "none" || s == "host") return std::string(s);
  if (s.rfind("container:", 0) == 0)
    return Error(Errc::unsupported,
                 "invalid --network " + quote(s) + ": joining another container's network is not supported");
  return Error(Errc::unsupported, "invalid --network " + quote(s) + ": only bridge, host and none are supported");
}

Result<PullPolicy> parse_pull(std::string_view s) {
  if (s == "missing") return PullPolicy::missing;
  if (s == "never") return PullPolicy::never;
  if (s == "always") return PullPolicy::always;
  return bad("--pull", s, "expected missing, never or always");
}

Status check_ip(std::string_view s, std::string_view flag) {
  std::string ip(s);
  unsigned char buf[16];
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1 || inet_pton(AF_INET6, ip.c_str(), buf) == 1) return {};
  return bad(flag, s, "not an IP address");
}

Status check_expose(std::string_view s) {
  std::string_view ports = s.substr(0, s.find('/'));
  if (ports.size() < s.size()) {
    std::string_view proto = s.substr(ports.size() + 1);
    if (proto != "tcp" && proto != "udp" && proto != "sctp") return bad("--expose", s, "unknown protocol " + quote(proto));
  }
  size_t dash = ports.find('-');
  auto lo = detail::parse_int(ports.substr(0, dash));
  auto hi = dash == std::string_view::npos ? lo : detail::parse_int(ports.substr(dash + 1));
  if (!lo || !hi || *lo < 1 || *hi > 65535 || *lo > *hi) return bad("--expose", s, "expected port[-port][/proto]");
  return {};
}

Status check_add_host(std::string_view s) {
  // Docker: "name:ip", and since 25 "name=ip"; an IPv6 address keeps its
  // colons because only the first separator splits.
  size_t sep = s.find('=');
  if (sep == std::string_view::npos) sep = s.find(':');
  if (sep == std::string_view::npos || sep == 0) return bad("--add-host", s, "expected host:ip");
  for (char c : s.substr(0, sep))
    if (std::isspace(static_cast<unsigned char>(c)) || c == '\0') return bad("--add-host", s, "invalid host name");
  std::string_view ip = s.substr(sep + 1);
  if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  if (ip == "host-gateway") return {};
  auto r = check_ip(ip, "--add-host");
  if (!r.ok()) return bad("--add-host", s, "invalid IP address " + quote(ip));
  return {};
}

Result<std::vector<std::string>> collect_env(const std::vector<std::string>& env_files,
                                             const std::vector<std::string>& env, const EnvLookup& lookup) {
  std::vector<std::string> out;
  for (const auto& file : env_files) {
    TRY_ASSIGN(auto lines, parse_env_file(file, lookup));
    out.insert(out.end(), lines.begin(), lines.end());
  }
  for (const auto& e : env) {
    TRY_ASSIGN(auto kv, parse_env(e, lookup));
    if (kv) out.push_back(std::move(*kv));
  }
  return out;
}

}  // namespace berth::engine
