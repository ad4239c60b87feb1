// berth-monitor: exec'd by the process that created a detached container
// (so it keeps that process's pid and stays the container init's parent).
// Runs the monitor loop, then becomes `berth container cleanup ID`.
//
// Usage (internal, not for people):
//   berth-monitor --id ID --child PID --berth PATH --root ROOT [--name N] [--image I]
//     [--out FD --err FD | --pty FD] [--log PATH] [--log-max BYTES] [--exit PATH]
//     [--events PATH] [--health-interval NS] [--health-start NS]
#include <link.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/monitor.h"

using berth::engine::MonitorConfig;

namespace {

// The whole pages of the binary's read-only segments (headers, code,
// constants); a page shared with a writable segment is not one of them.
struct Range {
  uintptr_t start = 0, end = 0;
};
Range g_ro[4];

int find_ro(struct dl_phdr_info* info, size_t, void*) {
  int n = 0;
  for (int i = 0; i < info->dlpi_phnum && n < 4; i++) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W)) continue;
    const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    uintptr_t a = info->dlpi_addr + ph.p_vaddr;
    g_ro[n++] = {(a + page - 1) & ~(page - 1), (a + ph.p_memsz) & ~(page - 1)};
  }
  return 1;  // the first object is the (static) executable itself
}

// RSS counts every page mapped into the process, and the kernel maps up to
// 64 KiB of cached file pages around each fault: libc's and libstdc++'s
// start-up code (relocation, TLS, ifunc resolvers, argument parsing, opening
// the log) leaves ~800 KiB of the binary mapped that the loop never runs
// again. Dropping the mappings of the read-only segments is safe (they are
// clean file pages, refaulted from the page cache on use) and leaves mapped
// only what the loop touches. Writable segments are left alone: their pages
// hold relocations and state.
void release_startup_pages() {
  for (const Range& r : g_ro)
    if (r.end > r.start) ::madvise(reinterpret_cast<void*>(r.start), r.end - r.start, MADV_DONTNEED);
}

}  // namespace

int main(int argc, char** argv) {
  // A burst of container output grows the log batch to 64 KiB and more; the
  // monitor then sleeps, maybe for days. Big blocks get their own mapping
  // (unmapped when freed), and the free top of the heap goes back to the
  // kernel down to 16 KiB (glibc keeps 128 KiB), so a burst's memory does
  // not stay resident afterwards.
  ::mallopt(M_MMAP_THRESHOLD, 32 * 1024);
  ::mallopt(M_TRIM_THRESHOLD, 32 * 1024);
  ::mallopt(M_TOP_PAD, 16 * 1024);
  MonitorConfig c;
  std::string berth, root;
  int64_t health_interval = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--id") c.id = v;
    else if (k == "--name") c.name = v;
    else if (k == "--image") c.image = v;
    else if (k == "--child") c.child = std::atoi(v);
    else if (k == "--out") c.out_fd = std::atoi(v);
    else if (k == "--err") c.err_fd = std::atoi(v);
    else if (k == "--pty") c.pty_fd = std::atoi(v);
    else if (k == "--log") c.log_path = v;
    else if (k == "--log-max") c.log_max_bytes = std::strtoull(v, nullptr, 10);
    else if (k == "--exit") c.exit_path = v;
    else if (k == "--events") c.events_path = v;
    else if (k == "--health-interval") health_interval = std::strtoll(v, nullptr, 10);
    else if (k == "--health-start") c.health_start_ns = std::strtoll(v, nullptr, 10);
    else if (k == "--berth") berth = v;
    else if (k == "--root") root = v;
    else {
      std::fprintf(stderr, "berth-monitor: unknown argument %s\n", k.c_str());
      return 125;
    }
  }
  if (c.id.empty() || c.child <= 0 || berth.empty() || root.empty()) {
    std::fprintf(stderr, "berth-monitor: --id, --child, --berth and --root are required\n");
    return 125;
  }
  if (health_interval > 0) {
    c.health_argv = {berth, "--root", root, "healthcheck", "run", c.id};
    c.health_interval_ns = health_interval;
  }
  ::dl_iterate_phdr(find_ro, nullptr);
  c.settled = release_startup_pages;
  auto r = berth::engine::run_monitor(c);
  if (!r.ok()) std::fprintf(stderr, "berth-monitor: %s\n", r.error().str().c_str());
  // Everything after the exit (unmount, network, --rm, restart policy) is the
  // CLI's business; it runs in this same process so nothing is left unparented.
  for (int fd : {c.out_fd, c.err_fd, c.pty_fd})
    if (fd >= 0) ::close(fd);
  std::string cleanup = "cleanup";
  char* args[] = {berth.data(), const_cast<char*>("--root"), root.data(), const_cast<char*>("container"),
                  cleanup.data(), c.id.data(), nullptr};
  ::execv(args[0], args);
  std::perror("berth-monitor: exec berth container cleanup");
  return 1;
}
