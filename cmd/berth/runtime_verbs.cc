// The container verbs (engine, issue 4): top-level Docker names plus the
// `container` group (`berth container ls`, `berth container prune`, ...).
#include <initializer_list>

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
  // Without `container` on the command line its group is not built and the
  // registrars below add only the top-level verb argv names (cli.h, only_verb).
  CLI::App* group = nullptr;
  if (wanted("container")) {
    group = app.add_subcommand("container", "Manage containers");
    group->require_subcommand(1);
  }
  auto any = [](std::initializer_list<const char*> verbs) {
    for (const char* v : verbs)
      if (wanted(v)) return true;
    return false;
  };
  if (group || any({"run", "create", "start", "stop", "restart", "kill", "rm", "pause", "unpause", "wait", "rename"}))
    register_container_lifecycle(app, group);
  if (group || any({"ps", "top", "port", "stats"})) register_container_views(app, group);
  if (group || any({"logs", "events"})) register_journal_verbs(app, group);
  if (group || any({"exec", "cp", "commit", "healthcheck"})) register_exec_verbs(app, group);
  if (wanted("volume")) register_volume_verbs(app);
  if (any({"system", "generate"})) register_system_verbs(app);
}

}  // namespace berth::cli
