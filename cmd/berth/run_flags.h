// `berth run` / `berth create` flags: Docker's names, registered on a CLI11
// subcommand, kept as raw strings and converted by to_run_options(), so every
// error is engine::'s one-line message rather than CLI11's.
//
// Parsing stops at the image: `berth run --rm img sh -c 'echo x'` gives the
// container ["sh", "-c", "echo x"], flags after the image included
// (prefix_command). The subcommand's -h is --hostname, as in Docker; help is
// --help only.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/error.h"
#include "engine/options.h"

namespace berth::cli {

struct RunFlags {
  // Strings are Docker's raw flag values; empty means "not given".
  std::string name, hostname, domainname, user, workdir;
  std::string entrypoint;
  bool entrypoint_set = false;  // `--entrypoint ""` resets the image's
  std::vector<std::string> env, env_file, label, label_file, annotation;
  std::vector<std::string> volume, mount, tmpfs;
  std::vector<std::string> publish, expose, dns, dns_search, dns_option, add_host;
  std::vector<std::string> ulimit, cap_add, cap_drop, security_opt, sysctl, group_add;
  bool tty = false, interactive = false, detach = false, rm = false, read_only = false;
  bool publish_all = false, privileged = false, init = false, no_healthcheck = false;
  bool quiet = false, sig_proxy = true;  // CLI behaviour, not container options
  std::string network, memory, memory_swap, memory_reservation, cpus, cpu_shares, cpuset_cpus;
  std::string pids_limit, oom_score_adj, shm_size, restart;
  std::string health_cmd, health_interval, health_timeout, health_start_period, health_retries;
  std::string stop_signal, stop_timeout, platform, pull;

  // IMAGE [COMMAND [ARG...]]: taken from the subcommand's remaining
  // arguments when empty (add_run_flags records the subcommand).
  std::vector<std::string> rest;
  CLI::App* app = nullptr;
};

// Registers every flag on `cmd`. `run` = false for `create` (no -d, which
// Docker's create lacks; --rm is kept: it applies when the container is started).
void add_run_flags(CLI::App* cmd, RunFlags& f, bool run = true);

// Parses and validates everything (engine::check_run_options included);
// relative -v/--mount sources resolve against the current directory, -e KEY
// and --env-file KEY lines read this process's environment.
Result<engine::RunOptions> to_run_options(const RunFlags& f);

}  // namespace berth::cli
