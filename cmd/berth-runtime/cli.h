// berth-runtime: runc's command line over berth/runtime.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "base/error.h"
#include "runtime/container.h"

namespace berth::cli {

struct Ctx {
  runtime::GlobalOptions g;
  // Set by the chosen subcommand; returns the process exit code.
  std::function<Result<int>()> action;
};

void add_lifecycle(CLI::App& app, Ctx& ctx);  // create start run delete kill state list
void add_exec(CLI::App& app, Ctx& ctx);
void add_manage(CLI::App& app, Ctx& ctx);     // pause resume ps update events
void add_info(CLI::App& app, Ctx& ctx);       // spec features

}  // namespace berth::cli
