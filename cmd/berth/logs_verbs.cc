// logs and events: reading the journal (src/journal) from any process, at any
// time, also after the container exited.
#include <unistd.h>

#include <cstdio>
#include <set>

#include "base/fs.h"
#include "cli.h"
#include "container_common.h"
#include "journal/events.h"
#include "journal/log.h"
#include "journal/time.h"

namespace berth::cli {

namespace {

void print_entry(const journal::LogEntry& e, bool ts) {
  std::string s = journal::format_entry(e, ts);
  FILE* f = e.stream == journal::Stream::err ? stderr : stdout;
  std::fwrite(s.data(), 1, s.size(), f);
  std::fflush(f);
}

struct LogsOpts {
  std::string id, since, until, tail = "all";
  bool follow = false, timestamps = false;
};

Result<int> cmd_logs(const LogsOpts& o) {
  TRY_ASSIGN(auto ctx, EngineCtx::open());
  TRY_ASSIGN(auto c, ctx->engine.lookup(o.id));
  journal::LogQuery q;
  int64_t now = journal::now_ns();
  if (!o.since.empty()) {
    TRY_ASSIGN(q.since_ns, journal::parse_time_arg(o.since, now));
  }
  if (!o.until.empty()) {
    TRY_ASSIGN(q.until_ns, journal::parse_time_arg(o.until, now));
  }
  if (o.tail != "all" && !o.tail.empty()) {
    char* end = nullptr;
    long long n = std::strtoll(o.tail.c_str(), &end, 10);
    if (!end || *end || n < 0) return Error(Errc::invalid_argument, "invalid --tail \"" + o.tail + "\": a number or \"all\"");
    q.tail = n;
  }
  std::string path = ctx->engine.paths().log(c.id);
  if (!o.follow) {
    TRY_ASSIGN(auto entries, journal::read_log(path, q));
    for (const auto& e : entries) print_entry(e, o.timestamps);
    return 0;
  }
  auto& eng = ctx->engine;
  std::string id = c.id;
  auto finished = [&eng, id]() {
    auto cur = eng.containers().get(id);
    if (!cur.ok()) return true;
    auto r = eng.refresh(std::move(*cur));
    return r.state != engine::State::running && r.state != engine::State::paused;
  };
  TRY(journal::follow_log(path, q, [&](const journal::LogEntry& e) {
    print_entry(e, o.timestamps);
    return true;
  }, finished));
  return 0;
}

void add_logs(CLI::App* parent) {
  auto o = std::make_shared<LogsOpts>();
  auto* c = parent->add_subcommand("logs", "Fetch the logs of a container");
  c->add_option("container", o->id)->required();
  c->add_flag("-f,--follow", o->follow, "Follow log output until the container exits");
  c->add_flag("-t,--timestamps", o->timestamps, "Show timestamps");
  c->add_option("--since", o->since, "Show logs since a timestamp (2013-01-02T13:23:37Z) or relative (42m)");
  c->add_option("--until", o->until, "Show logs before a timestamp or relative time");
  c->add_option("-n,--tail", o->tail, "Number of lines to show from the end (default all)");
  c->add_flag("--details")->description("Accepted for compatibility");
  set_action(c, [o] { return cmd_logs(*o); });
}

struct EventsOpts {
  std::string since, until, format;
  std::vector<std::string> filters;
  bool logs = false;
};

void print_event(const journal::Event& e, const std::string& fmt) {
  if (fmt == "json" || fmt == "{{json .}}") std::printf("%s\n", journal::event_json(e).c_str());
  else if (!fmt.empty()) {
    auto j = nlohmann::json::parse(journal::event_json(e), nullptr, false);
    auto line = render_template(fmt, j);
    std::printf("%s\n", line.ok() ? line->c_str() : journal::event_text(e).c_str());
  } else std::printf("%s\n", journal::event_text(e).c_str());
  std::fflush(stdout);
}

void print_log_record(const journal::ContainerLog& l, const std::string& fmt, const std::map<std::string, std::string>& names) {
  auto it = names.find(l.container_id);
  std::string name = it == names.end() ? short_id(l.container_id) : it->second;
  if (fmt == "json" || fmt == "{{json .}}") {
    nlohmann::json j = {{"Type", "container"}, {"Action", "log"}, {"id", l.container_id},
                        {"Actor", {{"ID", l.container_id}, {"Attributes", {{"name", name}, {"stream", journal::stream_name(l.entry.stream)}}}}},
                        {"log", l.entry.text}, {"time", l.entry.time_ns / 1000000000}, {"timeNano", l.entry.time_ns}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%s container log %s (name=%s, stream=%s) %s\n", journal::format_rfc3339nano(l.entry.time_ns).c_str(),
                l.container_id.c_str(), name.c_str(), journal::stream_name(l.entry.stream), l.entry.text.c_str());
  }
}

Result<int> cmd_events(const EventsOpts& o) {
  TRY_ASSIGN(auto ctx, EngineCtx::open());
  TRY_ASSIGN(journal::EventFilter f, journal::parse_event_filters(o.filters));
  int64_t now = journal::now_ns();
  if (!o.since.empty()) {
    TRY_ASSIGN(f.since_ns, journal::parse_time_arg(o.since, now));
  }
  if (!o.until.empty()) {
    TRY_ASSIGN(f.until_ns, journal::parse_time_arg(o.until, now));
  }
  std::string path = ctx->engine.paths().events();
  if (o.logs && !(f.until_ns > 0 && f.until_ns <= now)) {
    // Live: every container an event names has its log followed from then
    // on, so a container started after this command shows its output too.
    auto& eng = ctx->engine;
    std::map<std::string, std::string> names;
    TRY(journal::follow_records(
        path, f, {},
        [&](const journal::Event& e) -> std::optional<journal::LogSource> {
          if (e.type != "container" || e.id.empty()) return std::nullopt;
          return journal::LogSource{e.id, eng.paths().log(e.id)};
        },
        [&](const journal::Record& r) {
          if (auto* e = std::get_if<journal::Event>(&r.what)) {
            if (auto n = e->attributes.find("name"); e->type == "container" && n != e->attributes.end())
              names[e->id] = n->second;
            print_event(*e, o.format);
          } else {
            print_log_record(std::get<journal::ContainerLog>(r.what), o.format, names);
            std::fflush(stdout);
          }
          return true;
        },
        [] { return false; }));
    return 0;
  }
  if (o.logs) {
    // One time-ordered stream of what happened and what the programs printed.
    TRY_ASSIGN(auto events, journal::read_events(path, f));
    std::set<std::string> ids;
    for (const auto& e : events)
      if (e.type == "container") ids.insert(e.id);
    TRY_ASSIGN(auto all, ctx->engine.containers().list());
    std::map<std::string, std::string> names;
    std::vector<journal::ContainerLog> logs;
    for (const auto& c : all) {
      names[c.id] = c.name;
      if (!ids.count(c.id)) continue;
      journal::LogQuery q;
      q.since_ns = f.since_ns;
      q.until_ns = f.until_ns;
      auto entries = journal::read_log(ctx->engine.paths().log(c.id), q);
      if (!entries.ok()) continue;
      for (auto& e : *entries) logs.push_back({c.id, std::move(e)});
    }
    for (const auto& r : journal::merge_records(std::move(events), std::move(logs))) {
      if (auto* e = std::get_if<journal::Event>(&r.what)) print_event(*e, o.format);
      else print_log_record(std::get<journal::ContainerLog>(r.what), o.format, names);
    }
    return 0;
  }
  if (f.until_ns > 0 && f.until_ns <= now) {
    TRY_ASSIGN(auto events, journal::read_events(path, f));
    for (const auto& e : events) print_event(e, o.format);
    return 0;
  }
  TRY(journal::follow_events(path, f, [&](const journal::Event& e) {
    print_event(e, o.format);
    return true;
  }, [] { return false; }));
  return 0;
}

void add_events(CLI::App* parent) {
  auto o = std::make_shared<EventsOpts>();
  auto* c = parent->add_subcommand("events", "Get real time events from the journal");
  c->add_option("--since", o->since, "Show events since a timestamp or relative time");
  c->add_option("--until", o->until, "Stream events until this timestamp or relative time");
  c->add_option("-f,--filter", o->filters, "container=, image=, event=, type=, label=, volume=")->allow_extra_args(false);
  c->add_option("--format", o->format, "json, or a template like {{.Action}}");
  c->add_flag("--logs", o->logs, "Interleave the containers' log lines with the events");
  set_action(c, [o] { return cmd_events(*o); });
}

}  // namespace

void register_journal_verbs(CLI::App& app, CLI::App* group) {
  if (wanted("logs")) add_logs(&app);
  if (group) add_logs(group);  // absent unless argv names `container` (cli.h, only_verb)
  if (wanted("events")) add_events(&app);
}

}  // namespace berth::cli
