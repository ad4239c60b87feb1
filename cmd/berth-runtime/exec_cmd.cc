// exec: run a process in an existing container.
#include "cli.h"

namespace berth::cli {

void add_exec(CLI::App& app, Ctx& ctx) {
  static runtime::ExecOptions o;
  static std::vector<std::string> gids;
  static std::string process_label, cgroup;
  auto* c = app.add_subcommand("exec", "run a process in a running container");
  c->add_option("-p,--process", o.process_file, "process.json (runtime-spec process object)");
  c->add_flag("-t,--tty", o.tty);
  c->add_flag("-d,--detach", o.detach);
  c->add_option("--console-socket", o.console_socket);
  c->add_option("--cwd", o.cwd);
  c->add_option("-e,--env", o.env)->allow_extra_args(false);
  c->add_option("-u,--user", o.user, "uid[:gid]");
  c->add_option("-g,--additional-gids", gids)->allow_extra_args(false);
  c->add_option("-c,--cap", o.caps)->allow_extra_args(false);
  c->add_option("--pid-file", o.pid_file);
  c->add_flag("--no-new-privs", o.no_new_privs);
  c->add_option("--apparmor", o.apparmor);
  c->add_option("--process-label", process_label, "ignored (no SELinux)");
  c->add_option("--preserve-fds", o.preserve_fds)->check(CLI::Range(0, 4096));
  c->add_flag("--ignore-paused", o.ignore_paused);
  c->add_option("--cgroup", cgroup, "ignored");
  // Everything from the container id on is "id command...", never our flags.
  c->prefix_command();
  c->callback([&ctx, c] {
    ctx.action = [&ctx, c]() -> Result<int> {
      auto rest = c->remaining();
      if (!rest.empty() && rest[0] == "--") rest.erase(rest.begin());
      if (rest.empty()) return Error(Errc::invalid_argument, "exec: missing container id");
      o.id = rest[0];
      o.args.assign(rest.begin() + 1, rest.end());
      if (!o.args.empty() && o.args[0] == "--") o.args.erase(o.args.begin());
      for (const auto& g : gids) {
        char* end = nullptr;
        unsigned long v = std::strtoul(g.c_str(), &end, 10);
        if (g.empty() || *end || v > UINT32_MAX) return Error(Errc::invalid_argument, "--additional-gids " + g);
        o.additional_gids.push_back(static_cast<uint32_t>(v));
      }
      return runtime::exec(ctx.g, o);
    };
  });
}

}  // namespace berth::cli
