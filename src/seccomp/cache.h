// berth/seccomp (internal): the on-disk cache of compiled programs.
//
// Promises:
//  - A cache entry is keyed by everything that decides compile()'s output:
//    the profile JSON (nlohmann's objects keep keys sorted, so dump() is
//    canonical), the libseccomp runtime version, the kernel release and
//    machine (libseccomp probes the kernel's API level), the format version
//    and a hash of the compiler's own sources (set by CMake), so a rebuilt
//    berth never reuses an older berth's output. The key IS that material
//    (the profile included); the file is named by its 64-bit FNV-1a hash.
//  - decode() accepts only what encode() wrote for the same key: magic,
//    format, the whole key (so a hash collision is a miss, never another
//    profile's program), body length and checksum are all checked, and the
//    body is parsed with bounds checks. Anything else is a miss, never an
//    error: a corrupt cache must not stop a container.
//  - The directory is used only when it is a real directory owned by us with
//    no group/other access; files are opened O_NOFOLLOW and replaced by
//    rename (no fsync: the cache lives under /run and is only a cache).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "seccomp/seccomp.h"

namespace berth::seccomp {

// compile() without the cache (seccomp.cc).
Result<Program> compile_uncached(const nlohmann::json& seccomp);

namespace cache {

// The cache key (binary, contains the profile's canonical dump), or nullopt
// when the profile cannot be dumped canonically (invalid UTF-8 in a string)
// or is absurdly large: then nothing is cached.
std::optional<std::string> key(const nlohmann::json& seccomp);
// The entry's file name for a key: 16 lowercase hex digits.
std::string file_name(const std::string& key);
std::string encode(const Program& p, const std::string& key);
std::optional<Program> decode(std::string_view bytes, const std::string& key);

// The entry for key in dir, or nullopt on any miss (absent, unreadable,
// wrong owner, corrupt, written for another key).
std::optional<Program> load(const std::string& dir, const std::string& key);
// Best effort: failures leave the cache as it was (or without the entry).
void store(const std::string& dir, const std::string& key, const Program& p);

}  // namespace cache
}  // namespace berth::seccomp
