// berth/engine: users and groups as the container's rootfs defines them
// (`-u`, the image's USER, `--group-add`), with Docker's rules.
//
// Promises:
//  - rootfs/etc/passwd and rootfs/etc/group are opened as if the rootfs were
//    "/": symlinks are followed but never out of it (openat2 RESOLVE_IN_ROOT,
//    or layer's no-follow component walk where openat2 is missing), only
//    regular files are read (a FIFO cannot block us), at most kMaxDbFile
//    bytes. A missing file is "no entries", not an error.
//  - The files are hostile: malformed lines and lines longer than
//    kMaxDbLine are skipped, ids outside 0..2^31-1 are refused.
//  - Docker's semantics (moby/sys/user GetExecUser): a numeric uid not in
//    passwd is allowed (gid 0 unless given, home "/"); an unknown name is
//    `unable to find user app: no matching entries in passwd file`; without
//    an explicit group, the groups listing the user by name become the
//    additional gids; with one, there are none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::engine {

inline constexpr size_t kMaxDbFile = 8 << 20;
inline constexpr size_t kMaxDbLine = 64 << 10;

struct ResolvedUser {
  std::string name;  // empty for a numeric uid with no passwd entry
  uint32_t uid = 0, gid = 0;
  std::string home = "/";
  std::vector<uint32_t> additional_gids;
};

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0, gid = 0;
  std::string home;
};
struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

// Line parsers (pure; used by resolve_user and the fuzzer).
std::vector<PasswdEntry> parse_passwd(std::string_view text);
std::vector<GroupEntry> parse_group(std::string_view text);

// The user spec ("", "app", "1000", "app:staff", "1000:50", "1000:staff")
// against already-read files; nullopt = the file does not exist.
Result<ResolvedUser> resolve_user_in(std::string_view user_spec, const std::optional<std::string>& passwd,
                                     const std::optional<std::string>& group);
// The same, reading <rootfs>/etc/passwd and <rootfs>/etc/group.
Result<ResolvedUser> resolve_user(const std::string& rootfs, std::string_view user_spec);

// --group-add entries (names or numbers) -> gids, from <rootfs>/etc/group.
Result<std::vector<uint32_t>> resolve_groups(const std::string& rootfs, const std::vector<std::string>& groups);

// Reads <rootfs>/<rel> confined to the rootfs (see above); nullopt when
// it does not exist. Exposed for the engine's other small rootfs reads.
Result<std::optional<std::string>> read_rootfs_file(const std::string& rootfs, std::string_view rel,
                                                    size_t limit = kMaxDbFile);

}  // namespace berth::engine
