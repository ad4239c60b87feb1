// The container verbs (engine, issue 4): top-level Docker names plus the
// `container` group (`berth container ls`, `berth container prune`, ...).
#include "cli.h"

namespace berth::cli {

void register_container_lifecycle(CLI::App& app, CLI::App* group);
void register_container_views(CLI::App& app, CLI::App* group);
void register_journal_verbs(CLI::App& app, CLI::App* group);
void register_exec_verbs(CLI::App& app, CLI::App* group);
void register_volume_verbs(CLI::App& app);
void register_system_verbs(CLI::App& app);

void register_runtime_verbs(CLI::App&) {}

void register_container_verbs(CLI::App& app) {
  auto* group = app.add_subcommand("container", "Manage containers");
  group->require_subcommand(1);
  register_container_lifecycle(app, group);
  register_container_views(app, group);
  register_journal_verbs(app, group);
  register_exec_verbs(app, group);
  register_volume_verbs(app);
  register_system_verbs(app);
}

}  // namespace berth::cli
