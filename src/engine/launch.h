// berth/engine (internal): creating and starting a prepared container in the
// calling process, so that its init is our child.
#pragma once

#include <sys/types.h>
#include <termios.h>
#include <unistd.h>

#include <string>

#include "base/error.h"
#include "base/fd.h"
#include "engine/paths.h"
#include "runtime/container.h"

namespace berth::engine {

enum class StdinMode { null, pipe, inherit };

struct LaunchIo {
  bool tty = false;                    // a pty from the runtime (console socket)
  StdinMode stdin_mode = StdinMode::null;
  std::string config_text;  // the spec in memory; empty: the bundle's config.json
  runtime::Prepared* prepared = nullptr;  // made ahead (engine/ahead.h); taken
};

struct Launched {
  pid_t pid = 0;
  int64_t pid_start = 0;
  UniqueFd out, err;  // read ends of the container's stdout/stderr (no tty)
  UniqueFd in;        // write end of its stdin pipe (StdinMode::pipe)
  UniqueFd pty;       // the pty master (tty)
};

// A listening unix socket for the runtime's --console-socket, and receiving
// the pty master from it (runc's protocol).
Result<UniqueFd> listen_console_socket(const std::string& path);
Result<UniqueFd> receive_console(int listen_fd, const std::string& path);

// The bundle at paths.bundle(id) must be ready and the rootfs mounted.
// Single-threaded callers only (the runtime clones the init).
Result<Launched> launch(const Paths& paths, const std::string& id, const LaunchIo& io);

// The caller's terminal in raw mode while a container's pty is proxied
// (foreground run -t, exec -t), restored afterwards.
struct RawTerminal {
  bool active = false;
  struct termios saved {};
  void enter(int fd) {
    if (!::isatty(fd) || ::tcgetattr(fd, &saved) != 0) return;
    struct termios raw = saved;
    ::cfmakeraw(&raw);
    raw.c_oflag |= OPOST;  // keep \n -> \r\n for what we print ourselves
    if (::tcsetattr(fd, TCSANOW, &raw) == 0) active = true;
  }
  void leave(int fd) {
    if (active) ::tcsetattr(fd, TCSANOW, &saved);
    active = false;
  }
};

}  // namespace berth::engine
