// berth/engine (internal): a container's network at start and after exit.
//
// bridge: a netns pinned at paths.netns(id), attached to the berth bridge
// through CNI (ports published by portmap); none: a netns of our own with lo
// up; host: the host's. The container's /etc/hosts, /etc/resolv.conf and
// /etc/hostname are files in its directory, bind-mounted by the spec and
// rewritten at each start (the bridge IP changes between starts).
#pragma once

#include "base/error.h"
#include "engine/containers.h"

namespace berth::engine {

class Engine;

// Writes hosts/resolv.conf/hostname (create time: before any IP is known).
Status write_network_files(Engine& e, const Container& c, const std::string& ip);
// At start, before the runtime creates the container. Records the IP and the
// published ports in c.config["network_status"].
Status setup_network(Engine& e, Container& c);
// After exit or on rm; tolerant of what is already gone.
Status teardown_network(Engine& e, Container& c);

}  // namespace berth::engine
