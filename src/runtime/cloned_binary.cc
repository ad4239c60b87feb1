#include "runtime/cloned_binary.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/fd.h"

extern char** environ;

namespace berth::runtime {

namespace {
constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
}

bool is_cloned_binary() {
  UniqueFd fd(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  int seals = ::fcntl(fd.get(), F_GET_SEALS);
  return seals >= 0 && (seals & kSeals) == kSeals;
}

Status ensure_cloned_binary(char** argv) {
  if (is_cloned_binary()) return Status{};
  UniqueFd exe(::open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  if (!exe) return sys_error("open /proc/self/exe");
  struct stat st;
  if (::fstat(exe.get(), &st) != 0) return sys_error("stat /proc/self/exe");
  UniqueFd mem(::memfd_create("berth-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!mem) return sys_error("memfd_create");
  off_t off = 0;
  while (off < st.st_size) {
    ssize_t n = ::sendfile(mem.get(), exe.get(), &off, static_cast<size_t>(st.st_size - off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return sys_error("copy /proc/self/exe to a memfd");
  }
  if (::fcntl(mem.get(), F_ADD_SEALS, kSeals) != 0) return sys_error("seal the memfd copy");
  ::syscall(SYS_execveat, mem.get(), "", argv, environ, AT_EMPTY_PATH);
  return sys_error("re-exec from the sealed copy");
}

}  // namespace berth::runtime
