// volume create | ls | inspect | rm | prune, and system df / generate systemd.
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>

#include "cli.h"
#include "container_common.h"
#include "engine/engine.h"
#include "engine/options.h"
#include "engine/volumes.h"
#include "image_lookup.h"

namespace berth::cli {

namespace {

using nlohmann::json;

void add_volume(CLI::App& app) {
  auto* v = app.add_subcommand("volume", "Manage volumes");
  v->require_subcommand(1);

  {
    auto name = std::make_shared<std::string>();
    auto labels = std::make_shared<std::vector<std::string>>();
    auto* c = v->add_subcommand("create", "Create a volume");
    c->add_option("name", *name, "Volume name (random when omitted)");
    c->add_option("-l,--label", *labels, "Set metadata for a volume")->allow_extra_args(false);
    c->add_option("-d,--driver")->description("Only \"local\" is supported");
    set_action(c, [=]() -> Result<int> {
      TRY_ASSIGN(auto ctx, EngineCtx::open());
      std::map<std::string, std::string> l;
      for (const auto& s : *labels) {
        TRY_ASSIGN(auto kv, engine::parse_label(s, "--label"));
        l[kv.first] = kv.second;
      }
      TRY_ASSIGN(auto vols, engine::open_volumes(ctx->engine));
      TRY_ASSIGN(auto vol, vols.create(*name, l, false));
      if (vol.created) ctx->engine.event("volume", "create", vol.name, {{"driver", "local"}});
      std::printf("%s\n", vol.name.c_str());
      return 0;
    });
  }
  for (const char* ls : {"ls", "list"}) {
    auto quiet = std::make_shared<bool>(false);
    auto fmt = std::make_shared<std::string>();
    auto filters = std::make_shared<std::vector<std::string>>();
    auto* c = v->add_subcommand(ls, "List volumes");
    c->add_flag("-q,--quiet", *quiet, "Only display volume names");
    c->add_option("--format", *fmt, "table (default) or json");
    c->add_option("-f,--filter", *filters, "dangling=true|false, label=, name=")->allow_extra_args(false);
    set_action(c, [=]() -> Result<int> {
      TRY_ASSIGN(auto ctx, EngineCtx::open());
      TRY_ASSIGN(auto vols, engine::open_volumes(ctx->engine));
      TRY_ASSIGN(auto f, engine::VolumeFilters::parse(*filters));
      TRY_ASSIGN(auto list, vols.list(f));
      if (*quiet) {
        for (auto& x : list) std::printf("%s\n", x.name.c_str());
      } else if (*fmt == "json") {
        for (auto& x : list) std::printf("%s\n", engine::volume_json(x).dump().c_str());
      } else {
        std::vector<std::vector<std::string>> rows;
        for (auto& x : list) rows.push_back({x.driver, x.name});
        print_table({"DRIVER", "VOLUME NAME"}, rows);
      }
      return 0;
    });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto fmt = std::make_shared<std::string>();
    auto* c = v->add_subcommand("inspect", "Display detailed information on one or more volumes");
    c->add_option("volume", *names)->required();
    c->add_option("-f,--format", *fmt, "json (default) or a template like {{.Mountpoint}}");
    set_action(c, [=]() -> Result<int> {
      TRY_ASSIGN(auto ctx, EngineCtx::open());
      TRY_ASSIGN(auto vols, engine::open_volumes(ctx->engine));
      json out = json::array();
      int rc = 0;
      for (const auto& n : *names) {
        auto x = vols.get(n);
        if (!x.ok()) {
          std::fprintf(stderr, "Error: %s\n", x.error().str().c_str());
          rc = 1;
          continue;
        }
        out.push_back(engine::volume_json(*x));
      }
      if (fmt->empty() || *fmt == "json") std::printf("%s\n", out.dump(4).c_str());
      else
        for (const auto& j : out) {
          TRY_ASSIGN(std::string line, render_template(*fmt, j));
          std::printf("%s\n", line.c_str());
        }
      return rc;
    });
  }
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto force = std::make_shared<bool>(false);
    auto* c = v->add_subcommand("rm", "Remove one or more volumes");
    c->alias("remove");
    c->add_option("volume", *names)->required();
    c->add_flag("-f,--force", *force, "Remove even when in use");
    set_action(c, [=]() -> Result<int> {
      TRY_ASSIGN(auto ctx, EngineCtx::open());
      TRY_ASSIGN(auto vols, engine::open_volumes(ctx->engine));
      int rc = 0;
      for (const auto& n : *names) {
        auto r = vols.remove(n, *force);
        if (!r.ok()) {
          std::fprintf(stderr, "Error: %s\n", r.error().str().c_str());
          rc = 1;
          continue;
        }
        ctx->engine.event("volume", "destroy", n, {{"driver", "local"}});
        std::printf("%s\n", n.c_str());
      }
      return rc;
    });
  }
  {
    auto all = std::make_shared<bool>(false);
    auto filters = std::make_shared<std::vector<std::string>>();
    auto* c = v->add_subcommand("prune", "Remove unused anonymous volumes (all unused with --all)");
    c->add_flag("-a,--all", *all, "Remove all unused volumes, not just anonymous ones");
    c->add_flag("-f,--force")->description("Do not prompt (berth never prompts)");
    c->add_option("--filter", *filters, "label=, name=")->allow_extra_args(false);
    set_action(c, [=]() -> Result<int> {
      TRY_ASSIGN(auto ctx, EngineCtx::open());
      TRY_ASSIGN(auto vols, engine::open_volumes(ctx->engine));
      TRY_ASSIGN(auto f, engine::VolumeFilters::parse(*filters));
      TRY_ASSIGN(auto rep, vols.prune(*all, f));
      std::printf("Deleted Volumes:\n");
      for (const auto& x : rep.removed) {
        ctx->engine.event("volume", "destroy", x.name, {{"driver", "local"}});
        std::printf("%s\n", x.name.c_str());
      }
      std::printf("\nTotal reclaimed space: %s\n", human_size(rep.reclaimed_bytes).c_str());
      return 0;
    });
  }
}

uint64_t tree_bytes(const std::string& dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(
           dir, std::filesystem::directory_options::skip_permission_denied, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) n += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return n;
}

Result<int> cmd_system_df(const std::string& fmt) {
  TRY_ASSIGN(auto ctx, EngineCtx::open());
  auto& store = ctx->store;
  TRY_ASSIGN(auto images, store.db().list_images());
  std::set<std::string> targets;
  for (const auto& i : images) targets.insert(i.target.digest.str());
  TRY_ASSIGN(auto cs, ctx->engine.containers().list());
  std::set<std::string> used;
  uint64_t cont_size = 0, cont_reclaim = 0;
  int active = 0;
  for (auto& c0 : cs) {
    auto c = ctx->engine.refresh(c0);
    used.insert(c.manifest);
    uint64_t s = tree_bytes(ctx->engine.paths().upper(c.id));
    cont_size += s;
    if (c.state == engine::State::running || c.state == engine::State::paused) active++;
    else cont_reclaim += s;
  }
  uint64_t blob_bytes = tree_bytes(store.root() + "/blobs");
  uint64_t snap_bytes = tree_bytes(store.root() + "/snapshots");
  int img_active = 0;
  for (const auto& t : targets) img_active += used.count(t) ? 1 : 0;
  TRY_ASSIGN(auto vols, engine::open_volumes(ctx->engine));
  TRY_ASSIGN(auto vl, vols.list());
  uint64_t vol_bytes = 0, vol_reclaim = 0;
  int vol_active = 0;
  TRY_ASSIGN(auto all_c, ctx->engine.containers().list());
  for (const auto& v : vl) {
    uint64_t b = vols.disk_usage(v.name).value_or(0);
    vol_bytes += b;
    bool in_use = false;
    for (const auto& c : all_c)
      for (const auto& m : c.config.value("volumes", json::array()))
        if (m.value("name", "") == v.name) in_use = true;
    if (in_use) vol_active++;
    else vol_reclaim += b;
  }
  struct Row {
    const char* type;
    size_t total;
    int active;
    uint64_t size, reclaim;
  };
  std::vector<Row> rows = {{"Images", targets.size(), img_active, blob_bytes + snap_bytes, 0},
                           {"Containers", cs.size(), active, cont_size, cont_reclaim},
                           {"Local Volumes", vl.size(), vol_active, vol_bytes, vol_reclaim}};
  if (fmt == "json") {
    for (const auto& r : rows)
      std::printf("%s\n", json({{"Type", r.type}, {"TotalCount", r.total}, {"Active", r.active},
                                {"Size", human_size(r.size)}, {"Reclaimable", human_size(r.reclaim)}})
                              .dump()
                              .c_str());
    return 0;
  }
  std::vector<std::vector<std::string>> t;
  for (const auto& r : rows)
    t.push_back({r.type, std::to_string(r.total), std::to_string(r.active), human_size(r.size), human_size(r.reclaim)});
  print_table({"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"}, t);
  return 0;
}

// A unit that runs the container in the foreground: systemd supervises the
// container directly (berth has no daemon to restart it).
Result<int> cmd_generate_systemd(const std::string& ref, bool new_flag, const std::string& restart) {
  TRY_ASSIGN(auto ctx, EngineCtx::open());
  TRY_ASSIGN(auto c, ctx->engine.lookup(ref));
  std::string berth = engine::berth_exe();
  std::string root = ctx->store.root();
  std::string unit = "# container-" + c.name + ".service\n# generated by berth generate systemd\n";
  unit += "[Unit]\nDescription=berth container " + c.name + "\nWants=network-online.target\nAfter=network-online.target\n\n";
  unit += "[Service]\nEnvironment=BERTH_ROOT=" + root + "\nRestart=" + restart + "\nTimeoutStopSec=" +
          std::to_string(c.config.value("stop_timeout", 10) + 10) + "\n";
  unit += "ExecStart=" + berth + " --root " + root + " start -a " + c.name + "\n";
  unit += "ExecStop=" + berth + " --root " + root + " stop -t " + std::to_string(c.config.value("stop_timeout", 10)) +
          " " + c.name + "\n";
  unit += "KillMode=mixed\nType=simple\n\n[Install]\nWantedBy=default.target\n";
  (void)new_flag;
  std::fputs(unit.c_str(), stdout);
  return 0;
}

}  // namespace

void register_volume_verbs(CLI::App& app) { add_volume(app); }

void register_system_verbs(CLI::App& app) {
  auto* sys = app.add_subcommand("system", "Manage berth");
  sys->require_subcommand(1);
  auto fmt = std::make_shared<std::string>();
  auto* df = sys->add_subcommand("df", "Show disk usage");
  df->add_option("--format", *fmt, "table (default) or json");
  df->add_flag("-v,--verbose")->description("Accepted for compatibility");
  set_action(df, [fmt] { return cmd_system_df(*fmt); });

  auto* gen = app.add_subcommand("generate", "Generate configuration for other tools");
  gen->require_subcommand(1);
  auto name = std::make_shared<std::string>();
  auto restart = std::make_shared<std::string>("on-failure");
  auto nw = std::make_shared<bool>(false);
  auto* sd = gen->add_subcommand("systemd", "Write a systemd unit that runs a container");
  sd->add_option("container", *name)->required();
  sd->add_option("--restart-policy", *restart, "systemd Restart= (default on-failure)");
  sd->add_flag("--new", *nw, "Accepted for compatibility");
  set_action(sd, [=] { return cmd_generate_systemd(*name, *nw, *restart); });
}

}  // namespace berth::cli
