// Kept apart from paths.cc: berth-monitor links this file alone.
#include <fcntl.h>
#include <unistd.h>

#include "base/fd.h"
#include "base/fs.h"
#include "engine/paths.h"

namespace berth::engine {

Status write_ephemeral(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = path + ".tmp" + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd) return sys_error("create " + tmp);
  if (auto s = write_all(fd.get(), data.data(), data.size()); !s.ok()) {
    ::unlink(tmp.c_str());
    return s;
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return sys_error("rename " + tmp);
  }
  return Status{};
}

Status write_fresh(const std::string& path, std::string_view data, mode_t mode) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) {
    if (errno == EEXIST) return write_ephemeral(path, data, mode);
    return sys_error("create " + path);
  }
  if (auto s = write_all(fd.get(), data.data(), data.size()); !s.ok()) {
    ::unlink(path.c_str());
    return s;
  }
  return Status{};
}

}  // namespace berth::engine
