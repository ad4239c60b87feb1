// berth: the daemonless engine's command line. Parses flags and calls the libraries.
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "base/trace.h"
#include "cli.h"
#include "store/store.h"

namespace berth::cli {

Globals& globals() {
  static Globals g;
  return g;
}

std::string store_root() { return berth::default_root(globals().root); }

static int g_exit = 0;

static std::string g_only_verb;
const std::string& only_verb() { return g_only_verb; }

namespace {

// Which register_* function adds each top-level verb. A verb missing here
// (a new one) only costs speed: main then registers every verb.
enum class Group { image, container, registry, build };
struct VerbGroup {
  const char* verb;
  Group group;
};
constexpr VerbGroup kVerbs[] = {
    {"images", Group::image},    {"inspect", Group::image},      {"tag", Group::image},
    {"rmi", Group::image},       {"gc", Group::image},           {"load", Group::image},
    {"save", Group::image},      {"import", Group::image},       {"unpack", Group::image},
    {"image", Group::image},     {"container", Group::container}, {"run", Group::container},
    {"create", Group::container}, {"start", Group::container},   {"stop", Group::container},
    {"restart", Group::container}, {"kill", Group::container},   {"rm", Group::container},
    {"pause", Group::container}, {"unpause", Group::container},  {"wait", Group::container},
    {"rename", Group::container}, {"ps", Group::container},      {"top", Group::container},
    {"port", Group::container},  {"stats", Group::container},    {"logs", Group::container},
    {"events", Group::container}, {"exec", Group::container},    {"cp", Group::container},
    {"commit", Group::container}, {"healthcheck", Group::container}, {"volume", Group::container},
    {"system", Group::container}, {"generate", Group::container}, {"login", Group::registry},
    {"logout", Group::registry}, {"pull", Group::registry},      {"push", Group::registry},
    {"copy", Group::registry},   {"build", Group::build},        {"builder", Group::build},
};

// The verb argv names after the global options, or "" when argv has none or
// reaches another flag first (--help, --version, a typo): then every verb is
// registered so help and CLI11's errors read as before.
std::string verb_in(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "--root" || a == "--log-level") {
      i++;
      continue;
    }
    if (a.rfind("--root=", 0) == 0 || a.rfind("--log-level=", 0) == 0) continue;
    if (a.empty() || a[0] == '-') return "";
    return a;
  }
  return "";
}

}  // namespace

void set_action(CLI::App* cmd, Action a) {
  cmd->callback([a = std::move(a)]() {
    auto r = a();
    if (!r.ok()) {
      std::fflush(stdout);
      std::fprintf(stderr, "Error: %s\n", r.error().str().c_str());
      g_exit = 125;
    } else {
      g_exit = *r;
    }
  });
}

void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(header.size());
  for (size_t i = 0; i < header.size(); i++) w[i] = header[i].size();
  for (auto& r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); i++) w[i] = std::max(w[i], r[i].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); i++) {
      out += cells[i];
      if (i + 1 < cells.size()) out += std::string(w[i] - cells[i].size() + 3, ' ');
    }
    std::puts(out.c_str());
  };
  line(header);
  for (auto& r : rows) line(r);
}

std::string human_size(uint64_t b) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    u++;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%lluB", static_cast<unsigned long long>(b));
  else std::snprintf(buf, sizeof buf, "%.3g%s", v, units[u]);
  return buf;
}

std::string time_ago(int64_t t) {
  int64_t d = static_cast<int64_t>(std::time(nullptr)) - t;
  if (t <= 0) return "N/A";
  if (d < 1) return "Less than a second ago";
  auto fmt = [](int64_t n, const char* unit) {
    return (n == 1 ? (std::string(unit[0] == 'h' ? "An " : "A ") + unit) : std::to_string(n) + " " + unit + "s") +
           " ago";
  };
  if (d < 60) return fmt(d, "second");
  if (d < 3600) return d < 120 ? "About a minute ago" : fmt(d / 60, "minute");
  if (d < 86400) return d < 7200 ? "About an hour ago" : fmt(d / 3600, "hour");
  if (d < 86400 * 14) return fmt(d / 86400, "day");
  if (d < 86400 * 60) return fmt(d / (86400 * 7), "week");
  if (d < 86400 * 365 * 2) return fmt(d / (86400 * 30), "month");
  return fmt(d / (86400 * 365), "year");
}

std::string short_id(const std::string& hex) { return hex.substr(0, 12); }

Result<std::string> render_template(const std::string& format, const nlohmann::json& o) {
  std::string res;
  size_t i = 0;
  while (i < format.size()) {
    auto b = format.find("{{", i);
    if (b == std::string::npos) {
      res += format.substr(i);
      break;
    }
    res += format.substr(i, b - i);
    auto e = format.find("}}", b);
    if (e == std::string::npos) return Error(Errc::invalid_argument, "--format: unterminated {{");
    std::string key = format.substr(b + 2, e - b - 2);
    key.erase(0, key.find_first_not_of(' '));
    key.erase(key.find_last_not_of(' ') + 1);
    bool as_json = key.rfind("json ", 0) == 0;
    if (as_json) key = key.substr(5);
    nlohmann::json cur = o;
    size_t p = 1;
    while (!key.empty() && key[0] == '.' && p <= key.size()) {
      auto q = key.find('.', p);
      std::string part = key.substr(p, q == std::string::npos ? std::string::npos : q - p);
      if (part.empty()) break;
      cur = cur.is_object() && cur.contains(part) ? cur[part] : nlohmann::json();
      if (q == std::string::npos) break;
      p = q + 1;
    }
    res += (!as_json && cur.is_string()) ? cur.get<std::string>() : (cur.is_null() && !as_json ? "<no value>" : cur.dump());
    i = e + 2;
  }
  return res;
}

__attribute__((weak)) bool try_inspect_container(const std::string&, nlohmann::json&) { return false; }
__attribute__((weak)) void register_container_verbs(CLI::App&) {}

// Until cmd/berth/registry_verbs.cc exists the registry verbs are absent.
__attribute__((weak)) void register_registry_verbs(CLI::App&) {}
// Until cmd/berth/build_verbs.cc exists `berth build` is absent.
__attribute__((weak)) void register_build_verbs(CLI::App&) {}
// Without the engine (cmd/berth/rootless.cc) there is nothing to enter.
__attribute__((weak)) Status enter_rootless(int, char**) { return Status{}; }

}  // namespace berth::cli

int main(int argc, char** argv) {
  using namespace berth::cli;
  // Before anything else: joining a user namespace needs a single thread.
  if (auto st = enter_rootless(argc, argv); !st.ok()) {
    std::fprintf(stderr, "Error: %s\n", st.error().str().c_str());
    return 125;
  }
  CLI::App app{"berth: a daemonless, specification-first container engine"};
  app.name("berth");
  app.require_subcommand(1);
  app.set_version_flag("--version", "berth version 0.1.0");
  app.add_option("--root", globals().root, "Store directory (env BERTH_ROOT; default /var/lib/berth as root)");
  app.add_option("--log-level", globals().log_level, "Log level (accepted for compatibility)");
  // CLI11 2.1 drops an empty value given as `--entrypoint=` and would take the
  // next word instead; spell it as two words, which it handles.
  std::vector<std::string> args(argv + 1, argv + argc);
  // Only the named verb's group: building every verb's CLI::App and options
  // took ~1 ms of each start (docs/startup.md).
  std::string verb = verb_in(args);
  const VerbGroup* vg = std::find_if(std::begin(kVerbs), std::end(kVerbs), [&](const VerbGroup& g) { return verb == g.verb; });
  if (vg != std::end(kVerbs)) g_only_verb = verb;
  auto in_group = [&](Group g) { return g_only_verb.empty() || vg->group == g; };
  if (in_group(Group::image)) register_image_verbs(app);
  register_runtime_verbs(app);
  if (in_group(Group::container)) register_container_verbs(app);
  if (in_group(Group::registry)) register_registry_verbs(app);
  if (in_group(Group::build)) register_build_verbs(app);
  for (size_t i = 0; i < args.size(); i++)
    if (args[i] == "--entrypoint=") {
      args[i] = "--entrypoint";
      args.insert(args.begin() + static_cast<long>(i) + 1, "");
    }
  std::reverse(args.begin(), args.end());  // CLI11 takes the vector reversed
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 125;
  }
  // The verb's own objects (store, engine, temp dirs) are gone by now; what
  // exit() would still do is tear down CLI11's tree and every static object,
  // ~0.4 ms of `run --rm` (docs/startup.md). Output is flushed first.
  std::fflush(nullptr);
  berth::trace_mark("exit");
  std::_Exit(g_exit);
}
