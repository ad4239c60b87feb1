// berth/cgroup (internal): building runc's `events --stats` JSON ("data"
// object of types.Stats), including its omitempty rules, so tools written
// against runc read berth's output unchanged.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace berth::cgroup::stats {

using nlohmann::json;

// Sets obj[key] = v unless v is zero (Go's omitempty).
void put_nonzero(json& obj, const char* key, uint64_t v);

// types.MemoryEntry: limit and failcnt always, usage/max when non-zero.
json memory_entry(uint64_t limit, uint64_t usage, uint64_t max, uint64_t failcnt);

// An empty skeleton: {"cpu":{"usage":{"kernel":0,"user":0},"throttling":{}},
// "cpuset":{...},"memory":{...},"pids":{},"blkio":{},"hugetlb":{},"intel_rdt":{},
// "network_interfaces":null}, filled in by each manager.
json skeleton();

struct BlkioEntry {
  uint64_t major = 0, minor = 0;
  std::string op;
  uint64_t value = 0;
};
// v1 "8:0 Read 4096" lines; "Total N" lines are kept with major/minor 0.
std::vector<BlkioEntry> parse_v1_blkio(const std::string& text);
json blkio_list(const std::vector<BlkioEntry>& entries);
// v2 io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...") -> bytes and ios
// entries with op "Read"/"Write", as runc reports them.
void parse_v2_io_stat(const std::string& text, std::vector<BlkioEntry>& bytes, std::vector<BlkioEntry>& ios);

// "0-3,7" -> [0,1,2,3,7]; bounded, malformed parts skipped.
std::vector<uint16_t> parse_cpu_list(const std::string& text);

// Whitespace-separated numbers ("cpuacct.usage_percpu").
std::vector<uint64_t> parse_numbers(const std::string& text);

}  // namespace berth::cgroup::stats
