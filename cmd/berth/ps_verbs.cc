// Looking at containers: ps, inspect, top, port, stats.
#include <unistd.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <thread>

#include "base/fs.h"
#include "cli.h"
#include "container_common.h"
#include "runtime/container.h"

namespace berth::cli {

using nlohmann::json;

namespace {
// Where the container's network namespace can be opened: the engine's
// mount for bridge/slirp; for none the runtime made it, so only the live
// process names it; host has none.
std::string sandbox_key(engine::Engine& e, const engine::Container& c) {
  std::string mode = c.config.value("network", "bridge");
  if (mode == "host") return "";
  if (mode != "none") return e.paths().netns(c.id);
  bool live = c.state == engine::State::running || c.state == engine::State::paused;
  return live && c.pid > 0 ? "/proc/" + std::to_string(c.pid) + "/ns/net" : "";
}
}  // namespace

json container_json(engine::Engine& e, const engine::Container& c) {
  const auto& cfg = c.config;
  auto args = cfg.value("args", json::array());
  json state = {{"Status", engine::state_name(c.state)},
                {"Running", c.state == engine::State::running || c.state == engine::State::paused},
                {"Paused", c.state == engine::State::paused},
                {"Restarting", false},
                {"OOMKilled", c.oom_killed},
                {"Dead", false},
                {"Pid", (c.state == engine::State::running || c.state == engine::State::paused) ? c.pid : 0},
                {"ExitCode", c.exit_code},
                {"Error", ""},
                {"StartedAt", rfc3339_ns(c.started_ns)},
                {"FinishedAt", rfc3339_ns(c.finished_ns)}};
  auto h = read_health(e, c);
  if (h.is_object()) state["Health"] = h;
  else if (cfg.contains("health") && cfg["health"].is_object() && cfg["health"].contains("test"))
    state["Health"] = {{"Status", "starting"}, {"FailingStreak", 0}, {"Log", json::array()}};
  auto ns = cfg.value("network_status", json::object());
  json ports = json::object();
  for (const auto& p : ns.value("ports", json::array()))
    ports[std::to_string(p.value("container_port", 0)) + "/" + p.value("protocol", "tcp")].push_back(
        {{"HostIp", p.value("host_ip", "").empty() ? "0.0.0.0" : p.value("host_ip", "")},
         {"HostPort", std::to_string(p.value("host_port", 0))}});
  json mounts = json::array();
  for (const auto& m : cfg.value("mounts", json::array())) mounts.push_back(m);
  json opts = cfg.value("opts", json::object());
  return json{
      {"Id", c.id},
      {"Created", rfc3339_ns(c.created_ns)},
      {"Path", args.empty() ? "" : args[0].get<std::string>()},
      {"Args", args.empty() ? json::array() : json(std::vector<json>(args.begin() + 1, args.end()))},
      {"State", state},
      {"Image", c.image_id},
      {"ResolvConfPath", e.paths().dir(c.id) + "/resolv.conf"},
      {"HostnamePath", e.paths().dir(c.id) + "/hostname"},
      {"HostsPath", e.paths().dir(c.id) + "/hosts"},
      {"LogPath", e.paths().log(c.id)},
      {"Name", "/" + c.name},
      {"RestartCount", c.restart_count},
      {"Driver", "overlay"},
      {"Platform", "linux"},
      {"MountLabel", ""},
      {"ProcessLabel", ""},
      {"HostConfig",
       {{"NetworkMode", cfg.value("network", "bridge")},
        {"AutoRemove", cfg.value("rm", false)},
        {"RestartPolicy",
         {{"Name", cfg.value("restart", json::object()).value("policy", "no")},
          {"MaximumRetryCount", cfg.value("restart", json::object()).value("max_retries", 0)}}},
        {"Memory", opts.value("memory", 0)},
        {"PidsLimit", opts.value("pids_limit", 0)},
        {"ReadonlyRootfs", opts.value("read_only", false)},
        {"Privileged", opts.value("privileged", false)},
        {"CapAdd", opts.value("cap_add", json::array())},
        {"CapDrop", opts.value("cap_drop", json::array())}}},
      {"GraphDriver",
       {{"Name", "overlay"},
        {"Data", {{"MergedDir", e.paths().merged(c.id)}, {"UpperDir", e.paths().upper(c.id)},
                  {"WorkDir", e.paths().work(c.id)}}}}},
      {"Mounts", mounts},
      {"Config",
       {{"Hostname", cfg.value("hostname", c.id.substr(0, 12))},
        {"Tty", cfg.value("tty", false)},
        {"OpenStdin", cfg.value("interactive", false)},
        {"Env", cfg.value("env", json::array())},
        {"Cmd", cfg.value("cmd", json(nullptr))},
        {"Entrypoint", cfg.value("entrypoint", json(nullptr))},
        {"Image", c.image},
        {"WorkingDir", cfg.value("workdir", "")},
        {"User", cfg.value("user", "")},
        {"Labels", cfg.value("labels", json::object())},
        {"StopSignal", cfg.value("stop_signal_name", "SIGTERM")},
        {"StopTimeout", cfg.value("stop_timeout", 10)}}},
      {"NetworkSettings",
       {{"IPAddress", ns.value("ip", "")},
        {"IPPrefixLen", ns.value("prefix_len", 0)},
        {"Gateway", ns.value("gateway", "")},
        {"MacAddress", ns.value("mac", "")},
        {"Ports", ports},
        {"SandboxKey", sandbox_key(e, c)}}},
  };
}

// Used by the top-level `inspect`, which tries containers before images.
bool try_inspect_container(const std::string& ref, json& out) {
  auto ctx = EngineCtx::open();
  if (!ctx.ok()) return false;
  auto c = (*ctx)->engine.lookup(ref);
  if (!c.ok()) return false;
  out = container_json((*ctx)->engine, *c);
  return true;
}

namespace {

struct PsOpts {
  bool all = false, quiet = false, no_trunc = false, latest = false, size = false;
  int last = -1;
  std::string format;
  std::vector<std::string> filters;
};

// One `ps` row as Docker's --format json prints it (all values strings but ExitCode).
json ps_row(engine::Engine& e, const engine::Container& c, bool no_trunc) {
  std::string labels;
  const json label_map = c.config.value("labels", json::object());  // items() must not outlive it
  for (auto& [k, v] : label_map.items())
    labels += (labels.empty() ? "" : ",") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  return json{{"ID", no_trunc ? c.id : short_id(c.id)},
              {"Image", c.image},
              {"Command", command_text(c, !no_trunc)},
              {"CreatedAt", rfc3339_ns(c.created_ns)},
              {"RunningFor", duration_text((engine::now_ns() - c.created_ns) / 1000000000) + " ago"},
              {"Status", status_text(e, c)},
              {"State", engine::state_name(c.state)},
              {"Ports", ports_text(c)},
              {"Names", c.name},
              {"Labels", labels},
              {"Mounts", ""},
              {"Networks", c.config.value("network", "")},
              {"Size", ""},
              {"ExitCode", c.exit_code}};
}

// The header of a `table` template: Docker's column titles.
json ps_headers() {
  return json{{"ID", "CONTAINER ID"}, {"Image", "IMAGE"},   {"Command", "COMMAND"},    {"CreatedAt", "CREATED AT"},
              {"RunningFor", "CREATED"}, {"Status", "STATUS"}, {"State", "STATE"},   {"Ports", "PORTS"},
              {"Names", "NAMES"},     {"Labels", "LABELS"}, {"Mounts", "MOUNTS"},    {"Networks", "NETWORKS"},
              {"Size", "SIZE"},       {"ExitCode", "EXIT CODE"}};
}

Result<int> cmd_ps(const PsOpts& o) {
  TRY_ASSIGN(auto ctx, EngineCtx::open());
  TRY_ASSIGN(auto all, ctx->engine.containers().list());
  std::vector<engine::Container> shown;
  for (auto& c0 : all) {
    auto c = ctx->engine.refresh(c0);
    bool live = c.state == engine::State::running || c.state == engine::State::paused;
    if (!o.all && !live && o.last < 0 && !o.latest) continue;
    if (!matches_filters(c, o.filters)) continue;
    shown.push_back(std::move(c));
  }
  if (o.latest && shown.size() > 1) shown.resize(1);
  if (o.last >= 0 && shown.size() > static_cast<size_t>(o.last)) shown.resize(static_cast<size_t>(o.last));
  if (o.quiet) {
    for (auto& c : shown) std::printf("%s\n", o.no_trunc ? c.id.c_str() : short_id(c.id).c_str());
    return 0;
  }
  if (o.format == "json" || o.format == "{{json .}}") {
    for (auto& c : shown) std::printf("%s\n", ps_row(ctx->engine, c, o.no_trunc).dump().c_str());
    return 0;
  }
  if (!o.format.empty() && o.format != "table") {
    // Docker's templates: "{{.Names}}" per row, or "table {{.ID}}\t{{.Names}}"
    // with a header; a literal \t in the argument is a tab, as in Docker.
    std::string fmt = o.format;
    for (size_t at; (at = fmt.find("\\t")) != std::string::npos;) fmt.replace(at, 2, "\t");
    bool table = fmt.rfind("table ", 0) == 0;
    if (table) {
      fmt = fmt.substr(6);
      TRY_ASSIGN(std::string head, render_template(fmt, ps_headers()));
      std::printf("%s\n", head.c_str());
    }
    for (auto& c : shown) {
      TRY_ASSIGN(std::string line, render_template(fmt, ps_row(ctx->engine, c, o.no_trunc)));
      std::printf("%s\n", line.c_str());
    }
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (auto& c : shown)
    rows.push_back({o.no_trunc ? c.id : short_id(c.id), c.image, command_text(c, !o.no_trunc),
                    time_ago(c.created_ns / 1000000000), status_text(ctx->engine, c), ports_text(c), c.name});
  print_table({"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}, rows);
  return 0;
}

void add_ps(CLI::App* parent, const char* name) {
  auto o = std::make_shared<PsOpts>();
  auto* c = parent->add_subcommand(name, "List containers");
  c->add_flag("-a,--all", o->all, "Show all containers (default shows just running)");
  c->add_flag("-q,--quiet", o->quiet, "Only display container IDs");
  c->add_flag("--no-trunc", o->no_trunc, "Don't truncate output");
  c->add_flag("-l,--latest", o->latest, "Show the latest created container");
  c->add_option("-n,--last", o->last, "Show n last created containers");
  c->add_flag("-s,--size", o->size, "Accepted for compatibility");
  c->add_option("--format", o->format, "table (default) or json");
  c->add_option("-f,--filter", o->filters, "Filter: id=, name=, label=, status=, exited=, ancestor=")
      ->allow_extra_args(false);
  set_action(c, [o] { return cmd_ps(*o); });
}

void add_container_inspect(CLI::App* parent) {
  auto ids = std::make_shared<std::vector<std::string>>();
  auto fmt = std::make_shared<std::string>();
  auto* c = parent->add_subcommand("inspect", "Display detailed information on one or more containers");
  c->add_option("container", *ids)->required();
  c->add_option("-f,--format", *fmt, "json (default) or a template subset: {{.State.Status}}, {{.Id}} ...");
  set_action(c, [=]() -> Result<int> {
    TRY_ASSIGN(auto ctx, EngineCtx::open());
    json out = json::array();
    int rc = 0;
    for (const auto& r : *ids) {
      auto ct = ctx->engine.lookup(r);
      if (!ct.ok()) {
        std::fprintf(stderr, "Error: %s\n", ct.error().str().c_str());
        rc = 1;
        continue;
      }
      out.push_back(container_json(ctx->engine, *ct));
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

void add_top(CLI::App* parent) {
  auto id = std::make_shared<std::string>();
  auto psargs = std::make_shared<std::vector<std::string>>();
  auto* c = parent->add_subcommand("top", "Display the running processes of a container");
  c->add_option("container", *id)->required();
  // Everything after the container goes to ps as is (`top c -o pid,comm`).
  c->allow_extras();
  set_action(c, [=]() -> Result<int> {
    *psargs = c->remaining();
    TRY_ASSIGN(auto ctx, EngineCtx::open());
    TRY_ASSIGN(auto ct, ctx->engine.lookup(*id));
    if (ct.state != engine::State::running && ct.state != engine::State::paused)
      return Error(Errc::invalid_argument, "container " + ct.name + " is not running");
    runtime::GlobalOptions g;
    g.root = ctx->engine.paths().runtime_root();
    TRY_ASSIGN(auto pids, runtime::pids(g, ct.id));
    std::string pidlist;
    for (pid_t p : pids) pidlist += (pidlist.empty() ? "" : ",") + std::to_string(p);
    std::vector<std::string> argv = {"ps"};
    if (psargs->empty()) argv.push_back("-f");
    else argv.insert(argv.end(), psargs->begin(), psargs->end());
    argv.insert(argv.end(), {"-p", pidlist.empty() ? "0" : pidlist});
    std::fflush(stdout);
    pid_t p = ::fork();
    if (p == 0) {
      std::vector<char*> a;
      for (auto& s : argv) a.push_back(s.data());
      a.push_back(nullptr);
      ::execvp("ps", a.data());
      ::_exit(127);
    }
    int st = 0;
    ::waitpid(p, &st, 0);
    return 0;
  });
}

void add_port(CLI::App* parent) {
  auto id = std::make_shared<std::string>();
  auto which = std::make_shared<std::string>();
  auto* c = parent->add_subcommand("port", "List port mappings for the container");
  c->add_option("container", *id)->required();
  c->add_option("private_port", *which, "PORT[/PROTO]");
  set_action(c, [=]() -> Result<int> {
    TRY_ASSIGN(auto ctx, EngineCtx::open());
    TRY_ASSIGN(auto ct, ctx->engine.lookup(*id));
    auto ns = ct.config.value("network_status", json::object());
    bool any = false;
    for (const auto& p : ns.value("ports", json::array())) {
      std::string key = std::to_string(p.value("container_port", 0)) + "/" + p.value("protocol", "tcp");
      std::string ip = p.value("host_ip", "");
      std::string host = (ip.empty() ? "0.0.0.0" : ip) + ":" + std::to_string(p.value("host_port", 0));
      if (which->empty()) std::printf("%s -> %s\n", key.c_str(), host.c_str());
      else if (*which == key || *which + "/tcp" == key) std::printf("%s\n", host.c_str());
      else continue;
      any = true;
    }
    if (!which->empty() && !any) return Error(Errc::not_found, "no public port '" + *which + "' published for " + ct.name);
    return 0;
  });
}

struct Sample {
  uint64_t cpu = 0, mem = 0, limit = 0, pids = 0, rd = 0, wr = 0;
  int64_t at = 0;
};

Result<Sample> sample(engine::Engine& e, const engine::Container& c) {
  runtime::GlobalOptions g;
  g.root = e.paths().runtime_root();
  TRY_ASSIGN(json s, runtime::stats(g, c.id));
  const json& d = s["data"];
  Sample x;
  x.at = engine::now_ns();
  auto num = [](const json& j, std::initializer_list<const char*> path) -> uint64_t {
    const json* p = &j;
    for (const char* k : path) {
      if (!p->is_object() || !p->contains(k)) return 0;
      p = &(*p)[k];
    }
    return p->is_number() ? p->get<uint64_t>() : 0;
  };
  x.cpu = num(d, {"cpu", "usage", "total"});
  x.mem = num(d, {"memory", "usage", "usage"});
  x.limit = num(d, {"memory", "usage", "limit"});
  x.pids = num(d, {"pids", "current"});
  if (d.contains("blkio") && d["blkio"].contains("ioServiceBytesRecursive"))
    for (const auto& b : d["blkio"]["ioServiceBytesRecursive"]) {
      std::string op = b.value("op", "");
      if (op == "Read" || op == "read") x.rd += b.value("value", uint64_t{0});
      if (op == "Write" || op == "write") x.wr += b.value("value", uint64_t{0});
    }
  return x;
}

void add_stats(CLI::App* parent) {
  auto ids = std::make_shared<std::vector<std::string>>();
  auto fmt = std::make_shared<std::string>();
  auto* c = parent->add_subcommand("stats", "Display a snapshot of containers' resource usage");
  c->add_option("container", *ids);
  c->add_flag("--no-stream")->description("Print one snapshot and exit (the only mode berth has)");
  c->add_flag("-a,--all")->description("Accepted for compatibility");
  c->add_option("--format", *fmt, "table (default) or json");
  set_action(c, [=]() -> Result<int> {
    TRY_ASSIGN(auto ctx, EngineCtx::open());
    std::vector<engine::Container> cs;
    if (ids->empty()) {
      TRY_ASSIGN(auto all, ctx->engine.containers().list());
      for (auto& c0 : all) {
        auto ct = ctx->engine.refresh(c0);
        if (ct.state == engine::State::running) cs.push_back(ct);
      }
    } else {
      for (auto& r : *ids) {
        TRY_ASSIGN(auto ct, ctx->engine.lookup(r));
        cs.push_back(ct);
      }
    }
    std::vector<Sample> first;
    for (auto& ct : cs) first.push_back(sample(ctx->engine, ct).value_or(Sample{}));
    std::this_thread::sleep_for(std::chrono::milliseconds(cs.empty() ? 0 : 200));
    long ncpu = ::sysconf(_SC_NPROCESSORS_ONLN);
    std::vector<std::vector<std::string>> rows;
    for (size_t i = 0; i < cs.size(); i++) {
      Sample b = sample(ctx->engine, cs[i]).value_or(Sample{});
      double cpu = 0;
      if (b.at > first[i].at && b.cpu >= first[i].cpu)
        cpu = 100.0 * static_cast<double>(b.cpu - first[i].cpu) / static_cast<double>(b.at - first[i].at);
      uint64_t limit = b.limit == 0 || b.limit > (1ull << 60) ? 0 : b.limit;
      if (limit == 0) {
        long pages = ::sysconf(_SC_PHYS_PAGES), psize = ::sysconf(_SC_PAGESIZE);
        limit = static_cast<uint64_t>(pages) * static_cast<uint64_t>(psize);
      }
      double memp = limit ? 100.0 * static_cast<double>(b.mem) / static_cast<double>(limit) : 0;
      char cpus[32], memps[32];
      std::snprintf(cpus, sizeof cpus, "%.2f%%", std::min(cpu, 100.0 * static_cast<double>(ncpu)));
      std::snprintf(memps, sizeof memps, "%.2f%%", memp);
      if (*fmt == "json") {
        json j = {{"ID", short_id(cs[i].id)}, {"Name", cs[i].name}, {"CPUPerc", cpus},
                  {"MemUsage", human_size(b.mem) + " / " + human_size(limit)}, {"MemPerc", memps},
                  {"NetIO", "--"}, {"BlockIO", human_size(b.rd) + " / " + human_size(b.wr)},
                  {"PIDs", std::to_string(b.pids)}};
        std::printf("%s\n", j.dump().c_str());
        continue;
      }
      rows.push_back({short_id(cs[i].id), cs[i].name, cpus, human_size(b.mem) + " / " + human_size(limit), memps,
                      "--", human_size(b.rd) + " / " + human_size(b.wr), std::to_string(b.pids)});
    }
    if (*fmt != "json")
      print_table({"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"}, rows);
    return 0;
  });
}

}  // namespace

void register_container_views(CLI::App& app, CLI::App* group) {
  if (wanted("ps")) add_ps(&app, "ps");
  if (group) {  // absent unless argv names `container` (cli.h, only_verb)
    add_ps(group, "ls");
    add_ps(group, "ps");
    add_container_inspect(group);
  }
  for (CLI::App* p : {&app, group}) {
    if (!p) continue;
    auto want = [&](const char* v) { return p == group || wanted(v); };
    if (want("top")) add_top(p);
    if (want("port")) add_port(p);
    if (want("stats")) add_stats(p);
  }
}

}  // namespace berth::cli
