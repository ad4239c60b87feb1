// Network namespaces pinned by bind mounts, the way `ip netns add` does it.
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "base/fd.h"
#include "base/fs.h"
#include "network/network.h"

namespace berth::network {
namespace {

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > 255 || n == "." || n == "..") return false;
  for (char c : n)
    if (c == '/' || c == '\0') return false;
  return true;
}

// Make dir a shared mount point. A netns bind mount made in a private mount is
// copied into every mount namespace created later (a container's, a systemd
// service's) and stays there after we unmount ours, pinning the namespace and
// failing the unlink with EBUSY. A shared peer group propagates our umount.
Status make_shared_mountpoint(const std::string& dir) {
  bool bound = false;
  while (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) != 0) {
    // EINVAL: dir is not a mount point yet; bind it onto itself once and retry.
    if (errno != EINVAL || bound) return sys_error("making " + dir + " a shared mount");
    if (::mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0)
      return sys_error("bind-mounting " + dir + " onto itself");
    bound = true;
  }
  return {};
}

}  // namespace

Status in_netns(const std::string& netns_path, const std::function<Status()>& fn) {
  UniqueFd ns(::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns) return sys_error("opening network namespace " + netns_path);
  Status result;
  // setns(CLONE_NEWNET) is per thread: a throwaway thread keeps the caller's
  // namespace intact whatever fn does, and the thread dies with the namespace.
  std::thread t([&] {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) {
      result = sys_error("joining network namespace " + netns_path);
      return;
    }
    result = fn();
  });
  t.join();
  return result;
}

Result<std::string> create_netns(const std::string& dir, const std::string& name) {
  if (!valid_name(name)) return Error(Errc::invalid_argument, "netns name \"" + name + "\" is not a file name");
  TRY(mkdir_p(dir, 0755));
  TRY(make_shared_mountpoint(dir));
  std::string path = path_join(dir, name);
  {
    UniqueFd f(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0));
    if (!f) {
      if (errno == EEXIST) return Error(Errc::already_exists, "netns " + path + " already exists");
      return sys_error("creating netns file " + path);
    }
  }
  Status st;
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      st = sys_error("unshare(CLONE_NEWNET) for " + path);
      return;
    }
    if (::mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0)
      st = sys_error("bind-mounting the new network namespace to " + path);
  });
  t.join();
  if (!st.ok()) {
    ::unlink(path.c_str());
    return std::move(st).error();
  }
  return path;
}

Status remove_netns(const std::string& path) {
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    return sys_error("unmounting netns " + path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return sys_error("removing netns " + path);
  return {};
}

Status bring_up_loopback(const std::string& netns_path) {
  return in_netns(netns_path, [&]() -> Status {
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s) return sys_error("socket in netns " + netns_path);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return sys_error("reading lo flags in " + netns_path);
    if (ifr.ifr_flags & IFF_UP) return {};
    ifr.ifr_flags |= IFF_UP;
    if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return sys_error("bringing lo up in " + netns_path);
    return {};
  });
}

}  // namespace berth::network
