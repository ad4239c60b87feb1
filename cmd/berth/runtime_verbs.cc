// Container verbs (run, ps, logs, ...) arrive with the engine (issue 4).
#include "cli.h"

namespace berth::cli {
void register_runtime_verbs(CLI::App&) {}
}  // namespace berth::cli
