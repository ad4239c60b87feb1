// berth: an unprivileged caller runs every verb as root of its own user
// namespace (src/engine/rootless.h, docs/engine-rootless.md).
#include <unistd.h>

#include <string_view>

#include "base/error.h"
#include "engine/rootless.h"

namespace berth::cli {

Status enter_rootless(int argc, char** argv) {
  if (::geteuid() == 0) return Status{};
  // Help and version need no namespace (nor a subuid range).
  if (argc < 2) return Status{};
  for (int i = 1; i < argc; i++) {
    std::string_view a = argv[i];
    if (a == "--") break;
    if (a == "--help" || a == "-h" || a == "--version") return Status{};
  }
  return engine::enter_rootless(argv);
}

}  // namespace berth::cli
