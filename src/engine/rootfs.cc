#include "engine/rootfs.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/userns.h"
#include "snapshot/snapshot.h"

namespace berth::engine {

Result<std::vector<std::string>> prepare_lowers(Store& store, const image::ResolvedImage& img) {
  const auto& layers = img.manifest.layers;
  const auto& diffs = img.config.diff_ids;
  if (layers.size() != diffs.size())
    return Error(Errc::invalid_input, "image " + img.manifest_descriptor.digest.str() + ": " +
                                          std::to_string(layers.size()) + " layers but " + std::to_string(diffs.size()) +
                                          " diff_ids");
  if (layers.empty()) return Error(Errc::unsupported, "image has no layers: nothing to run");
  std::vector<snapshot::Layer> sl;
  for (size_t i = 0; i < layers.size(); i++) sl.push_back({layers[i].digest, diffs[i]});
  TRY_ASSIGN(auto snaps, snapshot::Snapshotter::open(store.root()));
  return snaps.prepare(sl, snapshot::blobs_of(store.content()));
}

bool is_mounted(const std::string& dir) {
  struct statfs fs;
  if (::statfs(dir.c_str(), &fs) != 0) return false;
  if (static_cast<unsigned long>(fs.f_type) != OVERLAYFS_SUPER_MAGIC) return false;
  // The parent is not an overlay (the store may itself live on one): compare devices.
  struct stat a, b;
  if (::stat(dir.c_str(), &a) != 0 || ::stat(dirname_of(dir).c_str(), &b) != 0) return false;
  return a.st_dev != b.st_dev;
}

Status mount_rootfs(const std::vector<std::string>& lowers, const std::string& upper, const std::string& work,
                    const std::string& merged, bool transient) {
  if (is_mounted(merged)) return Status{};
  TRY(mkdir_p(merged, 0755));
  std::string opts = "lowerdir=";
  for (size_t i = 0; i < lowers.size(); i++) opts += (i ? ":" : "") + lowers[i];
  if (!upper.empty()) {
    TRY(mkdir_p(upper, 0755));
    TRY(mkdir_p(work, 0700));
    opts += ",upperdir=" + upper + ",workdir=" + work;
    if (transient) {
      std::string v = opts + ",volatile" + (in_user_namespace() ? ",userxattr" : "") + ",index=off";
      if (v.size() < 4096 && ::mount("overlay", merged.c_str(), "overlay", 0, v.c_str()) == 0) return Status{};
      // Kernels before 5.10 have no volatile: a normal mount below.
    }
  }
  // In a user namespace overlayfs keeps its metadata in user.overlay.* (the
  // snapshots' opaque dirs are written that way, docs/engine-rootless.md).
  if (in_user_namespace()) opts += ",userxattr";
  // index=off: a copied-up file must not pin a lower inode (layers are shared
  // by many containers); the mount data is limited to one page.
  std::string with_index = opts + ",index=off";
  if (with_index.size() >= 4096)
    return Error(Errc::limit, "overlay mount options for " + merged + " exceed a page (" +
                                  std::to_string(lowers.size()) + " layers)");
  if (::mount("overlay", merged.c_str(), "overlay", 0, with_index.c_str()) == 0) return Status{};
  if (errno == EINVAL && ::mount("overlay", merged.c_str(), "overlay", 0, opts.c_str()) == 0) return Status{};
  return sys_error("mount overlay at " + merged);
}

Status unmount_rootfs(const std::string& merged) {
  for (int i = 0; i < 8 && is_mounted(merged); i++) {
    if (::umount2(merged.c_str(), 0) == 0) continue;
    if (errno == EBUSY && ::umount2(merged.c_str(), MNT_DETACH) == 0) continue;
    if (errno == EINVAL || errno == ENOENT) break;
    return sys_error("unmount " + merged);
  }
  return Status{};
}

}  // namespace berth::engine
