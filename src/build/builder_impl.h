// berth/build (internal): the Builder that walks a Dockerfile's stages;
// builder.cc has the stage/config logic, builder_fs.cc the RUN/COPY steps.
#pragma once

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "build/internal.h"
#include "engine/copy_io.h"

namespace berth::build::detail {

using dockerfile::Instruction;
using dockerfile::Kind;

inline const char* const kProxyArgs[] = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
                                  "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy"};

inline bool is_proxy_arg(const std::string& k) {
  for (const char* p : kProxyArgs)
    if (k == p) return true;
  return false;
}

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline std::string join(const std::vector<std::string>& v, const char* sep = " ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

inline std::string json_array(const std::vector<std::string>& v) { return nlohmann::json(v).dump(); }

inline std::string rfc3339(int64_t t) {
  time_t tt = static_cast<time_t>(t);
  struct tm tm;
  gmtime_r(&tt, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// WORKDIR's rule: relative to the previous one, cleaned, absolute.
inline std::string clean_abs(const std::string& base, const std::string& p) {
  return "/" + engine::copy_detail::clean_in_root((!p.empty() && p[0] == '/') ? p : base + "/" + p);
}

// Prefixes the failing instruction's place; an error that already names one
// (a stage built on demand for COPY --from) keeps the innermost, which is
// where the fault is.
inline Error at(const Instruction& ins, const std::string& file, Error e) {
  if (e.message.rfind(file + ":", 0) == 0) return e;
  e.wrap(file + ":" + std::to_string(ins.pos.line) + ": " + ins.original.substr(0, 80));
  return e;
}

struct StageCtx {
  State state;
  Vars vars;
  bool cmd_set = false;
  // --flat: the stage's filesystem steps, run together when it ends.
  std::vector<FlatOp> pending;
  size_t last_fs_history = 0;
};

class Builder {
 public:
  Builder(engine::Engine& e, const BuildOptions& o, dockerfile::Dockerfile df, Cache cache, WriteSession ws)
      : e_(e), o_(o), df_(std::move(df)), cache_(std::move(cache)), ws_(std::move(ws)) {}

  Result<BuildResult> run();

 private:
  // Plain lines, or on a terminal a line per step that ends with its
  // outcome (CACHED / the time it took) in colour once it is known; a RUN's
  // own output goes between its line and its outcome.
  void progress(const std::string& line) {
    if (o_.quiet) return;
    if (o_.progress) return o_.progress(line);
    end_pending();
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  void progress_step(const std::string& line, bool prints_output) {
    if (o_.quiet) return;
    if (o_.progress || !tty_) return progress(line);
    end_pending();
    std::fprintf(stderr, prints_output ? "\033[1m%s\033[0m\n" : "\033[1m%s\033[0m", line.c_str());
    pending_ = !prints_output;
  }
  void progress_done(const std::string& outcome, bool cached) {
    if (o_.quiet) return;
    if (o_.progress || !tty_) return progress("--> " + outcome);
    const char* colour = cached ? "\033[36m" : "\033[32m";
    if (pending_) std::fprintf(stderr, "  %s%s\033[0m\n", colour, outcome.c_str());
    else std::fprintf(stderr, "%s--> %s\033[0m\n", colour, outcome.c_str());
    pending_ = false;
  }
  void end_pending() {
    if (pending_) std::fputc('\n', stderr);
    pending_ = false;
  }
  Result<int> stage_index(const std::string& ref) const;
  Result<State> stage_state(int idx);
  Result<State> base_state(const std::string& name);
  Result<State> build_stage(int idx);
  Status dispatch(StageCtx& sc, const Instruction& ins, int idx);
  Status layer_step(StageCtx& sc, const Instruction& ins, const std::string& canonical,
                    const std::function<Status(State&, int64_t*)>& exec, FlatOp flat);
  bool use_cached(State& s, const std::string& key, image::History h);
  Status record(State& s, const std::string& key, const std::string& canonical, int64_t size, double seconds);
  Status flat_finish(StageCtx& sc);
  Status do_run(StageCtx& sc, const Instruction& ins);
  Status do_copy(StageCtx& sc, const Instruction& ins);
  Result<std::pair<const Source*, std::string>> copy_source(const std::string& from);
  Result<std::string> source_key(const std::string& from, State* st, const Source** named);
  Result<const Source*> mount_source(const std::string& keypart, const State& st);
  Result<BuildResult> finish(State s);
  std::string history_time() const { return rfc3339(o_.timestamp.value_or(started_)); }

  engine::Engine& e_;
  const BuildOptions& o_;
  dockerfile::Dockerfile df_;
  Cache cache_;
  WriteSession ws_;
  std::map<std::string, std::string> meta_;  // global ARG values
  std::set<std::string> used_args_;
  std::map<int, State> done_;
  std::set<int> building_;
  std::optional<Source> context_;
  std::map<std::string, Source> named_contexts_;
  std::vector<std::unique_ptr<MountedSource>> mounted_;  // COPY --from sources, kept until the end
  std::map<std::string, const Source*> from_sources_;
  std::vector<std::string> hit_keys_;
  int64_t started_ = ::time(nullptr);
  int steps_ = 0, cached_ = 0;
  std::string file_;
  bool tty_ = false, pending_ = false;
};

}  // namespace berth::build::detail
