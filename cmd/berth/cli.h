// berth CLI plumbing shared by the verbs: global options, output helpers.
// Each verb lives in its own file and registers itself with register_<verb>().
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "base/error.h"

namespace berth::cli {

struct Globals {
  std::string root;       // --root / $BERTH_ROOT / default
  std::string log_level;  // accepted for podman compatibility
};

Globals& globals();
std::string store_root();  // resolved root

// The verb bodies return a process exit code or an Error; main prints the
// error as one line "Error: ..." and exits 125 (podman's code for engine errors).
using Action = std::function<Result<int>()>;
void set_action(CLI::App* cmd, Action a);

// Docker-style table: columns separated by at least 3 spaces, header in caps.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
std::string human_size(uint64_t bytes);    // "4.26MB" (decimal, like docker)
std::string time_ago(int64_t unix_seconds);  // "3 minutes ago"
std::string short_id(const std::string& hex);  // first 12 hex chars

// A subset of Go templates: {{.A.B}}, {{json .A}}; missing keys print <no value>.
Result<std::string> render_template(const std::string& format, const nlohmann::json& obj);
// The top-level `inspect` shows a container when one matches, else an image.
bool try_inspect_container(const std::string& ref, nlohmann::json& out);

// The top-level verb argv names when main registers only that verb's group
// (start-up time, docs/startup.md), or "" when every verb is registered (no
// verb, --help, --version, an unknown word). register_* functions skip the
// top-level verbs other than this one, and groups (`container ...`) unless
// it names them.
const std::string& only_verb();
inline bool wanted(const char* verb) { return only_verb().empty() || only_verb() == verb; }

void register_image_verbs(CLI::App& app);
void register_container_verbs(CLI::App& app);  // cmd/berth/container_*.cc (engine)
void register_runtime_verbs(CLI::App& app);
void register_registry_verbs(CLI::App& app);  // cmd/berth/registry_verbs.cc (transport)

}  // namespace berth::cli
