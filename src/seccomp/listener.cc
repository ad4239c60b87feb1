// Sending the seccomp notify fd to the listener agent (runtime-spec
// config-linux.md, "Container Process State").
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "base/fdpass.h"
#include "base/fd.h"
#include "seccomp/seccomp.h"

namespace berth::seccomp {

Status send_listener(const Program& p, int listener_fd, pid_t pid, const nlohmann::json& state) {
  if (p.listener_path.empty()) return Error(Errc::invalid_argument, "seccomp: no listenerPath to send the notify fd to");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (p.listener_path.size() >= sizeof addr.sun_path)
    return Error(Errc::invalid_argument, "seccomp: listenerPath " + p.listener_path + " is longer than a socket path");
  std::memcpy(addr.sun_path, p.listener_path.c_str(), p.listener_path.size() + 1);

  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return sys_error("seccomp: socket");
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return sys_error("seccomp: connect to listenerPath " + p.listener_path);

  nlohmann::json msg{{"ociVersion", state.value("ociVersion", std::string("1.0.2"))},
                     {"fds", {"seccompFd"}},
                     {"pid", pid},
                     {"metadata", p.listener_metadata},
                     {"state", state}};
  std::string body = msg.dump();

  // The fd travels with the first byte; the rest of a long state follows.
  std::string what = "seccomp: sending the notify fd to " + p.listener_path;
  TRY_ASSIGN(size_t sent, send_with_fd(sock.get(), body.data(), body.size(), listener_fd, what.c_str()));
  while (sent < body.size()) {
    ssize_t n = ::send(sock.get(), body.data() + sent, body.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("seccomp: sending the container state to " + p.listener_path);
    sent += static_cast<size_t>(n);
  }
  return Status{};
}

}  // namespace berth::seccomp
