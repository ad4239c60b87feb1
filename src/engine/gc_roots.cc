// Containers keep their image alive: `berth gc` / `image prune` mark from
// every container's manifest, so a running (or stopped, not yet removed)
// container's layers and snapshots are never swept.
#include "engine/gc_roots.h"

#include "engine/containers.h"

namespace berth::engine {

GcRootProvider container_gc_roots() {
  return [](Store& store) -> Result<GcRoots> {
    TRY_ASSIGN(auto cs, Containers::open(store.db()));
    TRY_ASSIGN(auto all, cs.list());
    GcRoots roots;
    for (const auto& c : all) {
      auto d = Digest::parse(c.manifest);
      if (d.ok()) roots.blobs.push_back(*d);
    }
    return roots;
  };
}

}  // namespace berth::engine
