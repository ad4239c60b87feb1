#include "runtime/mount_opts.h"

#include <sys/mount.h>

#include <cstring>

namespace berth::runtime {

bool MountOpts::bind() const { return flags & MS_BIND; }

namespace {
struct Flag {
  const char* name;
  bool clear;
  unsigned long flag;
};
constexpr Flag kFlags[] = {
    {"async", true, MS_SYNCHRONOUS},  {"atime", true, MS_NOATIME},       {"bind", false, MS_BIND},
    {"defaults", false, 0},           {"dev", true, MS_NODEV},           {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},   {"exec", true, MS_NOEXEC},         {"iversion", false, MS_I_VERSION},
    {"lazytime", false, MS_LAZYTIME}, {"loud", true, MS_SILENT},         {"mand", false, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},   {"nodev", false, MS_NODEV},        {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},     {"noiversion", true, MS_I_VERSION}, {"nolazytime", true, MS_LAZYTIME},
    {"nomand", true, MS_MANDLOCK},    {"norelatime", true, MS_RELATIME}, {"nostrictatime", true, MS_STRICTATIME},
    {"nosuid", false, MS_NOSUID},     {"nosymfollow", false, MS_NOSYMFOLLOW},
    {"rbind", false, MS_BIND | MS_REC}, {"relatime", false, MS_RELATIME}, {"remount", false, MS_REMOUNT},
    {"ro", false, MS_RDONLY},         {"rw", true, MS_RDONLY},           {"silent", false, MS_SILENT},
    {"strictatime", false, MS_STRICTATIME}, {"suid", true, MS_NOSUID},   {"sync", false, MS_SYNCHRONOUS},
    {"symfollow", true, MS_NOSYMFOLLOW},
};
constexpr Flag kPropagation[] = {
    {"private", false, MS_PRIVATE},        {"rprivate", false, MS_PRIVATE | MS_REC},
    {"shared", false, MS_SHARED},          {"rshared", false, MS_SHARED | MS_REC},
    {"slave", false, MS_SLAVE},            {"rslave", false, MS_SLAVE | MS_REC},
    {"unbindable", false, MS_UNBINDABLE},  {"runbindable", false, MS_UNBINDABLE | MS_REC},
};
struct Attr {
  const char* name;
  bool clear;
  uint64_t attr;
};
constexpr Attr kAttrs[] = {
    {"rro", false, MOUNT_ATTR_RDONLY},         {"rrw", true, MOUNT_ATTR_RDONLY},
    {"rnosuid", false, MOUNT_ATTR_NOSUID},     {"rsuid", true, MOUNT_ATTR_NOSUID},
    {"rnodev", false, MOUNT_ATTR_NODEV},       {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC},     {"rexec", true, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", false, MOUNT_ATTR_NODIRATIME}, {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
    {"rnoatime", false, MOUNT_ATTR_NOATIME},   {"rrelatime", false, MOUNT_ATTR_RELATIME},
    {"rstrictatime", false, MOUNT_ATTR_STRICTATIME}, {"rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW},
    {"rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW},
};
}  // namespace

Result<MountOpts> parse_mount_options(const std::vector<std::string>& opts) {
  MountOpts m;
  for (const auto& o : opts) {
    bool found = false;
    for (const auto& f : kFlags)
      if (o == f.name) {
        if (f.clear) m.flags &= ~f.flag, m.clear |= f.flag;
        else m.flags |= f.flag, m.clear &= ~f.flag;
        found = true;
        break;
      }
    if (found) continue;
    for (const auto& f : kPropagation)
      if (o == f.name) {
        m.propagation = f.flag;
        found = true;
        break;
      }
    if (found) continue;
    for (const auto& a : kAttrs)
      if (o == a.name) {
        // atime modes are one field: setting one clears the others.
        if (a.attr & MOUNT_ATTR__ATIME) m.attr_clr |= MOUNT_ATTR__ATIME;
        if (a.clear) m.attr_clr |= a.attr, m.attr_set &= ~a.attr;
        else m.attr_set |= a.attr;
        found = true;
        break;
      }
    if (found) continue;
    if (o == "idmap" || o == "ridmap")
      return Error(Errc::unsupported, "mount option \"" + o + "\" is not supported");
    if (o == "tmpcopyup" || o == "copy-symlink" || o == "notmpcopyup") continue;  // crun extensions
    if (o.empty()) continue;
    if (o.find(',') != std::string::npos)
      return Error(Errc::invalid_input, "mount option \"" + o + "\" contains a comma");
    if (!m.data.empty()) m.data += ',';
    m.data += o;
  }
  return m;
}

}  // namespace berth::runtime
