// berth/engine: the per-container monitor loop (what conmon does for podman).
//
// The monitor is the parent of the container's init. It pumps the
// container's stdout/stderr (pipes) or its terminal (a pty master) into the
// container log, optionally also to the caller's terminal (foreground run),
// forwards signals it receives to the container (foreground run), starts
// periodic health checks, reaps, and finally records the exit:
//
//   <dir>/exit   {"exitCode":N,"signal":S,"finishedAt":ns}   atomic write
//   die event    in the store's event journal
//
// Promises:
//  - Output written by the container just before it exits is in the log
//    before the exit file appears: after the init is reaped the pipes are
//    drained to EOF (bounded: at most 2 s if a leaked writer keeps one open).
//  - It allocates little and links only base + journal, so the long-lived
//    berth-monitor process stays small (goal: under 1 MiB RSS).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"

namespace berth::engine {

struct MonitorConfig {
  pid_t child = 0;     // the container init; must be our child
  int out_fd = -1;     // read end of the container's stdout pipe
  int err_fd = -1;     // read end of its stderr pipe
  int pty_fd = -1;     // pty master (terminal mode; replaces out/err)
  int stdin_src = -1;  // foreground: our stdin, copied into the pty / stdin pipe
  int stdin_dst = -1;  // foreground, non-tty -i: write end of the container's stdin pipe
  int tee_out = -1;    // foreground: where the output is shown as well
  int tee_err = -1;
  bool forward_signals = false;  // foreground: SIGINT/TERM/HUP/QUIT/USR1/USR2/WINCH go to the container
  std::string id, name, image;
  std::string log_path;
  uint64_t log_max_bytes = 10u << 20;
  int log_max_files = 2;
  // fdatasync the log at exit; off for --rm, whose log is removed right after.
  bool sync_log = true;
  std::string exit_path;
  std::string events_path;
  // Health checks: argv run every interval (nanoseconds) while the
  // container lives; empty: none. The command records its own result.
  std::vector<std::string> health_argv;
  int64_t health_interval_ns = 0;
  int64_t health_start_ns = 0;  // first check after this delay (default: interval)
  // Called once, after setup and before the first wait: berth-monitor drops
  // the pages only its start-up touched there (see cmd/berth-monitor).
  void (*settled)() = nullptr;
};

struct ExitInfo {
  int exit_code = 0;  // 128+signal when killed by one
  int signal = 0;
  int64_t finished_ns = 0;
};

// Runs until the container exits. Signals the loop needs are blocked for the
// duration and restored on return.
Result<ExitInfo> run_monitor(const MonitorConfig& cfg);

// The exit file as written by run_monitor; not_found while still running.
Result<ExitInfo> read_exit_file(const std::string& path);

}  // namespace berth::engine
