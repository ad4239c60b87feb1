// Building the container's filesystem view, in the child, before pivot_root.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/magic.h>
#include <linux/openat2.h>

#include "base/fs.h"
#include "runtime/init.h"
#include "runtime/mount_opts.h"
#include "runtime/safe_path.h"

namespace berth::runtime {

namespace {

bool has_ns(const InitConfig& cfg, NsType t) { return cfg.spec->linux.ns(t) != nullptr; }

uint64_t attrs_from_flags(unsigned long f) {
  uint64_t a = 0;
  if (f & MS_RDONLY) a |= MOUNT_ATTR_RDONLY;
  if (f & MS_NOSUID) a |= MOUNT_ATTR_NOSUID;
  if (f & MS_NODEV) a |= MOUNT_ATTR_NODEV;
  if (f & MS_NOEXEC) a |= MOUNT_ATTR_NOEXEC;
  if (f & MS_NOATIME) a |= MOUNT_ATTR_NOATIME;
  if (f & MS_STRICTATIME) a |= MOUNT_ATTR_STRICTATIME;
  if (f & MS_NODIRATIME) a |= MOUNT_ATTR_NODIRATIME;
  if (f & MS_NOSYMFOLLOW) a |= MOUNT_ATTR_NOSYMFOLLOW;
  return a;
}

Status set_attrs(int fd, uint64_t set, uint64_t clr, bool recursive, unsigned long propagation, const std::string& what) {
  if (!set && !clr && !propagation) return Status{};
  struct mount_attr attr = {};
  attr.attr_set = set;
  attr.attr_clr = clr;
  if (set & MOUNT_ATTR__ATIME) attr.attr_clr |= MOUNT_ATTR__ATIME;
  attr.propagation = propagation & ~MS_REC;
  unsigned flags = AT_EMPTY_PATH;
  if (recursive || (propagation & MS_REC)) flags |= AT_RECURSIVE;
  if (::mount_setattr(fd, "", flags, &attr, sizeof attr) != 0) return sys_error("set mount attributes on " + what);
  return Status{};
}

// /proc and /sys must be real directories and, once mounted, really procfs
// and sysfs (CVE-2023-28642: a symlinked /proc would let the container
// redirect the mount and escape maskedPaths).
Status verify_fs_magic(int rootfd, const std::string& dest, long magic, const char* name) {
  TRY_ASSIGN(auto fd, open_in_root(rootfd, dest, O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS));
  struct statfs sf;
  if (::fstatfs(fd.get(), &sf) != 0) return sys_error("statfs " + dest);
  if (static_cast<long>(sf.f_type) != magic)
    return Error(Errc::permission, "mount " + dest + ": not a " + name + " after mounting");
  return Status{};
}

std::string bind_source(const InitConfig& cfg, const std::string& src) {
  if (src.empty() || src[0] == '/') return src;
  return path_join(cfg.bundle, src);
}

Status mount_cgroup(const InitConfig& cfg, int rootfd, const Mount& m, const MountOpts& o) {
  TRY_ASSIGN(auto dest, mkpath_in_root(rootfd, m.destination, false, RESOLVE_NO_SYMLINKS));
  unsigned long base = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (cfg.spec->linux.ns(NsType::cgroup) && path_exists("/sys/fs/cgroup/cgroup.controllers")) {
    // Pure v2 host and our own cgroup namespace: a real, namespaced cgroup2.
    if (::mount("cgroup2", fd_path(dest.get()).c_str(), "cgroup2", (o.flags & ~(MS_BIND | MS_REC)) | base, nullptr) != 0)
      return sys_error("mount cgroup2 on " + m.destination);
    return Status{};
  }
  if (cfg.cgroup_mounts.size() == 1 && cfg.cgroup_mounts[0].first.empty()) {
    // A v2 host without our own cgroup namespace: the container's cgroup dir.
    UniqueFd src(::open(cfg.cgroup_mounts[0].second.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!src) return sys_error("open cgroup " + cfg.cgroup_mounts[0].second);
    return bind_fd_onto(src.get(), dest.get(), false, attrs_from_flags(o.flags | base), m.destination);
  }
  if (::mount("tmpfs", fd_path(dest.get()).c_str(), "tmpfs", base, "mode=755") != 0)
    return sys_error("mount tmpfs on " + m.destination);
  // One bind per v1 hierarchy (ten on this kind of host) into the tmpfs just
  // made: nothing else can reach it yet, so its entries are made and opened
  // directly, and the attributes go on the whole tree at the end in one call
  // (no container process exists before that).
  TRY_ASSIGN(auto dir, open_in_root(rootfd, m.destination, O_DIRECTORY | O_RDONLY, RESOLVE_NO_SYMLINKS));
  for (const auto& [ctrl, hostdir] : cfg.cgroup_mounts) {
    std::string name = ctrl;
    if (name.rfind("name=", 0) == 0) name = name.substr(5);
    std::string sub = m.destination + "/" + name;
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
      return Error(Errc::invalid_input, "cgroup hierarchy name \"" + name + "\" for " + m.destination);
    if (::mkdirat(dir.get(), name.c_str(), 0755) != 0 && errno != EEXIST) return sys_error("mkdir " + sub);
    UniqueFd target(::openat(dir.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!target) return sys_error("open " + sub);
    UniqueFd src(::open(hostdir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!src) return sys_error("open cgroup " + hostdir);
    TRY(bind_fd_onto(src.get(), target.get(), false, 0, sub));
    if (name.find(',') == std::string::npos) continue;
    // "cpu,cpuacct": each controller's own name links to the joint hierarchy.
    for (size_t i = 0; i < name.size();) {
      size_t j = name.find(',', i);
      if (j == std::string::npos) j = name.size();
      std::string part = name.substr(i, j - i);
      if (::symlinkat(name.c_str(), dir.get(), part.c_str()) != 0 && errno != EEXIST)
        return sys_error("symlink " + m.destination + "/" + part);
      i = j + 1;
    }
  }
  TRY_ASSIGN(auto top, open_in_root(rootfd, m.destination, O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS));
  return set_attrs(top.get(), attrs_from_flags(o.flags | base), 0, true, 0, m.destination);
}

Status mount_one(const InitConfig& cfg, int rootfd, const Mount& m) {
  TRY_ASSIGN(auto o, parse_mount_options(m.options));
  if (m.type == "bind") o.flags |= MS_BIND;
  if (m.type == "cgroup" && !o.bind()) return mount_cgroup(cfg, rootfd, m, o);
  bool special = m.type == "proc" || m.type == "sysfs";
  uint64_t resolve = special ? RESOLVE_NO_SYMLINKS : 0;
  std::string what = m.destination;

  if (o.bind()) {
    std::string src = bind_source(cfg, m.source);
    UniqueFd sfd(::open(src.c_str(), O_PATH | O_CLOEXEC));
    if (!sfd) return sys_error("bind mount source " + src);
    struct stat st;
    if (::fstat(sfd.get(), &st) != 0) return sys_error("stat " + src);
    TRY_ASSIGN(auto dest, mkpath_in_root(rootfd, m.destination, !S_ISDIR(st.st_mode), resolve));
    bool rec = o.flags & MS_REC;
    unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0);
    UniqueFd tree(::open_tree(sfd.get(), "", flags));
    if (!tree) return sys_error("bind mount " + src + " on " + what);
    // Plain flags ("ro", "nosuid") apply to the top mount like runc's remount;
    // "rro"-style attributes and propagation apply to the whole tree.
    if (!set_attrs(tree.get(), attrs_from_flags(o.flags), attrs_from_flags(o.clear), false, 0, what).ok())
      // Flags locked by a user namespace cannot be cleared; keep them.
      TRY(set_attrs(tree.get(), attrs_from_flags(o.flags), 0, false, 0, what));
    TRY(set_attrs(tree.get(), o.attr_set, o.attr_clr, true, 0, what));
    TRY(move_tree_to(tree.get(), dest.get(), what));
    if (o.propagation) {
      TRY_ASSIGN(auto top, open_in_root(rootfd, m.destination, O_PATH, resolve));
      if (::mount(nullptr, fd_path(top.get()).c_str(), nullptr, o.propagation, nullptr) != 0)
        return sys_error("set propagation of " + what);
    }
    return Status{};
  }

  TRY_ASSIGN(auto dest, mkpath_in_root(rootfd, m.destination, false, resolve));
  struct stat st;
  if (::fstat(dest.get(), &st) != 0) return sys_error("stat " + what);
  if (special && !S_ISDIR(st.st_mode))
    return Error(Errc::permission, "mount " + what + ": destination is not a directory");
  unsigned long flags = o.flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
  const char* data = o.data.empty() ? nullptr : o.data.c_str();
  std::string target = fd_path(dest.get());
  if (::mount(m.source.empty() ? m.type.c_str() : m.source.c_str(), target.c_str(), m.type.c_str(), flags, data) != 0) {
    int err = errno;
    // Without their own network/ipc namespace sysfs and mqueue cannot be
    // mounted fresh from a user namespace; bind the host's, as runc does.
    if ((err == EPERM || err == EBUSY) && cfg.userns && (m.type == "sysfs" || m.type == "mqueue")) {
      UniqueFd host(::open(m.type == "sysfs" ? "/sys" : "/dev/mqueue", O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!host) return sys_error("open host " + m.type);
      TRY(bind_fd_onto(host.get(), dest.get(), true, attrs_from_flags(flags) | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, what));
    } else {
      return sys_error("mount " + m.type + " on " + what, err);
    }
  }
  if (m.type == "proc") TRY(verify_fs_magic(rootfd, m.destination, PROC_SUPER_MAGIC, "procfs"));
  if (m.type == "sysfs") TRY(verify_fs_magic(rootfd, m.destination, SYSFS_MAGIC, "sysfs"));
  if (o.attr_set || o.attr_clr || o.propagation) {
    TRY_ASSIGN(auto top, open_in_root(rootfd, m.destination, O_PATH, resolve));
    TRY(set_attrs(top.get(), o.attr_set, o.attr_clr, true, 0, what));
    if (o.propagation && ::mount(nullptr, fd_path(top.get()).c_str(), nullptr, o.propagation, nullptr) != 0)
      return sys_error("set propagation of " + what);
  }
  return Status{};
}

struct DevSpec {
  const char* path;
  unsigned major, minor;
};
constexpr DevSpec kDefaultDevices[] = {{"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
                                       {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};

Status make_device(const InitConfig& cfg, int rootfd, const Device& d) {
  std::string parent = dirname_of(d.path);
  std::string name = d.path.substr(d.path.find_last_of('/') + 1);
  if (name.empty() || name == "." || name == "..") return Error(Errc::invalid_input, "device path " + d.path);
  TRY_ASSIGN(auto pfd, mkpath_in_root(rootfd, parent, false));
  TRY_ASSIGN(auto dir, open_in_root(rootfd, parent, O_DIRECTORY | O_RDONLY));
  if (cfg.userns) {
    // mknod is not allowed in a user namespace: bind the host's node.
    UniqueFd host(::open(d.path.c_str(), O_PATH | O_CLOEXEC | O_NOFOLLOW));
    if (!host) return sys_error("open host device " + d.path);
    struct stat st;
    if (::fstat(host.get(), &st) != 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
      return Error(Errc::invalid_input, "host " + d.path + " is not a device");
    int fd = ::openat(dir.get(), name.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return sys_error("create " + d.path);
    ::close(fd);
    TRY_ASSIGN(auto target, open_in_root(rootfd, d.path, O_PATH, RESOLVE_NO_SYMLINKS));
    return bind_fd_onto(host.get(), target.get(), false, 0, d.path);
  }
  mode_t type = d.type == 'b' ? S_IFBLK : d.type == 'p' ? S_IFIFO : S_IFCHR;
  mode_t mode = d.file_mode ? (*d.file_mode & 07777) : 0666;
  ::unlinkat(dir.get(), name.c_str(), 0);
  if (::mknodat(dir.get(), name.c_str(), type | mode, makedev(d.major, d.minor)) != 0)
    return sys_error("mknod " + d.path);
  // mknod honours the umask; the spec's fileMode must be exact.
  if (::fchmodat(dir.get(), name.c_str(), mode, AT_SYMLINK_NOFOLLOW) != 0 && errno != EOPNOTSUPP)
    if (::fchmodat(dir.get(), name.c_str(), mode, 0) != 0) return sys_error("chmod " + d.path);
  if (::fchownat(dir.get(), name.c_str(), d.uid.value_or(0), d.gid.value_or(0), AT_SYMLINK_NOFOLLOW) != 0)
    return sys_error("chown " + d.path);
  return Status{};
}

Status setup_dev(const InitConfig& cfg, int rootfd, bool dev_is_tmpfs) {
  if (dev_is_tmpfs) {
    for (const auto& def : kDefaultDevices) {
      bool overridden = false;
      for (const auto& d : cfg.spec->linux.devices) overridden |= d.path == def.path;
      if (overridden) continue;
      Device d;
      d.path = def.path;
      d.major = def.major;
      d.minor = def.minor;
      TRY(make_device(cfg, rootfd, d));
    }
  }
  for (const auto& d : cfg.spec->linux.devices) TRY(make_device(cfg, rootfd, d));
  if (!dev_is_tmpfs) return Status{};
  TRY_ASSIGN(auto dev, open_in_root(rootfd, "/dev", O_DIRECTORY | O_RDONLY));
  const std::pair<const char*, const char*> links[] = {{"/proc/self/fd", "fd"},
                                                        {"/proc/self/fd/0", "stdin"},
                                                        {"/proc/self/fd/1", "stdout"},
                                                        {"/proc/self/fd/2", "stderr"},
                                                        {"pts/ptmx", "ptmx"}};
  for (const auto& [target, name] : links)
    if (::symlinkat(target, dev.get(), name) != 0 && errno != EEXIST) return sys_error(std::string("symlink /dev/") + name);
  if (path_exists("/proc/kcore") && ::symlinkat("/proc/kcore", dev.get(), "core") != 0 && errno != EEXIST)
    return sys_error("symlink /dev/core");
  return Status{};
}

// pivot_root refuses a new root whose parent mount is shared, so with
// rootfsPropagation=(r)shared the mount holding the rootfs is made private
// (only in our mount namespace), as runc does.
Status make_parent_mount_private(const std::string& rootfs) {
  TRY_ASSIGN(std::string info, read_file("/proc/self/mountinfo", 8u << 20));
  std::string best = "/";
  size_t i = 0;
  while (i < info.size()) {
    size_t j = info.find('\n', i);
    if (j == std::string::npos) j = info.size();
    std::string line = info.substr(i, j - i);
    i = j + 1;
    // id parent maj:min root mountpoint ...
    size_t f = 0;
    for (int k = 0; k < 4 && f != std::string::npos; ++k) f = line.find(' ', f + 1);
    if (f == std::string::npos) continue;
    size_t e = line.find(' ', f + 1);
    std::string mp = line.substr(f + 1, e - f - 1);
    bool under = mp == "/" || rootfs == mp || (rootfs.rfind(mp, 0) == 0 && rootfs[mp.size()] == '/');
    if (under && mp.size() > best.size()) best = mp;
  }
  if (::mount(nullptr, best.c_str(), nullptr, MS_PRIVATE, nullptr) != 0)
    return sys_error("make " + best + " private");
  return Status{};
}

}  // namespace

Status prepare_rootfs(const InitConfig& cfg) {
  const Linux& l = cfg.spec->linux;
  if (!has_ns(cfg, NsType::mount)) return Error(Errc::unsupported, "a mount namespace is required");
  unsigned long prop = MS_SLAVE | MS_REC;
  if (!l.rootfs_propagation.empty()) {
    TRY_ASSIGN(auto o, parse_mount_options({l.rootfs_propagation}));
    prop = o.propagation;
  }
  if (::mount(nullptr, "/", nullptr, prop, nullptr) != 0) return sys_error("set propagation of /");
  if (prop & MS_SHARED) TRY(make_parent_mount_private(cfg.rootfs));
  if (::mount(cfg.rootfs.c_str(), cfg.rootfs.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return sys_error("bind mount rootfs " + cfg.rootfs);
  // pivot_root refuses a shared new root; the container's own propagation is
  // applied to "/" again after the pivot.
  if (::mount(nullptr, cfg.rootfs.c_str(), nullptr, MS_PRIVATE, nullptr) != 0)
    return sys_error("make rootfs private");
  UniqueFd rootfd(::open(cfg.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) return sys_error("open rootfs " + cfg.rootfs);
  bool dev_tmpfs = false;
  for (const auto& m : cfg.spec->mounts) {
    auto st = mount_one(cfg, rootfd.get(), m);
    if (!st.ok()) return std::move(st).error();
    if (m.destination == "/dev") {
      auto o = parse_mount_options(m.options);
      dev_tmpfs = m.type != "bind" && o.ok() && !o->bind();
    }
  }
  return setup_dev(cfg, rootfd.get(), dev_tmpfs);
}

}  // namespace berth::runtime
