// berth/build (internal): the state a Dockerfile stage threads through its
// steps, and the steps that change the filesystem.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "build/builder.h"
#include "build/cache.h"
#include "build/context.h"
#include "dockerfile/dockerfile.h"
#include "image/config.h"
#include "image/resolve.h"
#include "store/store.h"

namespace berth::build {

// An image being built: config + layers, and the cache key that names how
// it was reached.
struct State {
  image::ImageConfig cfg;
  std::vector<image::Descriptor> layers;
  std::string key;
  bool scratch = false;
};

// Expansion scope of a stage: ENV wins over ARG (Dockerfile reference).
struct Vars {
  std::map<std::string, std::string> args;  // declared ARGs with their values
  const std::vector<std::string>* env = nullptr;
  dockerfile::Lookup lookup() const;
  // KEY=value for every declared ARG not shadowed by ENV: a RUN sees them.
  std::vector<std::string> arg_env() const;
};

std::string sha256_key(std::string_view data);

// Writes the state's config + manifest into the store (protected by the
// session) and returns it as a runnable image.
Result<image::ResolvedImage> store_state(Store& store, WriteSession& ws, const State& s);

// A root filesystem for a step: overlay over the state's snapshots with a
// fresh upper dir; unmounted and deleted on destruction.
class StepRootfs {
 public:
  static Result<StepRootfs> mount(Store& store, WriteSession& ws, const State& s);
  StepRootfs(StepRootfs&&) noexcept;
  StepRootfs& operator=(StepRootfs&&) = delete;
  ~StepRootfs();
  const std::string& merged() const { return merged_; }
  const std::string& upper() const { return upper_; }
  Status unmount();

 private:
  StepRootfs() = default;
  std::string dir_, merged_, upper_;
};

// The filesystem-changing steps. Each appends its layer (if the step
// changed anything) to `s` and returns the layer's uncompressed size.
struct StepContext {
  engine::Engine* engine;
  WriteSession* ws;
  const BuildOptions* opts;
  std::optional<int64_t> mtime;
};
Result<bool> add_upper_layer(StepContext& c, State& s, const std::string& upper, int64_t* size);

// "type=bind,source=x,rw" -> {type: bind, source: x, rw: true}: the
// key=value lists of RUN --mount (a bare key means "true"; the last wins).
std::map<std::string, std::string> parse_kv_csv(const std::string& s);

struct RunSpec {
  std::vector<std::string> args;
  std::vector<std::string> env;  // extra KEY=value (build args)
  std::string network;
  std::vector<std::string> mounts;  // raw --mount values (expanded)
  std::map<std::string, std::string> heredoc_files;  // container path -> content (executable scripts)
};
Status run_step(StepContext& c, State& s, const RunSpec& r, const std::map<std::string, std::string>& stage_dirs,
                int64_t* size);

struct CopySpec {
  const Source* src = nullptr;
  std::vector<std::string> paths;  // matched
  // COPY --from a stage or image: the source is mounted, and `patterns`
  // matched in it, only when the step runs (src is null until then).
  std::function<Result<const Source*>()> lazy_src;
  std::vector<std::string> patterns;
  std::vector<dockerfile::Heredoc> heredocs;
  std::string dest;
  std::string chown;  // as written (expanded)
  std::optional<mode_t> chmod;
  bool add = false;
};
Status copy_step(StepContext& c, State& s, const CopySpec& cp, int64_t* size);
Status workdir_step(StepContext& c, State& s, const std::string& dir, int64_t* size);

// `mkdir -p dir` inside rootfs (components resolved in it; '..' refused).
Status make_workdir(const std::string& rootfs, const std::string& dir);
// COPY/ADD into an already mounted rootfs (flat mode's running container).
Status copy_to_rootfs(const std::string& rootfs, const CopySpec& cp, const std::string& workdir);

// --flat: one container per stage, kept alive by `berth-init --pause`; RUN
// steps are exec'd into it, COPY/WORKDIR write into its rootfs, and its
// upper dir becomes the stage's one layer.
struct FlatBox {
  engine::Engine* engine = nullptr;
  std::string id;
  std::string merged;
  bool quiet = false;
};
using FlatOp = std::function<Status(FlatBox&)>;
Status flat_run_op(FlatBox& box, const RunSpec& r, const std::vector<std::string>& env, const std::string& user,
                   const std::string& workdir);
// Creates and starts the stage container, runs ops, adds the upper dir as
// one layer to `s`; the container is removed whatever happens.
Status flat_execute(StepContext& c, State& s, const std::vector<FlatOp>& ops, int64_t* size);
// --squash-all: the state's whole tree as a single layer.
Status squash(StepContext& c, State& s);

// The filesystem of a finished stage / stored image, read-only, for COPY --from.
class MountedSource {
 public:
  static Result<MountedSource> mount(Store& store, WriteSession& ws, const State& s);
  const Source& source() const { return src_; }

 private:
  std::optional<StepRootfs> fs_;
  Source src_;
  friend class StepRootfs;
};

}  // namespace berth::build
