// pause, resume, ps, update, events.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>

#include "base/fs.h"
#include "cli.h"

namespace berth::cli {

using nlohmann::json;

namespace {

// "512m", "1G", "1024", "-1" -> bytes (binary units, like docker's RAMInBytes).
Result<int64_t> parse_size(const std::string& s) {
  if (s == "-1") return int64_t{-1};
  size_t i = 0;
  int64_t v = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    if (v > (INT64_MAX - 9) / 10) return Error(Errc::invalid_argument, "size " + s + " is too large");
    v = v * 10 + (s[i++] - '0');
  }
  if (i == 0) return Error(Errc::invalid_argument, "invalid size \"" + s + "\"");
  std::string unit = s.substr(i);
  for (auto& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!unit.empty() && unit.back() == 'b') unit.pop_back();
  if (!unit.empty() && unit.back() == 'i') unit.pop_back();
  int shift = unit.empty() ? 0 : unit == "k" ? 10 : unit == "m" ? 20 : unit == "g" ? 30 : unit == "t" ? 40 : -1;
  if (shift < 0) return Error(Errc::invalid_argument, "invalid size unit in \"" + s + "\"");
  if (shift && v > (INT64_MAX >> shift)) return Error(Errc::invalid_argument, "size " + s + " is too large");
  return v << shift;
}

Result<std::string> read_stdin_all() {
  std::string s((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  if (s.size() > (4u << 20)) return Error(Errc::limit, "resources JSON larger than 4 MiB");
  return s;
}

}  // namespace

void add_manage(CLI::App& app, Ctx& ctx) {
  static std::string pause_id, resume_id;
  auto* pause = app.add_subcommand("pause", "freeze all processes of a container");
  pause->add_option("id", pause_id)->required();
  pause->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      TRY(runtime::pause(ctx.g, pause_id));
      return 0;
    };
  });
  auto* resume = app.add_subcommand("resume", "thaw a paused container");
  resume->add_option("id", resume_id)->required();
  resume->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      TRY(runtime::resume(ctx.g, resume_id));
      return 0;
    };
  });

  static std::string ps_format = "table";
  auto* ps = app.add_subcommand("ps", "list the processes of a container");
  ps->add_option("-f,--format", ps_format)->check(CLI::IsMember({"table", "json"}));
  ps->prefix_command();
  ps->callback([&ctx, ps] {
    ctx.action = [&ctx, ps]() -> Result<int> {
      auto rest = ps->remaining();
      if (rest.empty()) return Error(Errc::invalid_argument, "ps: missing container id");
      TRY_ASSIGN(auto pids, runtime::pids(ctx.g, rest[0]));
      if (ps_format == "json") {
        std::printf("%s\n", json(pids).dump().c_str());
        return 0;
      }
      // Like runc: the host's ps output, filtered to the container's pids.
      std::string cmd = "ps";
      std::vector<std::string> psargs(rest.begin() + 1, rest.end());
      if (psargs.empty()) psargs = {"-ef"};
      for (const auto& a : psargs) {
        for (char c : a)
          if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != ',' && c != '=')
            return Error(Errc::invalid_argument, "ps: unsupported ps argument \"" + a + "\"");
        cmd += " " + a;
      }
      FILE* f = ::popen(cmd.c_str(), "r");
      if (!f) return sys_error("run ps");
      std::set<pid_t> want(pids.begin(), pids.end());
      char line[4096];
      int pid_col = -1;
      bool header = true;
      while (std::fgets(line, sizeof line, f)) {
        std::istringstream is(line);
        std::vector<std::string> cols{std::istream_iterator<std::string>(is), {}};
        if (header) {
          for (size_t i = 0; i < cols.size(); ++i)
            if (cols[i] == "PID") pid_col = static_cast<int>(i);
          std::fputs(line, stdout);
          header = false;
          continue;
        }
        if (pid_col >= 0 && static_cast<size_t>(pid_col) < cols.size() && want.count(std::atoi(cols[pid_col].c_str())))
          std::fputs(line, stdout);
      }
      ::pclose(f);
      return 0;
    };
  });

  static std::string upd_id, res_file, memory, memory_swap, memory_res, kmem, kmem_tcp, cpus, mems, l3, mbw;
  static int64_t cpu_shares = -1, cpu_quota = 0, cpu_period = -1, rt_period = -1, rt_runtime = -1, pids_limit = 0;
  static int blkio_weight = -1;
  static bool quota_set = false, pids_set = false;
  auto* upd = app.add_subcommand("update", "update container resource limits");
  upd->add_option("-r,--resources", res_file, "linux.resources JSON file, - for stdin");
  upd->add_option("--memory", memory);
  upd->add_option("--memory-swap", memory_swap);
  upd->add_option("--memory-reservation", memory_res);
  upd->add_option("--kernel-memory", kmem);
  upd->add_option("--kernel-memory-tcp", kmem_tcp);
  upd->add_option("--cpu-shares", cpu_shares);
  upd->add_option("--cpu-quota", cpu_quota)->each([](const std::string&) { quota_set = true; });
  upd->add_option("--cpu-period", cpu_period);
  upd->add_option("--cpu-rt-period", rt_period);
  upd->add_option("--cpu-rt-runtime", rt_runtime);
  upd->add_option("--cpuset-cpus", cpus);
  upd->add_option("--cpuset-mems", mems);
  upd->add_option("--pids-limit", pids_limit)->each([](const std::string&) { pids_set = true; });
  upd->add_option("--blkio-weight", blkio_weight);
  upd->add_option("--l3-cache-schema", l3);
  upd->add_option("--mem-bw-schema", mbw);
  upd->add_option("id", upd_id)->required();
  upd->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      json r = json::object();
      if (!res_file.empty()) {
        std::string text;
        if (res_file == "-") {
          TRY_ASSIGN(text, read_stdin_all());
        } else {
          TRY_ASSIGN(text, read_file(res_file, 4u << 20));
        }
        r = json::parse(text, nullptr, false);
        if (r.is_discarded() || !r.is_object()) return Error(Errc::invalid_input, "update: resources are not a JSON object");
      }
      auto size = [&](const std::string& v, const char* group, const char* key) -> Status {
        if (v.empty()) return Status{};
        TRY_ASSIGN(int64_t b, parse_size(v));
        r[group][key] = b;
        return Status{};
      };
      TRY(size(memory, "memory", "limit"));
      TRY(size(memory_swap, "memory", "swap"));
      TRY(size(memory_res, "memory", "reservation"));
      TRY(size(kmem, "memory", "kernel"));
      TRY(size(kmem_tcp, "memory", "kernelTCP"));
      if (cpu_shares >= 0) r["cpu"]["shares"] = cpu_shares;
      if (quota_set) r["cpu"]["quota"] = cpu_quota;
      if (cpu_period >= 0) r["cpu"]["period"] = cpu_period;
      if (rt_period >= 0) r["cpu"]["realtimePeriod"] = rt_period;
      if (rt_runtime >= 0) r["cpu"]["realtimeRuntime"] = rt_runtime;
      if (!cpus.empty()) r["cpu"]["cpus"] = cpus;
      if (!mems.empty()) r["cpu"]["mems"] = mems;
      if (pids_set) r["pids"]["limit"] = pids_limit;
      if (blkio_weight >= 0) r["blockIO"]["weight"] = blkio_weight;
      TRY(runtime::update(ctx.g, upd_id, r));
      return 0;
    };
  });

  static std::string ev_id;
  static bool ev_stats = false;
  static std::string interval = "5s";
  auto* ev = app.add_subcommand("events", "container stats (only --stats is supported)");
  ev->add_flag("--stats", ev_stats);
  ev->add_option("--interval", interval);
  ev->add_option("id", ev_id)->required();
  ev->callback([&ctx] {
    ctx.action = [&ctx]() -> Result<int> {
      if (!ev_stats) return Error(Errc::unsupported, "events: only --stats is supported");
      TRY_ASSIGN(json j, runtime::stats(ctx.g, ev_id));
      std::printf("%s\n", j.dump().c_str());
      return 0;
    };
  });
}

}  // namespace berth::cli
