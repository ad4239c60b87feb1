// berth/registry: the HTTP/1.1 (and TLS) transport for Registry.
//
// One process, a fixed pool of Config::threads threads running an Asio
// io_context; each connection is a coroutine on its own strand. Blocking disk
// work (body writes, fsync at commit, SQLite) hops to a second pool of the
// same size, so the I/O threads only ever wait on sockets. Bodies are
// streamed straight into the content store (never buffered whole, except
// manifests, which are bounded); blob GETs stream the file in 1 MiB reads.
// Limits: Config::header_limit (431), max_connections (503 beyond), an idle
// deadline between requests and a progress deadline while reading bodies or
// writing responses, so slow clients cannot pin the server.
#pragma once

#include <cstdint>
#include <memory>

#include "base/error.h"
#include "registry/config.h"
#include "registry/registry.h"

namespace berth::registry {

class Server {
 public:
  // Binds Config::addr ("host:port"; port 0 picks a free one) and loads TLS material.
  static Result<std::unique_ptr<Server>> create(Registry& reg, const Config& cfg);
  ~Server();
  uint16_t port() const;
  // Serves until stop() or SIGINT/SIGTERM (when handle_signals). Runs
  // periodic upload expiry and, if configured, online GC.
  Status run(bool handle_signals = false);
  void stop();  // thread-safe

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::registry
