// Container lifecycle verbs: run, create, start, stop, kill, restart, rm,
// wait, pause, unpause, rename, container prune, and the internal
// `container cleanup` the monitor hands over to.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "base/trace.h"
#include "cli.h"
#include "container_common.h"
#include "engine/engine.h"
#include "engine/options.h"
#include "image_lookup.h"
#include "run_flags.h"

namespace berth::cli {

namespace {

// Docker's exit codes for a container whose command could not be run: 127
// when it does not exist, 126 when it exists but cannot be executed; 125 for
// every other failure of berth itself. The runtime reports the exec failure
// as text from inside the container, so the message is what tells them apart.
int start_failure_code(const Error& e) {
  const std::string& m = e.message;
  if (m.find("exec") == std::string::npos) return 125;
  if (m.find("executable file not found") != std::string::npos ||
      m.find("No such file or directory") != std::string::npos)
    return 127;
  if (m.find("Permission denied") != std::string::npos || m.find("Is a directory") != std::string::npos) return 126;
  return 125;
}

Result<int> start_failed(const Error& e) {
  int code = start_failure_code(e);
  if (code == 125) return e;
  std::fflush(stdout);
  std::fprintf(stderr, "Error: %s\n", e.str().c_str());
  return code;
}

Result<int> cmd_create_or_run(const RunFlags& f, bool run) {
  trace_mark("run: flags parsed");
  TRY_ASSIGN(engine::RunOptions o, to_run_options(f));
  o.run_here = run && !o.detach;
  // Its network namespace and cgroup are made meanwhile (engine/ahead.h).
  auto ahead = engine::Ahead::start(o);
  TRY_ASSIGN(auto ctx, EngineCtx::open());
  trace_mark("run: store and engine open");
  auto found = find_image(ctx->store, o.image);
  if (!found.ok()) {
    if (found.error().code == Errc::not_found)
      return Error(Errc::not_found, "unable to find image '" + o.image + "' locally (berth pulls only with `berth pull`)");
    return std::move(found).error();
  }
  TRY_ASSIGN(auto img, image::resolve(ctx->store.content(), found->top));
  trace_mark("run: image resolved");
  TRY_ASSIGN(engine::Container c, ctx->engine.create(img, o.image, o, std::move(ahead)));
  trace_mark("run: created");
  if (!run) {
    std::printf("%s\n", c.id.c_str());
    return 0;
  }
  if (o.detach) {
    auto s = ctx->engine.start(c.id);
    if (!s.ok()) {
      if (o.rm) (void)ctx->engine.remove(c.id, true, true);
      return start_failed(s.error());
    }
    std::printf("%s\n", c.id.c_str());
    return 0;
  }
  std::fflush(stdout);
  engine::ForegroundOptions fo;
  fo.attach_stdin = o.interactive;
  auto code = ctx->engine.run_foreground(c.id, fo);
  if (!code.ok()) {
    if (o.rm) (void)ctx->engine.remove(c.id, true, true);
    return start_failed(code.error());
  }
  return *code;
}

Result<int> for_each(const std::vector<std::string>& refs, const std::function<Status(EngineCtx&, const std::string&)>& fn,
                     bool print = true) {
  TRY_ASSIGN(auto ctx, EngineCtx::open());
  int rc = 0;
  for (const auto& r : refs) {
    auto s = fn(*ctx, r);
    if (!s.ok()) {
      std::fprintf(stderr, "Error: %s\n", s.error().str().c_str());
      rc = s.error().code == Errc::not_found ? 1 : 125;
      continue;
    }
    if (print) std::printf("%s\n", r.c_str());
  }
  return rc;
}

void add_run(CLI::App* parent, const char* name, bool run) {
  auto f = std::make_shared<RunFlags>();
  auto* c = parent->add_subcommand(name, run ? "Create and run a new container from an image"
                                             : "Create a new container without starting it");
  add_run_flags(c, *f, run);
  set_action(c, [f, run] { return cmd_create_or_run(*f, run); });
}

void add_start(CLI::App* parent) {
  auto ids = std::make_shared<std::vector<std::string>>();
  auto attach = std::make_shared<bool>(false);
  auto interactive = std::make_shared<bool>(false);
  auto* c = parent->add_subcommand("start", "Start one or more stopped containers");
  c->add_option("container", *ids, "Containers")->required();
  c->add_flag("-a,--attach", *attach, "Attach stdout/stderr and wait for the container");
  c->add_flag("-i,--interactive", *interactive, "Attach the container's stdin");
  set_action(c, [=]() -> Result<int> {
    if (*attach) {
      if (ids->size() != 1) return Error(Errc::invalid_argument, "you cannot start and attach multiple containers at once");
      TRY_ASSIGN(auto ctx, EngineCtx::open());
      TRY_ASSIGN(auto ct, ctx->engine.lookup(ids->front()));
      if (ct.state == engine::State::running || ct.state == engine::State::paused)
        return Error(Errc::invalid_argument, "container " + ct.name + " is already running");
      engine::ForegroundOptions fo;
      fo.attach_stdin = *interactive;
      return ctx->engine.run_foreground(ct.id, fo);
    }
    return for_each(*ids, [](EngineCtx& x, const std::string& r) -> Status {
      TRY_ASSIGN(auto ct, x.engine.lookup(r));
      return x.engine.start(ct.id);
    });
  });
}

void add_stop(CLI::App* parent, const char* name, bool restart) {
  auto ids = std::make_shared<std::vector<std::string>>();
  auto t = std::make_shared<int>(-1);
  auto* c = parent->add_subcommand(name, restart ? "Restart one or more containers" : "Stop one or more running containers");
  c->add_option("container", *ids, "Containers")->required();
  c->add_option("-t,--time,--timeout", *t, "Seconds to wait before killing the container (default: its stop timeout, 10)");
  set_action(c, [=]() -> Result<int> {
    std::optional<int> timeout;
    if (*t >= 0) timeout = *t;
    return for_each(*ids, [&](EngineCtx& x, const std::string& r) -> Status {
      TRY_ASSIGN(auto ct, x.engine.lookup(r));
      TRY(x.engine.stop(ct.id, timeout));
      if (restart) TRY(x.engine.start(ct.id));
      return Status{};
    });
  });
}

void add_kill(CLI::App* parent) {
  auto ids = std::make_shared<std::vector<std::string>>();
  auto sig = std::make_shared<std::string>("KILL");
  auto* c = parent->add_subcommand("kill", "Send a signal to one or more running containers");
  c->add_option("container", *ids, "Containers")->required();
  c->add_option("-s,--signal", *sig, "Signal to send (default KILL)");
  set_action(c, [=]() -> Result<int> {
    TRY_ASSIGN(int s, engine::parse_signal(*sig, "--signal"));
    return for_each(*ids, [&](EngineCtx& x, const std::string& r) -> Status {
      TRY_ASSIGN(auto ct, x.engine.lookup(r));
      return x.engine.kill(ct.id, s);
    });
  });
}

void add_rm(CLI::App* parent, const char* name) {
  auto ids = std::make_shared<std::vector<std::string>>();
  auto force = std::make_shared<bool>(false);
  auto vols = std::make_shared<bool>(false);
  auto* c = parent->add_subcommand(name, "Remove one or more containers");
  c->add_option("container", *ids, "Containers")->required();
  c->add_flag("-f,--force", *force, "Kill and remove a running container");
  c->add_flag("-v,--volumes", *vols, "Remove the container's anonymous volumes");
  set_action(c, [=]() -> Result<int> {
    return for_each(*ids, [&](EngineCtx& x, const std::string& r) -> Status {
      auto ct = x.engine.lookup(r);
      if (!ct.ok()) return std::move(ct).error();
      return x.engine.remove(ct->id, *force, *vols);
    });
  });
}

void add_simple(CLI::App* parent, const char* name, const char* help,
                Status (engine::Engine::*op)(const std::string&)) {
  auto ids = std::make_shared<std::vector<std::string>>();
  auto* c = parent->add_subcommand(name, help);
  c->add_option("container", *ids, "Containers")->required();
  set_action(c, [=]() -> Result<int> {
    return for_each(*ids, [&](EngineCtx& x, const std::string& r) -> Status {
      TRY_ASSIGN(auto ct, x.engine.lookup(r));
      return (x.engine.*op)(ct.id);
    });
  });
}

void add_wait(CLI::App* parent) {
  auto ids = std::make_shared<std::vector<std::string>>();
  auto* c = parent->add_subcommand("wait", "Block until containers stop, then print their exit codes");
  c->add_option("container", *ids, "Containers")->required();
  set_action(c, [=]() -> Result<int> {
    TRY_ASSIGN(auto ctx, EngineCtx::open());
    int rc = 0;
    for (const auto& r : *ids) {
      auto ct = ctx->engine.lookup(r);
      if (!ct.ok()) {
        std::fprintf(stderr, "Error: %s\n", ct.error().str().c_str());
        rc = 1;
        continue;
      }
      TRY_ASSIGN(int code, ctx->engine.wait(ct->id));
      std::printf("%d\n", code);
      std::fflush(stdout);
    }
    return rc;
  });
}

void add_rename(CLI::App* parent) {
  auto from = std::make_shared<std::string>();
  auto to = std::make_shared<std::string>();
  auto* c = parent->add_subcommand("rename", "Rename a container");
  c->add_option("container", *from)->required();
  c->add_option("new_name", *to)->required();
  set_action(c, [=]() -> Result<int> {
    TRY_ASSIGN(auto ctx, EngineCtx::open());
    TRY_ASSIGN(auto ct, ctx->engine.lookup(*from));
    TRY(ctx->engine.containers().rename(ct.id, *to));
    std::string old_name = ct.name;
    ct.name = *to;  // Docker's rename event names the container by its new name
    ctx->engine.container_event(ct, "rename", {{"oldName", old_name}});
    return 0;
  });
}

void add_prune(CLI::App* parent) {
  auto* c = parent->add_subcommand("prune", "Remove all stopped containers");
  c->add_flag("-f,--force")->description("Do not prompt (berth never prompts)");
  auto filters = std::make_shared<std::vector<std::string>>();
  c->add_option("--filter", *filters, "label=KEY[=VALUE] or until=TIME")->allow_extra_args(false);
  set_action(c, [=]() -> Result<int> {
    TRY_ASSIGN(auto ctx, EngineCtx::open());
    TRY_ASSIGN(auto all, ctx->engine.containers().list());
    std::printf("Deleted Containers:\n");
    for (auto& ct0 : all) {
      auto ct = ctx->engine.refresh(ct0);
      if (ct.state != engine::State::exited && ct.state != engine::State::created) continue;
      if (!matches_filters(ct, *filters)) continue;
      auto s = ctx->engine.remove(ct.id, false, false);
      if (s.ok()) std::printf("%s\n", ct.id.c_str());
      else std::fprintf(stderr, "Error: %s\n", s.error().str().c_str());
    }
    ctx->engine.sweep_removed_dirs();
    return 0;
  });
}

void add_cleanup(CLI::App* parent) {
  auto id = std::make_shared<std::string>();
  auto* c = parent->add_subcommand("cleanup", "Internal: release an exited container's resources (run by its monitor)");
  c->group("");  // hidden
  c->add_option("container", *id)->required();
  set_action(c, [=]() -> Result<int> {
    TRY_ASSIGN(auto ctx, EngineCtx::open());
    TRY(ctx->engine.cleanup(*id));
    return 0;
  });
}

}  // namespace

void register_container_lifecycle(CLI::App& app, CLI::App* group) {
  for (CLI::App* p : {&app, group}) {
    if (!p) continue;  // no `container` group this run (cli.h, only_verb)
    auto want = [&](const char* v) { return p == group || wanted(v); };
    if (want("run")) add_run(p, "run", true);
    if (want("create")) add_run(p, "create", false);
    if (want("start")) add_start(p);
    if (want("stop")) add_stop(p, "stop", false);
    if (want("restart")) add_stop(p, "restart", true);
    if (want("kill")) add_kill(p);
    if (want("rm")) add_rm(p, "rm");
    if (want("pause"))
      add_simple(p, "pause", "Pause all processes within one or more containers", &engine::Engine::pause);
    if (want("unpause"))
      add_simple(p, "unpause", "Unpause all processes within one or more containers", &engine::Engine::unpause);
    if (want("wait")) add_wait(p);
    if (want("rename")) add_rename(p);
  }
  if (group) {
    add_prune(group);
    add_cleanup(group);
  }
}

}  // namespace berth::cli
