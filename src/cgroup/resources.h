// berth/cgroup: OCI linux.resources as a typed value, plus the v1 -> v2 unit
// conversions runc established (so a config behaves the same under berth and
// runc on either cgroup version). Pure; no filesystem access.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace berth::cgroup {

struct DeviceRule {
  bool allow = false;
  char type = 'a';               // 'a', 'c', 'b'
  int64_t major = -1, minor = -1;  // -1 = wildcard
  std::string access = "rwm";    // subset of "rwm"
  // "c 1:3 rwm" / "a *:* rwm", the v1 devices.allow/deny syntax.
  std::string v1_string() const;
};

struct BlkioDevice {
  int64_t major = 0, minor = 0;
  std::optional<uint16_t> weight, leaf_weight;  // weightDevice
  uint64_t rate = 0;                            // throttle*Device
};

struct Resources {
  std::vector<DeviceRule> devices;
  bool has_devices = false;  // "devices" given (even empty): the device cgroup is managed

  // memory (bytes; -1 = unlimited)
  std::optional<int64_t> memory_limit, memory_reservation, memory_swap, memory_kernel, memory_kernel_tcp;
  std::optional<uint64_t> memory_swappiness;
  std::optional<bool> disable_oom_killer, use_hierarchy;

  // cpu
  std::optional<uint64_t> cpu_shares, cpu_period, cpu_realtime_period, cpu_burst;
  std::optional<int64_t> cpu_quota, cpu_realtime_runtime, cpu_idle;
  std::string cpuset_cpus, cpuset_mems;

  std::optional<int64_t> pids_limit;

  std::optional<uint16_t> blkio_weight, blkio_leaf_weight;
  std::vector<BlkioDevice> blkio_weight_device, throttle_read_bps, throttle_write_bps, throttle_read_iops,
      throttle_write_iops;

  std::map<std::string, uint64_t> hugepage_limits;  // "2MB" -> bytes
  std::optional<uint32_t> net_class_id;
  std::map<std::string, uint32_t> net_priorities;  // interface -> priority
  std::map<std::string, std::string> unified;      // cgroup v2 file -> value
  struct Rdma {
    std::optional<uint32_t> hca_handles, hca_objects;
  };
  std::map<std::string, Rdma> rdma;  // device name -> limits
};

// "mlx5_1 hca_handle=3 hca_object=max" for rdma.max (absent limit = max).
std::string rdma_line(const std::string& device, const Resources::Rdma& r);

// Validates and converts config.json linux.resources (null/absent = empty).
// Errors name the offending field: "linux.resources.memory.limit: expected an integer".
Result<Resources> parse_resources(const nlohmann::json& resources);

// The device rules every container gets after its own, as runc appends them
// (specconv AllowedDevices): mknod of any c/b node, and rwm on /dev/null,
// zero, full, random, urandom, tty, ptmx, pts/*, net/tun. Marks
// the device cgroup as managed: with no rules of its own a container starts
// from deny-all, exactly like runc.
void add_default_devices(Resources& r);

// cpu.shares [2, 262144] -> cpu.weight [1, 10000]; 0 (unset) -> 0.
uint64_t shares_to_weight(uint64_t shares);
// blkio.weight [10, 1000] -> io.weight [1, 10000]; 0 (unset) -> 0.
uint64_t blkio_weight_to_io_weight(uint64_t weight);
// OCI memory.swap is memory+swap; v2 memory.swap.max is swap alone.
// 0 = unset and -1 = unlimited pass through, as in runc.
Result<int64_t> swap_to_v2(int64_t memory_swap, int64_t memory_limit);

// "max" for negative limits, else the decimal number.
std::string limit_string(int64_t v);

}  // namespace berth::cgroup
