// berth/build: `berth build` — a parsed Dockerfile and a context to images
// in the store (docs/build.md).
//
// Promises:
//  - Layered mode (default): one layer per filesystem-changing step (RUN,
//    COPY, ADD, WORKDIR creating a directory); each step's result is cached
//    under a key over exactly its inputs (build/cache.h), so a rebuild with
//    nothing changed runs no container and reads no file twice.
//  - Flat mode: each stage's filesystem changes become one layer on its base
//    (squash_all: the base too), so files created and deleted during the
//    build are in no layer. Same final tree and config as layered mode.
//  - RUN steps run as containers of the engine (Docker's default hardening,
//    the step's network mode), deleted afterwards whatever happens.
//  - Layers are deterministic: entries sorted, owners numeric, and with
//    `timestamp` every mtime and the config's dates are that time.
//  - Nothing is named until the whole build succeeded: a failing step leaves
//    the store's names as they were (its cache records for earlier steps stay).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "digest/digest.h"
#include "engine/engine.h"
#include "image/descriptor.h"

namespace berth::build {

struct Output {
  std::string type;  // "oci" | "docker" (archives) | "local" (a directory)
  std::string dest;
};

struct BuildOptions {
  std::string context_dir;      // absolute
  std::string dockerfile_path;  // default <context>/Dockerfile; used in errors
  std::optional<std::string> dockerfile_text;  // given instead of reading the path (-f -)
  std::vector<std::string> tags;               // normalised references
  std::map<std::string, std::string> build_args;
  std::string target;  // stage name or index; "" = last stage
  bool no_cache = false;
  bool flat = false, squash_all = false;
  bool quiet = false;
  std::string network = "bridge";  // default network of RUN steps
  std::map<std::string, std::string> labels;
  std::optional<int64_t> timestamp;  // --timestamp / SOURCE_DATE_EPOCH
  std::map<std::string, std::string> build_contexts;  // NAME -> DIR
  std::map<std::string, std::string> secrets;         // --secret id=ID,src=FILE
  std::vector<Output> outputs;
  // Progress lines (no trailing newline). Default: stderr.
  std::function<void(const std::string&)> progress;
  // FROM and COPY --from=IMAGE: a name as the user typed it to a stored
  // image (the CLI's lookup rules: short names, IDs, localhost/).
  std::function<Result<image::Descriptor>(const std::string&)> find_image;
};

struct BuildResult {
  Digest image_id;  // config digest
  Digest manifest;
  int steps = 0, cached = 0;
};

Result<BuildResult> build(engine::Engine& e, const BuildOptions& o);

}  // namespace berth::build
