#include "base/trace.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace berth {
namespace {

double now_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace

void trace_mark(const char* what) {
  static const bool on = [] {
    const char* e = std::getenv("BERTH_TRACE");
    return e != nullptr && *e != '\0' && *e != '0';
  }();
  if (!on) return;
  static double first = -1, prev = 0;
  double t = now_ms();
  if (first < 0) first = prev = t;
  std::fprintf(stderr, "berth-trace %d +%.2f (+%.2f) %s\n", static_cast<int>(::getpid()), t - first, t - prev, what);
  prev = t;
}

}  // namespace berth

namespace {
// The origin is the earliest point we can mark (static initialisation, after
// the loader); the last mark is taken as the process exits.
__attribute__((constructor)) void trace_start() {
  berth::trace_mark("process start (after the loader)");
  std::atexit([] { berth::trace_mark("exit (after main)"); });
}
}  // namespace
