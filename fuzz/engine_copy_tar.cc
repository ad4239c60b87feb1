// libFuzzer: arbitrary bytes as the tar of `berth cp - CTR:/` (plain or
// gzip/bzip2/xz/zstd), extracted into a fresh rootfs that already holds
// symlinks aimed outside it. Must not crash, hang, or touch anything outside
// the rootfs: the sentinel beside it stays unchanged and nothing else appears.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "base/fs.h"
#include "engine/copy_io.h"

namespace {

void check_contained(const std::string& base) {
  auto sentinel = berth::read_file(base + "/sentinel");
  if (!sentinel || *sentinel != "sentinel") std::abort();
  DIR* d = ::opendir(base.c_str());
  if (!d) std::abort();
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != ".." && n != "rootfs" && n != "sentinel") std::abort();  // escaped beside the rootfs
  }
  ::closedir(d);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace berth::engine::copy_detail;
  auto tmp = berth::TempDir::create("/tmp", "berth-fuzz-cp");
  if (!tmp) std::abort();
  std::string base = tmp->path(), root = base + "/rootfs";
  if (::mkdir(root.c_str(), 0755) != 0 || ::symlink(base.c_str(), (root + "/abs").c_str()) != 0 ||
      ::symlink("../../../../../../..", (root + "/up").c_str()) != 0)
    std::abort();
  {
    berth::UniqueFd s(::open((base + "/sentinel").c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!s || !berth::write_all(s.get(), "sentinel", 8).ok()) std::abort();
  }
  berth::UniqueFd in(::memfd_create("tar", MFD_CLOEXEC));
  if (!in || (size && ::write(in.get(), data, size) != static_cast<ssize_t>(size)) || ::lseek(in.get(), 0, SEEK_SET) != 0)
    std::abort();
  auto r = berth::layer::detail::Root::open(root);
  if (!r) std::abort();
  DirSink sink(std::move(*r), "", Owners{Owners::Mode::fixed, 0, 0}, "/");
  sink.create_parents = true;
  TarLimits lim;
  lim.max_entries = 10000;
  lim.max_bytes = 64 << 20;
  (void)read_tar(in.get(), sink, lim);
  check_contained(base);
  return 0;
}
