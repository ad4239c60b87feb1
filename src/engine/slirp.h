// berth/engine (internal): slirp4netns, the rootless stand-in for the bridge
// network (docs/engine-rootless.md).
#pragma once

#include <string>

#include "base/error.h"
#include "network/network.h"

namespace berth::engine {

// slirp4netns's fixed addresses with --configure.
inline constexpr const char* kSlirpIp = "10.0.2.100";
inline constexpr const char* kSlirpGateway = "10.0.2.2";
inline constexpr int kSlirpPrefix = 24;

bool slirp_available();
// Starts a detached slirp4netns serving `netns` (tap0 configured, default
// route, DNS at 10.0.2.3), waits until it is ready and records its pid in
// pid_file; its messages go to log_file. A non-empty api_socket enables
// slirp4netns's control socket there (needed by slirp_forward).
Status start_slirp(const std::string& netns, const std::string& pid_file, const std::string& log_file,
                   const std::string& api_socket = "");
// Publishes a port through the running slirp4netns (its add_hostfwd): the
// host side listens as the user, so ports below
// net.ipv4.ip_unprivileged_port_start are refused. A host port of 0 becomes
// a free one, written back into p.
Status slirp_forward(const std::string& api_socket, network::PortMapping& p);
// Stops the slirp4netns of pid_file, if it still runs; removes the file.
Status stop_slirp(const std::string& pid_file);

}  // namespace berth::engine
