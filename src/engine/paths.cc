#include "engine/paths.h"

#include <unistd.h>

#include <cstdlib>

#include "base/userns.h"
#include "digest/digest.h"

namespace berth::engine {

Paths paths_for(const std::string& store_root) {
  Paths p;
  p.root = store_root;
  if (const char* r = std::getenv("BERTH_RUN"); r && *r) {
    p.run = r;
    return p;
  }
  std::string base = "/run/berth";
  // Rootless berth is uid 0 in its user namespace but has no /run/berth.
  if (::geteuid() != 0 || in_user_namespace()) {
    const char* x = std::getenv("XDG_RUNTIME_DIR");
    base = std::string(x && *x ? x : "/tmp") + "/berth";
  }
  p.run = base + "/" + Digest::of(store_root).hex().substr(0, 16);
  return p;
}

}  // namespace berth::engine
