// A foreground container's network namespace and cgroup, made on a second
// thread while the store opens and create() mounts the rootfs: ~2 ms of
// kernel work (a network namespace alone is ~0.7 ms) off the path of `berth
// run` where a core is free (on this 2-vCPU host the run got ~0.3 ms faster:
// docs/engine.md, "Made ahead"). What it makes is what the runtime would
// have made itself.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "runtime/container.h"

namespace berth::engine {

struct RunOptions;

class Ahead {
 public:
  // Null where it cannot help or is not sure to be right: not a foreground
  // run, or not real root (rootless cgroups and namespaces are the runtime's
  // call). The network namespace only for --network none (bridge and slirp
  // make their own). Picks the container's id (create() then uses it); call
  // it as early as possible, before the store is even opened.
  static std::unique_ptr<Ahead> start(const RunOptions& o);
  const std::string& id() const { return id_; }
  // Waits for the thread; what it made, for runtime::CreateOptions::prepared.
  // Whatever failed is simply missing: the runtime then makes it and reports
  // the error itself.
  runtime::Prepared* take();
  ~Ahead();  // waits; a cgroup the runtime did not take is removed

 private:
  Ahead() = default;
  std::string id_;
  std::thread thread_;
  runtime::Prepared made_;
};

}  // namespace berth::engine
