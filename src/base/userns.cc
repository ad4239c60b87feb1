#include "base/userns.h"

#include <cstdio>

namespace berth {

namespace {

bool read_uid_map() {
  std::FILE* f = std::fopen("/proc/self/uid_map", "re");
  if (!f) return false;  // no /proc: nothing to go by, assume the host
  unsigned long inside = 1, outside = 1, count = 0;
  int n = std::fscanf(f, "%lu %lu %lu", &inside, &outside, &count);
  std::fclose(f);
  return !(n == 3 && inside == 0 && outside == 0 && count == 4294967295UL);
}

}  // namespace

// Not cached: rootless berth enters its namespace after main() starts.
bool in_user_namespace() { return read_uid_map(); }

}  // namespace berth
