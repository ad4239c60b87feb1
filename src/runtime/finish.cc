// The container's filesystem after the createRuntime hooks: pivot_root, then
// the hardening that must see the final root (masked and read-only paths,
// sysctls, a read-only root).
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "base/fs.h"
#include "runtime/init.h"
#include "runtime/mount_opts.h"
#include "runtime/safe_path.h"
#include "runtime/sysctl.h"

namespace berth::runtime {

namespace {

Status do_pivot_root(const std::string& rootfs) {
  UniqueFd oldroot(::open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!oldroot) return sys_error("open /");
  UniqueFd newroot(::open(rootfs.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!newroot) return sys_error("open " + rootfs);
  if (::fchdir(newroot.get()) != 0) return sys_error("chdir " + rootfs);
  // pivot_root(".", ".") stacks the old root on top of the new one; it is
  // then detached without ever needing a put_old directory in the rootfs.
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return sys_error("pivot_root " + rootfs);
  if (::fchdir(oldroot.get()) != 0) return sys_error("chdir old root");
  if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) != 0) return sys_error("make old root slave");
  if (::umount2(".", MNT_DETACH) != 0) return sys_error("detach old root");
  if (::chdir("/") != 0) return sys_error("chdir /");
  return Status{};
}

Status do_move_root(const std::string& rootfs) {
  if (::chdir(rootfs.c_str()) != 0) return sys_error("chdir " + rootfs);
  if (::mount(rootfs.c_str(), "/", nullptr, MS_MOVE, nullptr) != 0) return sys_error("move rootfs to /");
  if (::chroot(".") != 0) return sys_error("chroot " + rootfs);
  if (::chdir("/") != 0) return sys_error("chdir /");
  return Status{};
}

Status mask_path(int rootfd, int null_fd, const std::string& path) {
  auto fd = open_in_root(rootfd, path, O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
  if (!fd) {
    if (fd.error().sys_errno == ENOENT) return Status{};
    return std::move(fd).error().wrap("maskedPaths");
  }
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return sys_error("stat " + path);
  if (S_ISDIR(st.st_mode)) {
    UniqueFd fs(::fsopen("tmpfs", FSOPEN_CLOEXEC));
    if (!fs) return sys_error("fsopen tmpfs for " + path);
    if (::fsconfig(fs.get(), FSCONFIG_SET_STRING, "size", "0", 0) != 0 ||
        ::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
      return sys_error("create tmpfs for " + path);
    UniqueFd mnt(::fsmount(fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                                          MOUNT_ATTR_NOEXEC));
    if (!mnt) return sys_error("fsmount tmpfs for " + path);
    return move_tree_to(mnt.get(), fd->get(), "masked " + path);
  }
  return bind_fd_onto(null_fd, fd->get(), false, 0, "masked " + path);
}

Status readonly_path(int rootfd, const std::string& path) {
  auto fd = open_in_root(rootfd, path, O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
  if (!fd) {
    if (fd.error().sys_errno == ENOENT) return Status{};
    return std::move(fd).error().wrap("readonlyPaths");
  }
  return bind_fd_onto(fd->get(), fd->get(), true, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                      "read-only " + path);
}

}  // namespace

Status finish_rootfs(const InitConfig& cfg) {
  const Spec& s = *cfg.spec;
  TRY(cfg.no_pivot ? do_move_root(cfg.rootfs) : do_pivot_root(cfg.rootfs));
  if (!s.linux.rootfs_propagation.empty()) {
    TRY_ASSIGN(auto o, parse_mount_options({s.linux.rootfs_propagation}));
    if (::mount(nullptr, "/", nullptr, o.propagation, nullptr) != 0) return sys_error("set rootfs propagation");
  }
  UniqueFd rootfd(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) return sys_error("open new root");
  TRY(apply_sysctls(s.linux.sysctl));
  for (const auto& p : s.linux.readonly_paths) TRY(readonly_path(rootfd.get(), p));
  if (!s.linux.masked_paths.empty()) {
    // CVE-2025-31133: the container could have replaced /dev/null with a
    // symlink or another node to turn masking into a bind of its choice. Use
    // it only through an fd proven to be the 1:3 character device.
    auto null_fd = open_in_root(rootfd.get(), "/dev/null", O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
    if (!null_fd) return std::move(null_fd).error().wrap("maskedPaths");
    struct stat st;
    if (::fstat(null_fd->get(), &st) != 0) return sys_error("stat /dev/null");
    if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3)
      return Error(Errc::permission, "maskedPaths: /dev/null in the container is not the null device");
    for (const auto& p : s.linux.masked_paths) TRY(mask_path(rootfd.get(), null_fd->get(), p));
  }
  if (s.root_readonly) {
    struct mount_attr attr = {};
    attr.attr_set = MOUNT_ATTR_RDONLY;
    if (::mount_setattr(rootfd.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0)
      return sys_error("remount root read-only");
  }
  return Status{};
}

}  // namespace berth::runtime
