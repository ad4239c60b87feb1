// Rootless networking: slirp4netns gives a container's netns a tap device
// whose traffic it carries through ordinary sockets of the host (no bridge,
// no veth: those need the host's root). docs/engine-rootless.md.
#include "engine/slirp.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "engine/paths.h"

namespace berth::engine {

namespace {

constexpr int kReadyTimeoutMs = 10000;

std::string slirp_binary() {
  if (const char* e = std::getenv("BERTH_SLIRP4NETNS"); e && *e) return e;
  for (const char* p : {"/usr/bin/slirp4netns", "/usr/local/bin/slirp4netns", "/bin/slirp4netns"})
    if (::access(p, X_OK) == 0) return p;
  return "";
}

// The pid in `pid_file` if it still names a slirp4netns (a recycled pid is
// some other process of the user and must not be killed).
pid_t live_slirp(const std::string& pid_file) {
  auto text = read_file(pid_file, 64);
  if (!text.ok()) return 0;
  int pid = 0;
  auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), pid);
  if (ec != std::errc() || pid <= 0) return 0;
  auto comm = read_file("/proc/" + std::to_string(pid) + "/comm", 64);
  if (!comm.ok() || comm->rfind("slirp4netns", 0) != 0) return 0;
  return pid;
}

// A port the kernel reports free on host_ip now (slirp4netns binds it a
// moment later; another taker in between makes add_hostfwd fail, not hang).
Result<uint16_t> free_port(const std::string& host_ip, bool udp) {
  UniqueFd s(::socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0));
  if (!s) return sys_error("publish: socket");
  struct sockaddr_in a = {};
  a.sin_family = AF_INET;
  if (::inet_pton(AF_INET, host_ip.empty() ? "0.0.0.0" : host_ip.c_str(), &a.sin_addr) != 1)
    return Error(Errc::invalid_argument, "publish: host address " + host_ip + " is not IPv4");
  if (::bind(s.get(), reinterpret_cast<struct sockaddr*>(&a), sizeof a) != 0) return sys_error("publish: bind " + host_ip);
  socklen_t len = sizeof a;
  if (::getsockname(s.get(), reinterpret_cast<struct sockaddr*>(&a), &len) != 0) return sys_error("publish: getsockname");
  return ntohs(a.sin_port);
}

// One request per connection, as slirp4netns's API serves them.
Result<nlohmann::json> api_call(const std::string& path, const nlohmann::json& req) {
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return sys_error("slirp4netns api: socket");
  struct sockaddr_un a = {};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) return Error(Errc::limit, "slirp4netns api: socket path too long: " + path);
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  if (::connect(s.get(), reinterpret_cast<struct sockaddr*>(&a), sizeof a) != 0)
    return sys_error("slirp4netns api: connect " + path);
  std::string body = req.dump();
  TRY(write_all(s.get(), body.data(), body.size()));
  ::shutdown(s.get(), SHUT_WR);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(s.get(), buf, sizeof buf)) > 0 && out.size() < (1 << 16)) out.append(buf, static_cast<size_t>(n));
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error(Errc::io, "slirp4netns api: unreadable reply: " + out.substr(0, 200));
  return j;
}

}  // namespace

Status slirp_forward(const std::string& api_socket, network::PortMapping& p) {
  if (p.protocol != "tcp" && p.protocol != "udp")
    return Error(Errc::unsupported, "publish " + std::to_string(p.container_port) + "/" + p.protocol +
                                        ": slirp4netns forwards tcp and udp only");
  if (p.host_port == 0) {
    TRY_ASSIGN(p.host_port, free_port(p.host_ip, p.protocol == "udp"));
  }
  nlohmann::json req = {{"execute", "add_hostfwd"},
                        {"arguments", {{"proto", p.protocol}, {"host_addr", p.host_ip.empty() ? "0.0.0.0" : p.host_ip},
                                       {"host_port", p.host_port}, {"guest_addr", kSlirpIp},
                                       {"guest_port", p.container_port}}}};
  TRY_ASSIGN(auto reply, api_call(api_socket, req));
  if (reply.contains("error")) {
    const auto& e = reply["error"];
    std::string desc = e.is_object() ? e.value("desc", e.dump()) : e.dump();
    // The usual cause, which slirp4netns does not name.
    auto start = read_file("/proc/sys/net/ipv4/ip_unprivileged_port_start", 32);
    int first = start.ok() ? std::atoi(start->c_str()) : 1024;
    if (p.host_port < first)
      desc += " (host ports below " + std::to_string(first) +
              " need the host's root: sysctl net.ipv4.ip_unprivileged_port_start)";
    return Error(Errc::io, "publish " + (p.host_ip.empty() ? "" : p.host_ip + ":") + std::to_string(p.host_port) +
                               "->" + std::to_string(p.container_port) + "/" + p.protocol + ": slirp4netns: " + desc);
  }
  return Status{};
}

bool slirp_available() { return !slirp_binary().empty(); }

Status start_slirp(const std::string& netns, const std::string& pid_file, const std::string& log_file,
                   const std::string& api_socket) {
  std::string bin = slirp_binary();
  if (bin.empty())
    return Error(Errc::not_found, "rootless network: slirp4netns is not installed (apt-get install slirp4netns), "
                                  "or use --network none or host");
  // Checked here for a message that says what to do; slirp4netns would only
  // log EACCES from its child.
  if (::access("/dev/net/tun", R_OK | W_OK) != 0)
    return Error(Errc::permission, "rootless network: /dev/net/tun is not usable by this user (" +
                                       std::string(std::strerror(errno)) +
                                       "; Debian's udev makes it 0666): use --network none or host");
  int ready[2], report[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return sys_error("slirp4netns: pipe");
  UniqueFd ready_rd(ready[0]), ready_wr(ready[1]);
  if (::pipe2(report, O_CLOEXEC) != 0) return sys_error("slirp4netns: pipe");
  UniqueFd report_rd(report[0]), report_wr(report[1]);
  std::vector<std::string> args = {bin,           "--configure", "--mtu=65520", "--disable-host-loopback",
                                   "--netns-type=path", "--ready-fd=3"};
  if (!api_socket.empty()) {
    ::unlink(api_socket.c_str());
    args.push_back("--api-socket=" + api_socket);
  }
  args.push_back(netns);
  args.push_back("tap0");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t c = ::fork();
  if (c < 0) return sys_error("slirp4netns: fork");
  if (c == 0) {
    // Detached (a grandchild in its own session): it must outlive `run -d`,
    // and teardown_network stops it by the pid file.
    ::setsid();
    pid_t g = ::fork();
    if (g != 0) {
      (void)!::write(report_wr.get(), &g, sizeof g);
      ::_exit(g > 0 ? 0 : 1);
    }
    int null = ::open("/dev/null", O_RDONLY);
    int log = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (null < 0 || log < 0) ::_exit(126);
    ::dup2(null, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    ::dup2(ready_wr.get(), 3);  // dup2 clears close-on-exec
    ::syscall(SYS_close_range, 4U, ~0U, 0U);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ready_wr.reset();
  report_wr.reset();
  int st = 0;
  while (::waitpid(c, &st, 0) < 0 && errno == EINTR) {
  }
  pid_t pid = -1;
  if (::read(report_rd.get(), &pid, sizeof pid) != static_cast<ssize_t>(sizeof pid) || pid <= 0)
    return Error(Errc::io, "slirp4netns: could not start " + bin);
  TRY(write_ephemeral(pid_file, std::to_string(pid) + "\n", 0600));
  struct pollfd p = {ready_rd.get(), POLLIN, 0};
  int n;
  while ((n = ::poll(&p, 1, kReadyTimeoutMs)) < 0 && errno == EINTR) {
  }
  char b = 0;
  if (n == 1 && ::read(ready_rd.get(), &b, 1) == 1 && b == '1') return Status{};
  (void)stop_slirp(pid_file);
  auto log = read_file(log_file, 4096);
  std::string why = log.ok() && !log->empty() ? log->substr(0, log->find('\n')) : "no message";
  return Error(Errc::io, "slirp4netns for " + netns + " did not come up: " + why + " (log " + log_file + ")");
}

Status stop_slirp(const std::string& pid_file) {
  pid_t pid = live_slirp(pid_file);
  if (pid > 0 && ::kill(pid, SIGTERM) != 0 && errno != ESRCH)
    return sys_error("stop slirp4netns " + std::to_string(pid));
  if (::unlink(pid_file.c_str()) != 0 && errno != ENOENT) return sys_error("remove " + pid_file);
  // Its API socket (slirp-<id>.sock beside slirp-<id>.pid), if it had one.
  if (pid_file.ends_with(".pid")) ::unlink((pid_file.substr(0, pid_file.size() - 4) + ".sock").c_str());
  return Status{};
}

}  // namespace berth::engine
