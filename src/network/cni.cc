// The CNI execution protocol and the strict parser for plugin output.
#include "network/cni.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "base/fs.h"
#include "base/fd.h"

extern char** environ;

namespace berth::network::cni {
namespace {

using nlohmann::json;

Error bad(std::string_view plugin, std::string_view what) {
  return Error(Errc::invalid_input, "cni plugin " + std::string(plugin) + ": malformed result: " +
                                        std::string(what));
}

// Plugin text goes into one-line errors: no control characters, bounded length.
std::string one_line(std::string_view s, size_t max = 300) {
  std::string r;
  for (char c : s) {
    if (r.size() >= max) {
      r += "...";
      break;
    }
    unsigned char u = static_cast<unsigned char>(c);
    r += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  while (!r.empty() && r.back() == ' ') r.pop_back();
  size_t b = r.find_first_not_of(' ');
  return b == std::string::npos ? std::string() : r.substr(b);
}

const json* member(const json& o, const char* key) {
  auto it = o.find(key);
  return it == o.end() || it->is_null() ? nullptr : &*it;
}

Result<std::string> opt_string(const json& o, const char* key, std::string_view plugin,
                               std::string_view where) {
  const json* v = member(o, key);
  if (!v) return std::string();
  if (!v->is_string()) return bad(plugin, std::string(where) + "." + key + " is not a string");
  return v->get<std::string>();
}

bool mac_ok(std::string_view m) {
  // Plugins print "aa:bb:cc:dd:ee:ff"; infiniband and others are longer, so
  // accept 1..20 colon-separated hex octets.
  if (m.empty() || m.size() > 59) return false;
  size_t octets = 0;
  for (size_t i = 0; i < m.size();) {
    if (i + 2 > m.size() || !isxdigit(static_cast<unsigned char>(m[i])) ||
        !isxdigit(static_cast<unsigned char>(m[i + 1])))
      return false;
    ++octets;
    i += 2;
    if (i == m.size()) break;
    if (m[i] != ':') return false;
    ++i;
    if (i == m.size()) return false;
  }
  return octets >= 1 && octets <= 20;
}

}  // namespace

bool parse_ip(std::string_view s, bool* v6) {
  if (s.empty() || s.size() > 45) return false;
  std::string z(s);
  unsigned char buf[16];
  if (inet_pton(AF_INET, z.c_str(), buf) == 1) {
    if (v6) *v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, z.c_str(), buf) == 1) {
    if (v6) *v6 = true;
    return true;
  }
  return false;
}

bool parse_cidr(std::string_view s, std::string* addr, int* prefix, bool* v6) {
  size_t slash = s.find('/');
  if (slash == std::string_view::npos) return false;
  bool is6 = false;
  if (!parse_ip(s.substr(0, slash), &is6)) return false;
  std::string_view p = s.substr(slash + 1);
  if (p.empty() || p.size() > 3) return false;
  int n = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  if (p.size() > 1 && p[0] == '0') return false;
  if (n > (is6 ? 128 : 32)) return false;
  if (addr) *addr = std::string(s.substr(0, slash));
  if (prefix) *prefix = n;
  if (v6) *v6 = is6;
  return true;
}

bool valid_container_id(std::string_view id) {
  if (id.empty() || id.size() > 255 || !isalnum(static_cast<unsigned char>(id[0]))) return false;
  for (char c : id)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

Result<CniResult> parse_result(std::string_view text, std::string_view plugin) {
  if (text.size() > kMaxOutput) return bad(plugin, "larger than 1 MiB");
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad(plugin, "not JSON");
  if (!j.is_object()) return bad(plugin, "not a JSON object");
  CniResult r;
  {
    const json* v = member(j, "cniVersion");
    if (!v || !v->is_string() || v->get_ref<const std::string&>().empty())
      return bad(plugin, "cniVersion missing or not a string");
    r.cni_version = v->get<std::string>();
  }
  if (const json* ifs = member(j, "interfaces")) {
    if (!ifs->is_array()) return bad(plugin, "interfaces is not an array");
    for (size_t i = 0; i < ifs->size(); ++i) {
      const json& e = (*ifs)[i];
      std::string where = "interfaces[" + std::to_string(i) + "]";
      if (!e.is_object()) return bad(plugin, where + " is not an object");
      Interface itf;
      TRY_ASSIGN(itf.name, opt_string(e, "name", plugin, where));
      if (itf.name.empty() || itf.name.size() > 15 || itf.name.find('/') != std::string::npos)
        return bad(plugin, where + ".name is not an interface name");
      TRY_ASSIGN(itf.mac, opt_string(e, "mac", plugin, where));
      if (!itf.mac.empty() && !mac_ok(itf.mac)) return bad(plugin, where + ".mac is not a MAC address");
      TRY_ASSIGN(itf.sandbox, opt_string(e, "sandbox", plugin, where));
      r.interfaces.push_back(std::move(itf));
    }
  }
  if (const json* ips = member(j, "ips")) {
    if (!ips->is_array()) return bad(plugin, "ips is not an array");
    for (size_t i = 0; i < ips->size(); ++i) {
      const json& e = (*ips)[i];
      std::string where = "ips[" + std::to_string(i) + "]";
      if (!e.is_object()) return bad(plugin, where + " is not an object");
      IpConfig ip;
      std::string addr;
      TRY_ASSIGN(addr, opt_string(e, "address", plugin, where));
      if (!parse_cidr(addr, &ip.address, &ip.prefix_len, &ip.v6))
        return bad(plugin, where + ".address \"" + one_line(addr, 60) + "\" is not CIDR");
      TRY_ASSIGN(ip.gateway, opt_string(e, "gateway", plugin, where));
      if (!ip.gateway.empty() && !parse_ip(ip.gateway))
        return bad(plugin, where + ".gateway is not an IP address");
      if (const json* idx = member(e, "interface")) {
        if (!idx->is_number_integer() && !idx->is_number_unsigned())
          return bad(plugin, where + ".interface is not an index");
        if (idx->is_number_integer() && idx->get<int64_t>() < 0)
          return bad(plugin, where + ".interface is negative");
        uint64_t n = idx->get<uint64_t>();
        if (n >= r.interfaces.size()) return bad(plugin, where + ".interface is out of range");
        ip.interface = static_cast<size_t>(n);
      }
      r.ips.push_back(std::move(ip));
    }
  }
  if (const json* routes = member(j, "routes")) {
    if (!routes->is_array()) return bad(plugin, "routes is not an array");
    for (size_t i = 0; i < routes->size(); ++i) {
      const json& e = (*routes)[i];
      std::string where = "routes[" + std::to_string(i) + "]";
      if (!e.is_object()) return bad(plugin, where + " is not an object");
      Route rt;
      TRY_ASSIGN(rt.dst, opt_string(e, "dst", plugin, where));
      if (!parse_cidr(rt.dst, nullptr, nullptr)) return bad(plugin, where + ".dst is not CIDR");
      TRY_ASSIGN(rt.gw, opt_string(e, "gw", plugin, where));
      if (!rt.gw.empty() && !parse_ip(rt.gw)) return bad(plugin, where + ".gw is not an IP address");
      r.routes.push_back(std::move(rt));
    }
  }
  if (const json* dns = member(j, "dns"); dns && !dns->is_object())
    return bad(plugin, "dns is not an object");
  r.raw = std::move(j);
  return r;
}

Error plugin_error(std::string_view plugin, std::string_view command, int exit_status,
                   std::string_view out, std::string_view err) {
  std::string head = "cni plugin " + std::string(plugin) + " " + std::string(command) + " failed";
  json j = json::parse(out.begin(), out.end(), nullptr, false);
  if (out.size() <= kMaxOutput && j.is_object()) {
    std::string msg, details;
    if (auto it = j.find("msg"); it != j.end() && it->is_string()) msg = one_line(it->get<std::string>());
    if (auto it = j.find("details"); it != j.end() && it->is_string())
      details = one_line(it->get<std::string>());
    std::string code;
    if (auto it = j.find("code"); it != j.end() && it->is_number_unsigned())
      code = std::to_string(it->get<uint64_t>());
    if (!msg.empty() || !details.empty()) {
      std::string m = head + ": " + (msg.empty() ? details : msg);
      if (!msg.empty() && !details.empty() && details != msg) m += ": " + details;
      if (!code.empty()) m += " (code " + code + ")";
      // Code 11 is CNI's "try again later".
      return Error(code == "11" ? Errc::busy : Errc::network, m);
    }
  }
  // No error JSON: the last stderr line is usually the Go panic or log message.
  std::string_view e = err;
  while (!e.empty() && (e.back() == '\n' || e.back() == '\r' || e.back() == ' ')) e.remove_suffix(1);
  if (size_t nl = e.rfind('\n'); nl != std::string_view::npos) e = e.substr(nl + 1);
  std::string status = exit_status >= 128 ? "killed by signal " + std::to_string(exit_status - 128)
                                           : "exit status " + std::to_string(exit_status);
  std::string m = head + " (" + status + ")";
  if (!e.empty()) m += ": " + one_line(e);
  else if (!out.empty()) m += ": " + one_line(out);
  return Error(Errc::network, m);
}

json exec_config(const json& list, const json& plugin, const json& capability_args,
                 const json* prev_result) {
  json c = plugin;
  c.erase("capabilities");
  c["cniVersion"] = list.value("cniVersion", "1.0.0");
  c["name"] = list.value("name", "");
  json rc = json::object();
  if (auto caps = plugin.find("capabilities"); caps != plugin.end() && caps->is_object()) {
    for (auto& [key, enabled] : caps->items()) {
      if (enabled.is_boolean() && enabled.get<bool>() && capability_args.is_object() &&
          capability_args.contains(key))
        rc[key] = capability_args[key];
    }
  }
  if (!rc.empty()) c["runtimeConfig"] = rc;
  else c.erase("runtimeConfig");
  if (prev_result) c["prevResult"] = *prev_result;
  return c;
}

Result<std::string> exec_plugin(const std::string& type, const Invocation& inv,
                                const json& config) {
  if (type.empty() || type.size() > 64 || type.find('/') != std::string::npos || type[0] == '.')
    return Error(Errc::invalid_argument, "cni plugin type \"" + one_line(type, 64) + "\" is not a plugin name");
  std::string path;
  for (const auto& d : inv.plugin_dirs) {
    std::string p = d + "/" + type;
    struct stat st;
    if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0) {
      path = p;
      break;
    }
  }
  if (path.empty()) {
    std::string dirs;
    for (const auto& d : inv.plugin_dirs) dirs += (dirs.empty() ? "" : ":") + d;
    return Error(Errc::not_found, "cni plugin " + type + " not found in " + dirs);
  }

  std::vector<std::string> env;
  bool have_path = false;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (kv.starts_with("CNI_")) continue;  // ours only: a stale CNI_ARGS must not leak in
    if (kv.starts_with("PATH=")) {
      have_path = true;
      std::string p(kv);
      // go-iptables looks iptables up in PATH; a non-login root shell may lack sbin.
      std::string dirs = ":" + p.substr(5) + ":";
      for (const char* add : {"/usr/sbin", "/sbin"})
        if (dirs.find(std::string(":") + add + ":") == std::string::npos) p += std::string(":") + add;
      env.push_back(std::move(p));
      continue;
    }
    env.emplace_back(kv);
  }
  if (!have_path) env.emplace_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  std::string cni_path;
  for (const auto& d : inv.plugin_dirs) cni_path += (cni_path.empty() ? "" : ":") + d;
  env.push_back("CNI_COMMAND=" + inv.command);
  env.push_back("CNI_CONTAINERID=" + inv.container_id);
  env.push_back("CNI_NETNS=" + inv.netns);
  env.push_back("CNI_IFNAME=" + inv.ifname);
  env.push_back("CNI_PATH=" + cni_path);

  std::string stdin_data = config.dump();
  TRY_ASSIGN(RunResult rr, run(path, {path}, env, stdin_data, inv.timeout));
  if (rr.timed_out)
    return Error(Errc::timeout, "cni plugin " + type + " " + inv.command + " killed after " +
                                    std::to_string(inv.timeout.count()) + " ms");
  if (rr.exit_status != 0) return plugin_error(type, inv.command, rr.exit_status, rr.out, rr.err);
  return std::move(rr.out);
}

Result<RunResult> run(const std::string& path, const std::vector<std::string>& argv,
                      const std::vector<std::string>& env, std::string_view stdin_data,
                      std::chrono::milliseconds timeout) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return sys_error("pipe for " + path);
  UniqueFd in_r(in[0]), in_w(in[1]);
  if (pipe2(out, O_CLOEXEC) != 0) return sys_error("pipe for " + path);
  UniqueFd out_r(out[0]), out_w(out[1]);
  if (pipe2(err, O_CLOEXEC) != 0) return sys_error("pipe for " + path);
  UniqueFd err_r(err[0]), err_w(err[1]);

  // Everything the child touches is prepared before fork: after fork only
  // async-signal-safe calls are allowed (the caller may be multi-threaded).
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) return sys_error("fork for " + path);
  if (pid == 0) {
    if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0) _exit(127);
    syscall(SYS_close_range, 3, ~0U, 0);  // no inherited descriptors (locks, sockets)
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(path.c_str(), cargv.data(), cenv.data());
    _exit(127);
  }
  in_r.reset();
  out_w.reset();
  err_w.reset();
  fcntl(in_w.get(), F_SETFL, O_NONBLOCK);

  RunResult rr;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  size_t written = 0;
  if (stdin_data.empty()) in_w.reset();
  bool out_open = true, err_open = true;
  char buf[16384];
  while (out_open || err_open || in_w.valid()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                      std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      rr.timed_out = true;
      break;
    }
    pollfd fds[3];
    int n = 0, iw = -1, io = -1, ie = -1;
    if (in_w.valid()) fds[iw = n++] = {in_w.get(), POLLOUT, 0};
    if (out_open) fds[io = n++] = {out_r.get(), POLLIN, 0};
    if (err_open) fds[ie = n++] = {err_r.get(), POLLIN, 0};
    int pr = ::poll(fds, n, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (pr < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return sys_error("poll on " + path, e);
    }
    if (iw >= 0 && fds[iw].revents) {
      ssize_t w = berth::write_nosigpipe(in_w.get(), stdin_data.data() + written, stdin_data.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      // EPIPE (plugin ignored stdin) is not our failure; its exit status tells.
      if (w < 0 && errno != EAGAIN && errno != EINTR) in_w.reset();
      if (written == stdin_data.size()) in_w.reset();
    }
    auto drain = [&](int idx, UniqueFd& fd, std::string& dst, bool& open) {
      if (idx < 0 || !fds[idx].revents) return;
      ssize_t r = ::read(fd.get(), buf, sizeof buf);
      if (r > 0) {
        size_t room = kMaxOutput + 1 > dst.size() ? kMaxOutput + 1 - dst.size() : 0;
        dst.append(buf, std::min(static_cast<size_t>(r), room));  // keep reading, drop the excess
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        open = false;
      }
    };
    drain(io, out_r, rr.out, out_open);
    drain(ie, err_r, rr.err, err_open);
  }
  if (rr.timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return sys_error("waitpid for " + path);
  }
  rr.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return rr;
}

}  // namespace berth::network::cni
