// libFuzzer: arbitrary bytes as a layer blob (plain, gzip or zstd tar),
// applied in both whiteout modes into fresh temp dirs. Must not crash, hang,
// or touch anything outside the target: a sentinel file beside the target
// must be unchanged and nothing else may appear beside it.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "base/fs.h"
#include "layer/layer.h"

namespace {

void check_contained(const std::string& base) {
  auto sentinel = berth::read_file(base + "/sentinel");
  if (!sentinel || *sentinel != "sentinel") std::abort();
  DIR* d = ::opendir(base.c_str());
  if (!d) std::abort();
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != ".." && n != "t" && n != "sentinel") std::abort();  // escaped beside the target
  }
  ::closedir(d);
}

void run(const uint8_t* data, size_t size, berth::layer::Whiteouts mode) {
  auto tmp = berth::TempDir::create("/tmp", "berth-fuzz-layer");
  if (!tmp) std::abort();
  std::string base = tmp->path();
  if (::mkdir((base + "/t").c_str(), 0755) != 0) std::abort();
  {  // plain write: an fsync per run would dominate the fuzzer's speed
    berth::UniqueFd s(::open((base + "/sentinel").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!s || !berth::write_all(s.get(), "sentinel", 8).ok()) std::abort();
  }
  int fd = ::memfd_create("layer", MFD_CLOEXEC);
  if (fd < 0 || (size && ::write(fd, data, size) != static_cast<ssize_t>(size)) || ::lseek(fd, 0, SEEK_SET) != 0)
    std::abort();
  berth::layer::ApplyOptions o;
  o.whiteouts = mode;
  o.label = "fuzz";
  o.max_uncompressed_size = 64 << 20;
  o.max_file_size = 16 << 20;
  o.max_entries = 10000;
  (void)berth::layer::apply_layer_fd(fd, base + "/t", o);
  check_contained(base);
}  // TempDir removes the tree

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  run(data, size, berth::layer::Whiteouts::flatten);
  run(data, size, berth::layer::Whiteouts::overlay);
  return 0;
}
