#include "cgroup/stats.h"

#include <cstdlib>
#include <sstream>

namespace berth::cgroup::stats {

void put_nonzero(json& obj, const char* key, uint64_t v) {
  if (v != 0) obj[key] = v;
}

json memory_entry(uint64_t limit, uint64_t usage, uint64_t max, uint64_t failcnt) {
  json e{{"limit", limit}, {"failcnt", failcnt}};
  put_nonzero(e, "usage", usage);
  put_nonzero(e, "max", max);
  return e;
}

json skeleton() {
  json cpuset{{"cpu_exclusive", 0},       {"mem_hardwall", 0},       {"mem_exclusive", 0},
              {"memory_migrate", 0},      {"memory_spread_page", 0}, {"memory_spread_slab", 0},
              {"memory_pressure", 0},     {"sched_load_balance", 0}, {"sched_relax_domain_level", 0}};
  json memory{{"usage", memory_entry(0, 0, 0, 0)},
              {"swap", memory_entry(0, 0, 0, 0)},
              {"kernel", memory_entry(0, 0, 0, 0)},
              {"kernelTCP", memory_entry(0, 0, 0, 0)},
              {"event_count", {{"oom", 0}, {"oom_kill", 0}}}};
  return json{{"cpu", {{"usage", {{"kernel", 0}, {"user", 0}}}, {"throttling", json::object()}}},
              {"cpuset", cpuset},
              {"memory", memory},
              {"pids", json::object()},
              {"blkio", json::object()},
              {"hugetlb", json::object()},
              {"intel_rdt", json::object()},
              {"network_interfaces", nullptr}};
}

std::vector<BlkioEntry> parse_v1_blkio(const std::string& text) {
  std::vector<BlkioEntry> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line) && out.size() < 4096) {
    std::istringstream ls(line);
    std::string a, b, c;
    ls >> a >> b >> c;
    BlkioEntry e;
    if (c.empty()) {
      // "Total 123"
      if (a.empty() || b.empty()) continue;
      e.op = a;
      e.value = std::strtoull(b.c_str(), nullptr, 10);
    } else {
      size_t colon = a.find(':');
      if (colon == std::string::npos) continue;
      e.major = std::strtoull(a.substr(0, colon).c_str(), nullptr, 10);
      e.minor = std::strtoull(a.substr(colon + 1).c_str(), nullptr, 10);
      e.op = b;
      e.value = std::strtoull(c.c_str(), nullptr, 10);
    }
    out.push_back(std::move(e));
  }
  return out;
}

json blkio_list(const std::vector<BlkioEntry>& entries) {
  json arr = json::array();
  for (const auto& e : entries) {
    json j = json::object();
    put_nonzero(j, "major", e.major);
    put_nonzero(j, "minor", e.minor);
    if (!e.op.empty()) j["op"] = e.op;
    put_nonzero(j, "value", e.value);
    arr.push_back(std::move(j));
  }
  return arr;
}

void parse_v2_io_stat(const std::string& text, std::vector<BlkioEntry>& bytes, std::vector<BlkioEntry>& ios) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line) && bytes.size() < 4096) {
    std::istringstream ls(line);
    std::string dev, kv;
    if (!(ls >> dev)) continue;
    size_t colon = dev.find(':');
    if (colon == std::string::npos) continue;
    uint64_t maj = std::strtoull(dev.substr(0, colon).c_str(), nullptr, 10);
    uint64_t min = std::strtoull(dev.substr(colon + 1).c_str(), nullptr, 10);
    while (ls >> kv) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos) continue;
      std::string k = kv.substr(0, eq);
      uint64_t v = std::strtoull(kv.substr(eq + 1).c_str(), nullptr, 10);
      if (k == "rbytes") bytes.push_back({maj, min, "Read", v});
      if (k == "wbytes") bytes.push_back({maj, min, "Write", v});
      if (k == "rios") ios.push_back({maj, min, "Read", v});
      if (k == "wios") ios.push_back({maj, min, "Write", v});
    }
  }
}

std::vector<uint16_t> parse_cpu_list(const std::string& text) {
  std::vector<uint16_t> out;
  std::istringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    while (!part.empty() && (part.back() == '\n' || part.back() == ' ')) part.pop_back();
    if (part.empty()) continue;
    char* end = nullptr;
    unsigned long lo = std::strtoul(part.c_str(), &end, 10), hi = lo;
    if (end && *end == '-') hi = std::strtoul(end + 1, nullptr, 10);
    if (hi < lo || hi > 65535) continue;
    for (unsigned long i = lo; i <= hi && out.size() < 65536; ++i) out.push_back(static_cast<uint16_t>(i));
  }
  return out;
}

std::vector<uint64_t> parse_numbers(const std::string& text) {
  std::vector<uint64_t> out;
  std::istringstream in(text);
  std::string tok;
  while (in >> tok && out.size() < 65536) out.push_back(std::strtoull(tok.c_str(), nullptr, 10));
  return out;
}

}  // namespace berth::cgroup::stats
