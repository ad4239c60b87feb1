#include "runtime/sysctl.h"

#include <fcntl.h>
#include <sched.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "base/fd.h"
#include "base/fs.h"

namespace berth::runtime {

namespace {
bool starts(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }
}  // namespace

Status validate_sysctls(const Spec& spec) {
  const Linux& l = spec.linux;
  for (const auto& kv : l.sysctl) {
    // Plain references: clang 14 (the fuzz build) can't capture structured bindings.
    const std::string& k = kv.first;
    const std::string& v = kv.second;
    auto bad = [&](const std::string& why) { return Error(Errc::invalid_input, "linux.sysctl \"" + k + "\": " + why); };
    if (k.empty()) return bad("empty key");
    for (char c : k)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' || c == '/'))
        return bad("invalid character in key");
    if (k.find("..") != std::string::npos || k[0] == '/' || k[0] == '.') return bad("key must be a relative sysctl name");
    if (v.find('\n') != std::string::npos || v.find('\0') != std::string::npos) return bad("value contains a newline");
    std::string key = k;
    for (auto& c : key)
      if (c == '/') c = '.';
    static const char* ipc[] = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                                "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
    bool is_ipc = starts(key, "fs.mqueue.");
    for (auto* i : ipc) is_ipc |= key == i;
    if (is_ipc) {
      if (!l.ns(NsType::ipc)) return bad("needs an ipc namespace");
      continue;
    }
    if (starts(key, "net.")) {
      if (!l.ns(NsType::network)) return bad("needs a network namespace");
      continue;
    }
    if (key == "kernel.hostname" || key == "kernel.domainname") {
      if (!l.ns(NsType::uts)) return bad("needs a uts namespace");
      continue;
    }
    return bad("not namespaced, refusing to change the host");
  }
  return Status{};
}

Status apply_sysctls(const std::map<std::string, std::string>& sysctl) {
  if (sysctl.empty()) return Status{};
  UniqueFd dir(::open("/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return sys_error("open /proc/sys");
  for (const auto& [k, v] : sysctl) {
    std::string rel = k;
    for (auto& c : rel)
      if (c == '.') c = '/';
    struct open_how how = {};
    how.flags = O_WRONLY | O_TRUNC | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    long fd = ::syscall(SYS_openat2, dir.get(), rel.c_str(), &how, sizeof how);
    if (fd < 0) return sys_error("open sysctl " + k);
    UniqueFd f(static_cast<int>(fd));
    if (::write(f.get(), v.data(), v.size()) != static_cast<ssize_t>(v.size())) return sys_error("write sysctl " + k);
  }
  return Status{};
}

Status loopback_up() {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return sys_error("loopback: socket");
  struct ifreq ifr = {};
  std::memcpy(ifr.ifr_name, "lo", 3);
  if (::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) return sys_error("loopback: read the flags of lo");
  if (ifr.ifr_flags & IFF_UP) return Status{};
  ifr.ifr_flags |= IFF_UP;
  if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) return sys_error("loopback: bring lo up");
  return Status{};
}

Result<UniqueFd> new_network_namespace() {
  // unshare moves only the calling thread, and it goes back before returning,
  // so any thread of a process may call this.
  UniqueFd own(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!own) return sys_error("open /proc/thread-self/ns/net");
  if (::unshare(CLONE_NEWNET) != 0) return sys_error("unshare a network namespace");
  UniqueFd made(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  Status up = made ? loopback_up() : Status(sys_error("open the new network namespace"));
  if (::setns(own.get(), CLONE_NEWNET) != 0) return sys_error("return to the caller's network namespace");
  TRY(std::move(up));
  return made;
}

}  // namespace berth::runtime
