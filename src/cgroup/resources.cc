#include "cgroup/resources.h"

namespace berth::cgroup {
namespace {

using nlohmann::json;

constexpr size_t kMaxEntries = 1024;  // devices, blkio devices, hugepages, unified keys

Error bad(const std::string& where, const std::string& why) {
  return Error(Errc::invalid_input, "cgroup: " + where + ": " + why);
}

const json* member(const json& obj, const char* key) {
  auto it = obj.find(key);
  return (it == obj.end() || it->is_null()) ? nullptr : &*it;
}

Result<std::optional<int64_t>> get_i64(const json& obj, const char* key, const std::string& where) {
  const json* v = member(obj, key);
  if (!v) return std::optional<int64_t>();
  if (v->is_number_unsigned()) {
    if (v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) return bad(where + "." + key, "out of range");
    return std::optional<int64_t>(static_cast<int64_t>(v->get<uint64_t>()));
  }
  if (!v->is_number_integer()) return bad(where + "." + key, "expected an integer");
  return std::optional<int64_t>(v->get<int64_t>());
}

Result<std::optional<uint64_t>> get_u64(const json& obj, const char* key, const std::string& where,
                                        uint64_t max = UINT64_MAX) {
  const json* v = member(obj, key);
  if (!v) return std::optional<uint64_t>();
  // Parsed text yields unsigned numbers, but JSON built in code (the engine)
  // holds small literals as signed; accept either when non-negative.
  if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0))
    return bad(where + "." + key, "expected a non-negative integer");
  if (v->get<uint64_t>() > max) return bad(where + "." + key, std::to_string(v->get<uint64_t>()) + " is out of range");
  return std::optional<uint64_t>(v->get<uint64_t>());
}

Result<std::optional<bool>> get_bool(const json& obj, const char* key, const std::string& where) {
  const json* v = member(obj, key);
  if (!v) return std::optional<bool>();
  if (!v->is_boolean()) return bad(where + "." + key, "expected a boolean");
  return std::optional<bool>(v->get<bool>());
}

// cpuset lists ("0-3,7") and other cgroup values go straight into a cgroup
// file; refuse anything that could smuggle a second line or token.
Result<std::string> get_token(const json& obj, const char* key, const std::string& where, bool allow_space = false) {
  const json* v = member(obj, key);
  if (!v) return std::string();
  if (!v->is_string()) return bad(where + "." + key, "expected a string");
  const std::string& s = v->get_ref<const std::string&>();
  if (s.size() > 4096) return bad(where + "." + key, "longer than 4096 bytes");
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || (!allow_space && c == ' '))
      return bad(where + "." + key, "contains whitespace or a control character");
  return s;
}

Result<const json*> object_or_null(const json& obj, const char* key, const std::string& where) {
  const json* v = member(obj, key);
  if (v && !v->is_object()) return bad(where + "." + key, "expected an object");
  return v;
}

Result<const json*> array_or_null(const json& obj, const char* key, const std::string& where) {
  const json* v = member(obj, key);
  if (v && !v->is_array()) return bad(where + "." + key, "expected an array");
  if (v && v->size() > kMaxEntries) return bad(where + "." + key, "more than 1024 entries");
  return v;
}

Status parse_devices(const json& arr, const std::string& where, std::vector<DeviceRule>& out) {
  for (size_t i = 0; i < arr.size(); ++i) {
    std::string w = where + "[" + std::to_string(i) + "]";
    const json& d = arr[i];
    if (!d.is_object()) return bad(w, "expected an object");
    DeviceRule r;
    TRY_ASSIGN(auto allow, get_bool(d, "allow", w));
    if (!allow) return bad(w + ".allow", "required");
    r.allow = *allow;
    TRY_ASSIGN(std::string type, get_token(d, "type", w));
    if (type.empty()) {
      r.type = 'a';
    } else if (type.size() == 1 && (type[0] == 'a' || type[0] == 'c' || type[0] == 'b')) {
      r.type = type[0];
    } else {
      return bad(w + ".type", "\"" + type + "\" is not one of a, c, b");
    }
    TRY_ASSIGN(auto major, get_i64(d, "major", w));
    TRY_ASSIGN(auto minor, get_i64(d, "minor", w));
    if (major && (*major < -1 || *major > 0xfffff)) return bad(w + ".major", "out of range");
    if (minor && (*minor < -1 || *minor > 0xfffff)) return bad(w + ".minor", "out of range");
    r.major = major.value_or(-1);
    r.minor = minor.value_or(-1);
    TRY_ASSIGN(std::string access, get_token(d, "access", w));
    if (access.empty()) access = "rwm";
    for (char c : access)
      if (c != 'r' && c != 'w' && c != 'm') return bad(w + ".access", "\"" + access + "\" is not a subset of rwm");
    r.access = access;
    out.push_back(std::move(r));
  }
  return Status{};
}

Status parse_blkio_devices(const json& arr, const std::string& where, bool weights, std::vector<BlkioDevice>& out) {
  for (size_t i = 0; i < arr.size(); ++i) {
    std::string w = where + "[" + std::to_string(i) + "]";
    const json& d = arr[i];
    if (!d.is_object()) return bad(w, "expected an object");
    BlkioDevice b;
    TRY_ASSIGN(auto major, get_u64(d, "major", w, 0xfffff));
    TRY_ASSIGN(auto minor, get_u64(d, "minor", w, 0xfffff));
    if (!major || !minor) return bad(w, "major and minor are required");
    b.major = static_cast<int64_t>(*major);
    b.minor = static_cast<int64_t>(*minor);
    if (weights) {
      TRY_ASSIGN(auto wt, get_u64(d, "weight", w, 0xffff));
      TRY_ASSIGN(auto lw, get_u64(d, "leafWeight", w, 0xffff));
      if (wt) b.weight = static_cast<uint16_t>(*wt);
      if (lw) b.leaf_weight = static_cast<uint16_t>(*lw);
    } else {
      TRY_ASSIGN(auto rate, get_u64(d, "rate", w));
      if (!rate) return bad(w + ".rate", "required");
      b.rate = *rate;
    }
    out.push_back(b);
  }
  return Status{};
}

Status parse_memory(const json& m, Resources& r) {
  const std::string w = "linux.resources.memory";
  TRY_ASSIGN(r.memory_limit, get_i64(m, "limit", w));
  TRY_ASSIGN(r.memory_reservation, get_i64(m, "reservation", w));
  TRY_ASSIGN(r.memory_swap, get_i64(m, "swap", w));
  TRY_ASSIGN(r.memory_kernel, get_i64(m, "kernel", w));
  TRY_ASSIGN(r.memory_kernel_tcp, get_i64(m, "kernelTCP", w));
  TRY_ASSIGN(r.memory_swappiness, get_u64(m, "swappiness", w));
  TRY_ASSIGN(r.disable_oom_killer, get_bool(m, "disableOOMKiller", w));
  TRY_ASSIGN(r.use_hierarchy, get_bool(m, "useHierarchy", w));
  for (auto* v : {&r.memory_limit, &r.memory_reservation, &r.memory_swap})
    if (*v && **v < -1) return bad(w, "negative limits other than -1 are invalid");
  if (r.memory_swappiness && *r.memory_swappiness > 100)
    return bad(w + ".swappiness", std::to_string(*r.memory_swappiness) + " is not in 0..100");
  return Status{};
}

Status parse_cpu(const json& c, Resources& r) {
  const std::string w = "linux.resources.cpu";
  TRY_ASSIGN(r.cpu_shares, get_u64(c, "shares", w));
  TRY_ASSIGN(r.cpu_quota, get_i64(c, "quota", w));
  TRY_ASSIGN(r.cpu_period, get_u64(c, "period", w));
  TRY_ASSIGN(r.cpu_burst, get_u64(c, "burst", w));
  TRY_ASSIGN(r.cpu_realtime_runtime, get_i64(c, "realtimeRuntime", w));
  TRY_ASSIGN(r.cpu_realtime_period, get_u64(c, "realtimePeriod", w));
  TRY_ASSIGN(r.cpu_idle, get_i64(c, "idle", w));
  TRY_ASSIGN(r.cpuset_cpus, get_token(c, "cpus", w));
  TRY_ASSIGN(r.cpuset_mems, get_token(c, "mems", w));
  return Status{};
}

Status parse_blkio(const json& b, Resources& r) {
  const std::string w = "linux.resources.blockIO";
  TRY_ASSIGN(auto weight, get_u64(b, "weight", w, 0xffff));
  TRY_ASSIGN(auto leaf, get_u64(b, "leafWeight", w, 0xffff));
  if (weight) r.blkio_weight = static_cast<uint16_t>(*weight);
  if (leaf) r.blkio_leaf_weight = static_cast<uint16_t>(*leaf);
  struct {
    const char* key;
    bool weights;
    std::vector<BlkioDevice>* out;
  } lists[] = {{"weightDevice", true, &r.blkio_weight_device},
               {"throttleReadBpsDevice", false, &r.throttle_read_bps},
               {"throttleWriteBpsDevice", false, &r.throttle_write_bps},
               {"throttleReadIOPSDevice", false, &r.throttle_read_iops},
               {"throttleWriteIOPSDevice", false, &r.throttle_write_iops}};
  for (auto& l : lists) {
    TRY_ASSIGN(const json* arr, array_or_null(b, l.key, w));
    if (arr) TRY(parse_blkio_devices(*arr, w + "." + l.key, l.weights, *l.out));
  }
  return Status{};
}

bool valid_page_size(const std::string& s) {
  // "2MB", "1GB", "64KB": digits then a unit, as in hugetlb.<size>.limit_in_bytes.
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  if (i == 0 || i > 10) return false;
  std::string unit = s.substr(i);
  return unit == "KB" || unit == "MB" || unit == "GB";
}

Status parse_rest(const json& res, Resources& r) {
  const std::string w = "linux.resources";
  TRY_ASSIGN(const json* huge, array_or_null(res, "hugepageLimits", w));
  if (huge) {
    for (size_t i = 0; i < huge->size(); ++i) {
      std::string hw = w + ".hugepageLimits[" + std::to_string(i) + "]";
      const json& h = (*huge)[i];
      if (!h.is_object()) return bad(hw, "expected an object");
      TRY_ASSIGN(std::string size, get_token(h, "pageSize", hw));
      if (!valid_page_size(size)) return bad(hw + ".pageSize", "\"" + size + "\" is not like 2MB");
      TRY_ASSIGN(auto limit, get_u64(h, "limit", hw));
      if (!limit) return bad(hw + ".limit", "required");
      r.hugepage_limits[size] = *limit;
    }
  }
  TRY_ASSIGN(const json* net, object_or_null(res, "network", w));
  if (net) {
    TRY_ASSIGN(auto cls, get_u64(*net, "classID", w + ".network", UINT32_MAX));
    if (cls) r.net_class_id = static_cast<uint32_t>(*cls);
    TRY_ASSIGN(const json* prios, array_or_null(*net, "priorities", w + ".network"));
    if (prios) {
      for (size_t i = 0; i < prios->size(); ++i) {
        std::string pw = w + ".network.priorities[" + std::to_string(i) + "]";
        if (!(*prios)[i].is_object()) return bad(pw, "expected an object");
        TRY_ASSIGN(std::string name, get_token((*prios)[i], "name", pw));
        TRY_ASSIGN(auto prio, get_u64((*prios)[i], "priority", pw, UINT32_MAX));
        if (name.empty() || !prio) return bad(pw, "name and priority are required");
        r.net_priorities[name] = static_cast<uint32_t>(*prio);
      }
    }
  }
  TRY_ASSIGN(const json* rdma, object_or_null(res, "rdma", w));
  if (rdma) {
    if (rdma->size() > kMaxEntries) return bad(w + ".rdma", "more than 1024 entries");
    for (auto it = rdma->begin(); it != rdma->end(); ++it) {
      const std::string& dev = it.key();
      std::string rw = w + ".rdma[\"" + (dev.size() > 64 ? dev.substr(0, 64) + "..." : dev) + "\"]";
      if (dev.empty() || dev.size() > 64) return bad(rw, "not a device name");
      for (char c : dev)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '/' || c == '=') return bad(rw, "not a device name");
      if (!it->is_object()) return bad(rw, "expected an object");
      Resources::Rdma lim;
      TRY_ASSIGN(auto handles, get_u64(*it, "hcaHandles", rw, UINT32_MAX));
      TRY_ASSIGN(auto objects, get_u64(*it, "hcaObjects", rw, UINT32_MAX));
      if (handles) lim.hca_handles = static_cast<uint32_t>(*handles);
      if (objects) lim.hca_objects = static_cast<uint32_t>(*objects);
      r.rdma[dev] = lim;
    }
  }
  TRY_ASSIGN(const json* unified, object_or_null(res, "unified", w));
  if (unified) {
    if (unified->size() > kMaxEntries) return bad(w + ".unified", "more than 1024 entries");
    for (auto it = unified->begin(); it != unified->end(); ++it) {
      const std::string& key = it.key();
      std::string uw = w + ".unified[\"" + (key.size() > 64 ? key.substr(0, 64) + "..." : key) + "\"]";
      // A key names a file in the container's own cgroup directory, nothing else.
      // cgroup.* files (procs, kill, subtree_control...) belong to the runtime, not the config.
      if (key.empty() || key.find('/') != std::string::npos || key.find('.') == std::string::npos ||
          key == ".." || key.rfind("cgroup.", 0) == 0)
        return bad(uw, "not a controller file name");
      for (char c : key)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad(uw, "contains a control character");
      if (!it->is_string()) return bad(uw, "expected a string");
      const std::string& v = it->get_ref<const std::string&>();
      if (v.size() > 4096 || v.find('\n') != std::string::npos) return bad(uw, "value is multi-line or too long");
      r.unified[key] = v;
    }
  }
  return Status{};
}

}  // namespace

std::string DeviceRule::v1_string() const {
  auto num = [](int64_t n) { return n < 0 ? std::string("*") : std::to_string(n); };
  return std::string(1, type) + " " + num(major) + ":" + num(minor) + " " + access;
}

Result<Resources> parse_resources(const nlohmann::json& res) {
  Resources r;
  if (res.is_null()) return r;
  if (!res.is_object()) return bad("linux.resources", "expected an object");
  try {
    const std::string w = "linux.resources";
    TRY_ASSIGN(const json* devices, array_or_null(res, "devices", w));
    if (devices) {
      r.has_devices = true;
      TRY(parse_devices(*devices, w + ".devices", r.devices));
    }
    TRY_ASSIGN(const json* memory, object_or_null(res, "memory", w));
    if (memory) TRY(parse_memory(*memory, r));
    TRY_ASSIGN(const json* cpu, object_or_null(res, "cpu", w));
    if (cpu) TRY(parse_cpu(*cpu, r));
    TRY_ASSIGN(const json* pids, object_or_null(res, "pids", w));
    if (pids) {
      TRY_ASSIGN(r.pids_limit, get_i64(*pids, "limit", w + ".pids"));
    }
    TRY_ASSIGN(const json* blkio, object_or_null(res, "blockIO", w));
    if (blkio) TRY(parse_blkio(*blkio, r));
    TRY(parse_rest(res, r));
  } catch (const std::exception& e) {
    return Error(Errc::internal, std::string("cgroup: parsing linux.resources: ") + e.what());
  }
  return r;
}

void add_default_devices(Resources& r) {
  static const DeviceRule kDefaults[] = {
      {true, 'c', -1, -1, "m"}, {true, 'b', -1, -1, "m"},   // mknod anything; access stays denied
      {true, 'c', 1, 3, "rwm"},                             // null
      {true, 'c', 1, 8, "rwm"},                             // random
      {true, 'c', 1, 7, "rwm"},                             // full
      {true, 'c', 5, 0, "rwm"},                             // tty
      {true, 'c', 1, 5, "rwm"},                             // zero
      {true, 'c', 1, 9, "rwm"},                             // urandom
      {true, 'c', 136, -1, "rwm"},                          // pts/*
      {true, 'c', 5, 2, "rwm"},                             // ptmx
      {true, 'c', 10, 200, "rwm"},                          // net/tun
  };
  r.has_devices = true;
  r.devices.insert(r.devices.end(), std::begin(kDefaults), std::end(kDefaults));
}

uint64_t shares_to_weight(uint64_t shares) {
  if (shares == 0) return 0;
  if (shares < 2) shares = 2;
  if (shares > 262144) shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t blkio_weight_to_io_weight(uint64_t weight) {
  if (weight == 0) return 0;
  if (weight < 10) weight = 10;
  if (weight > 1000) weight = 1000;
  return 1 + (weight - 10) * 9999 / 990;
}

Result<int64_t> swap_to_v2(int64_t memory_swap, int64_t memory_limit) {
  // Unlimited memory with swap unset means both unlimited, as on v1.
  if (memory_limit == -1 && memory_swap == 0) return int64_t{-1};
  if (memory_swap == -1 || memory_swap == 0) return memory_swap;
  if (memory_limit == 0 || memory_limit == -1)
    return Error(Errc::invalid_argument, "cgroup: linux.resources.memory.swap: a swap limit needs a memory limit");
  if (memory_limit < 0 || memory_swap < 0)
    return Error(Errc::invalid_argument, "cgroup: linux.resources.memory: negative limit");
  if (memory_swap < memory_limit)
    return Error(Errc::invalid_argument, "cgroup: linux.resources.memory.swap " + std::to_string(memory_swap) +
                                             " is below memory.limit " + std::to_string(memory_limit) +
                                             " (swap is memory+swap)");
  return memory_swap - memory_limit;
}

std::string rdma_line(const std::string& device, const Resources::Rdma& r) {
  auto v = [](const std::optional<uint32_t>& x) { return x ? std::to_string(*x) : std::string("max"); };
  return device + " hca_handle=" + v(r.hca_handles) + " hca_object=" + v(r.hca_objects);
}

std::string limit_string(int64_t v) { return v < 0 ? std::string("max") : std::to_string(v); }

}  // namespace berth::cgroup
