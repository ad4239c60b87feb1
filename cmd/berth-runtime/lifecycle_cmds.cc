// create, start, run, delete, kill, state, list.
#include <cstdio>

#include "cli.h"
#include "runtime/spec.h"

namespace berth::cli {

using nlohmann::json;

namespace {

void add_create_flags(CLI::App* c, runtime::CreateOptions& o) {
  c->add_option("-b,--bundle", o.bundle, "bundle directory");
  c->add_option("--console-socket", o.console_socket, "unix socket receiving the pty master");
  c->add_option("--pid-file", o.pid_file, "write the init pid here");
  c->add_flag("--no-pivot", o.no_pivot, "MS_MOVE + chroot instead of pivot_root");
  c->add_flag("--no-new-keyring", o.no_new_keyring, "accepted");
  c->add_option("--preserve-fds", o.preserve_fds, "extra fds (from 3) passed to the process")->check(CLI::Range(0, 4096));
  c->add_option("id", o.id, "container id")->required();
}

}  // namespace

void add_lifecycle(CLI::App& app, Ctx& ctx) {
  static runtime::CreateOptions co;
  auto* create = app.add_subcommand("create", "create a container (blocked before the process starts)");
  add_create_flags(create, co);
  create->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      auto r = runtime::create(ctx.g, co);
      if (!r.ok()) return std::move(r).error();
      return 0;
    };
  });

  static std::string start_id;
  auto* start = app.add_subcommand("start", "start a created container");
  start->add_option("id", start_id)->required();
  start->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      TRY(runtime::start(ctx.g, start_id));
      return 0;
    };
  });

  static runtime::CreateOptions ro;
  static bool detach = false, keep = false, no_subreaper = false;
  auto* run = app.add_subcommand("run", "create and start a container, wait for it");
  add_create_flags(run, ro);
  run->add_flag("-d,--detach", detach);
  run->add_flag("--keep", keep, "keep the container after it exits");
  run->add_flag("--no-subreaper", no_subreaper, "accepted");
  run->callback([&ctx] { ctx.action = [&ctx]() { return runtime::run(ctx.g, ro, detach, keep); }; });

  static std::string del_id;
  static bool force = false;
  auto* del = app.add_subcommand("delete", "delete a container");
  del->add_flag("-f,--force", force, "kill it first if running");
  del->add_option("id", del_id)->required();
  del->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      TRY(runtime::remove(ctx.g, del_id, force));
      return 0;
    };
  });

  static std::string kill_id, kill_sig = "SIGTERM";
  static bool all = false;
  auto* kill = app.add_subcommand("kill", "send a signal to the container's init (or all its processes)");
  kill->add_flag("-a,--all", all);
  kill->add_option("id", kill_id)->required();
  kill->add_option("signal", kill_sig);
  kill->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      int sig = runtime::signal_from_name(kill_sig);
      if (sig < 0) return Error(Errc::invalid_argument, "unknown signal \"" + kill_sig + "\"");
      TRY(runtime::kill(ctx.g, kill_id, sig, all));
      return 0;
    };
  });

  static std::string state_id;
  auto* state = app.add_subcommand("state", "print the container state JSON");
  state->add_option("id", state_id)->required();
  state->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      TRY_ASSIGN(json j, runtime::state(ctx.g, state_id));
      std::printf("%s\n", j.dump(2).c_str());
      return 0;
    };
  });

  static std::string format = "table";
  static bool quiet = false;
  auto* list = app.add_subcommand("list", "list containers");
  list->alias("ls");
  list->add_option("-f,--format", format)->check(CLI::IsMember({"table", "json"}));
  list->add_flag("-q,--quiet", quiet);
  list->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      TRY_ASSIGN(auto items, runtime::list(ctx.g));
      if (format == "json") {
        std::printf("%s\n", json(items).dump().c_str());
        return 0;
      }
      if (quiet) {
        for (const auto& j : items) std::printf("%s\n", j["id"].get<std::string>().c_str());
        return 0;
      }
      std::printf("%-20s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
      for (const auto& j : items)
        std::printf("%-20s %-8d %-10s %-40s %-30s %s\n", j["id"].get<std::string>().c_str(), j["pid"].get<int>(),
                    j["status"].get<std::string>().c_str(), j["bundle"].get<std::string>().c_str(),
                    j["created"].get<std::string>().c_str(), j["owner"].get<std::string>().c_str());
      return 0;
    };
  });
}

}  // namespace berth::cli
