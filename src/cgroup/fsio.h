// berth/cgroup (internal): reading and writing cgroup control files, with
// errors that name the file and value. Not part of the public interface.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"

namespace berth::cgroup::fsio {

// One write(2) of `value` (the kernel parses each write as one command).
Status write(const std::string& dir, const std::string& file, const std::string& value);
Result<std::string> read(const std::string& dir, const std::string& file);
// First line trimmed; "max" -> nullopt.
Result<std::optional<uint64_t>> read_u64(const std::string& dir, const std::string& file);
// "key value" lines (memory.stat, cpu.stat, cgroup.events).
Result<std::map<std::string, uint64_t>> read_kv(const std::string& dir, const std::string& file);
bool exists(const std::string& dir, const std::string& file);

// Creates the missing directories of `dir` below `root`, returning the ones
// it created (outermost first). `root` itself must exist.
Result<std::vector<std::string>> mkdirs(const std::string& root, const std::string& dir);

// rmdir, retrying briefly on EBUSY (the kernel frees a cgroup a moment after
// its last task exits). ENOENT is success.
Status rmdir_retry(const std::string& dir);

// rmdir of dir and every cgroup below it, children first (nested cgroups
// made inside the container go too). A missing dir is success.
Status remove_tree(const std::string& dir);

// Every pid in dir/cgroup.procs and in all descendant cgroups.
Status collect_pids(const std::string& dir, std::vector<pid_t>& out, int depth = 0);

// Child cgroup directories of dir (names only).
Result<std::vector<std::string>> children(const std::string& dir);

}  // namespace berth::cgroup::fsio
