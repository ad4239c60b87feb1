// Rootless networking: slirp4netns gives a container's netns a tap device
// whose traffic it carries through ordinary sockets of the host (no bridge,
// no veth: those need the host's root). docs/engine-rootless.md.
#include "engine/slirp.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>
#include <vector>

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

}  // namespace

bool slirp_available() { return !slirp_binary().empty(); }

Status start_slirp(const std::string& netns, const std::string& pid_file, const std::string& log_file) {
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
                                   "--netns-type=path", "--ready-fd=3", netns,   "tap0"};
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
  return Status{};
}

}  // namespace berth::engine
