// berth-monitor: exec'd by the process that created a detached container
// (so it keeps that process's pid and stays the container init's parent).
// Runs the monitor loop, then becomes `berth container cleanup ID`.
//
// Usage (internal, not for people):
//   berth-monitor --id ID --child PID --berth PATH --root ROOT [--name N] [--image I]
//     [--out FD --err FD | --pty FD] [--log PATH] [--log-max BYTES] [--exit PATH]
//     [--events PATH] [--health-interval NS] [--health-start NS]
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/monitor.h"

using berth::engine::MonitorConfig;

int main(int argc, char** argv) {
  MonitorConfig c;
  std::string berth, root;
  int64_t health_interval = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--id") c.id = v;
    else if (k == "--name") c.name = v;
    else if (k == "--image") c.image = v;
    else if (k == "--child") c.child = std::atoi(v);
    else if (k == "--out") c.out_fd = std::atoi(v);
    else if (k == "--err") c.err_fd = std::atoi(v);
    else if (k == "--pty") c.pty_fd = std::atoi(v);
    else if (k == "--log") c.log_path = v;
    else if (k == "--log-max") c.log_max_bytes = std::strtoull(v, nullptr, 10);
    else if (k == "--exit") c.exit_path = v;
    else if (k == "--events") c.events_path = v;
    else if (k == "--health-interval") health_interval = std::strtoll(v, nullptr, 10);
    else if (k == "--health-start") c.health_start_ns = std::strtoll(v, nullptr, 10);
    else if (k == "--berth") berth = v;
    else if (k == "--root") root = v;
    else {
      std::fprintf(stderr, "berth-monitor: unknown argument %s\n", k.c_str());
      return 125;
    }
  }
  if (c.id.empty() || c.child <= 0 || berth.empty() || root.empty()) {
    std::fprintf(stderr, "berth-monitor: --id, --child, --berth and --root are required\n");
    return 125;
  }
  if (health_interval > 0) {
    c.health_argv = {berth, "--root", root, "healthcheck", "run", c.id};
    c.health_interval_ns = health_interval;
  }
  auto r = berth::engine::run_monitor(c);
  if (!r.ok()) std::fprintf(stderr, "berth-monitor: %s\n", r.error().str().c_str());
  // Everything after the exit (unmount, network, --rm, restart policy) is the
  // CLI's business; it runs in this same process so nothing is left unparented.
  for (int fd : {c.out_fd, c.err_fd, c.pty_fd})
    if (fd >= 0) ::close(fd);
  std::string cleanup = "cleanup";
  char* args[] = {berth.data(), const_cast<char*>("--root"), root.data(), const_cast<char*>("container"),
                  cleanup.data(), c.id.data(), nullptr};
  ::execv(args[0], args);
  std::perror("berth-monitor: exec berth container cleanup");
  return 1;
}
