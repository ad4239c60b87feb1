#include "engine/ahead.h"

#include <unistd.h>

#include "base/userns.h"
#include "engine/containers.h"
#include "engine/options.h"
#include "engine/spec_gen.h"
#include "runtime/sysctl.h"

namespace berth::engine {

std::unique_ptr<Ahead> Ahead::start(const RunOptions& o) {
  if (!o.run_here || ::geteuid() != 0 || in_user_namespace()) return nullptr;
  std::unique_ptr<Ahead> a(new Ahead);
  Ahead* self = a.get();
  self->id_ = new_container_id();
  // The cgroup path needs no runtime root; systemd_cgroup is the engine's (off).
  runtime::GlobalOptions g;
  // The same inputs make_spec() turns into linux.cgroupsPath and
  // linux.resources, so the cgroup is the one the spec asks for.
  self->thread_ = std::thread([self, g, id = self->id_, none = o.network == "none", res = spec_resources(o)] {
    if (none)
      if (auto ns = runtime::new_network_namespace(); ns.ok()) self->made_.netns = std::move(*ns);
    if (auto cg = runtime::prepare_cgroup(g, id, container_cgroups_path(id), res); cg.ok())
      self->made_.cgroup = std::move(*cg);
  });
  return a;
}

runtime::Prepared* Ahead::take() {
  if (thread_.joinable()) thread_.join();
  return &made_;
}

Ahead::~Ahead() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace berth::engine
