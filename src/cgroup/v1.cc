// cgroup v1 (and hybrid) manager: one directory per mounted hierarchy, plus
// the matching directory in the unified mount on hybrid hosts so that
// /proc/<pid>/cgroup "0::" agrees with the v1 paths (as runc does).
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "base/fs.h"
#include "cgroup/devices_v1.h"
#include "cgroup/fsio.h"
#include "cgroup/impl.h"
#include "cgroup/stats.h"

namespace berth::cgroup::detail {
namespace {

using nlohmann::json;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string basename_of(const std::string& p) {
  auto pos = p.find_last_of('/');
  return pos == std::string::npos ? p : p.substr(pos + 1);
}

void sleep_ms(long ms) {
  struct timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

Error no_hierarchy(const char* controller, const char* what) {
  return Error(Errc::unsupported,
               std::string("cgroup: linux.resources.") + what + " needs the " + controller + " controller, which is not mounted");
}

class V1Manager final : public Manager {
 public:
  V1Manager(HostLayout host, std::string path) : host_(std::move(host)), path_(std::move(path)) {}

  Status init(bool create, const Resources& res) {
    bool any = false;
    for (const auto& h : host_.v1) {
      std::string d = dir_for(h.mountpoint, h.root, path_);
      if (d.empty())
        return Error(Errc::unsupported, "cgroup: " + path_ + " is outside the part of " + h.mountpoint + " visible here");
      if (!create && !path_exists(d)) continue;
      dirs_.push_back(Dir{h.controllers, basename_of(h.mountpoint), h.mountpoint, d});
      any = true;
    }
    if (!host_.v2_mount.empty()) {
      std::string d = dir_for(host_.v2_mount, host_.v2_root, path_);
      if (!d.empty() && (create || path_exists(d))) unified_ = d;
    }
    if (!create) {
      if (!any) return Error(Errc::not_found, "cgroup: " + path_ + " does not exist");
      return Status{};
    }
    // An existing cgroup is adopted only while empty: a leftover from a
    // crashed start, not somebody else's running workload.
    for (const auto& d : dirs_) {
      if (!path_exists(d.dir)) continue;
      std::vector<pid_t> p;
      if (fsio::collect_pids(d.dir, p).ok() && !p.empty())
        return Error(Errc::already_exists, "cgroup: " + d.dir + " already exists and has processes");
    }
    auto s = make_dirs();
    if (s.ok()) s = apply(res);
    if (!s.ok()) rollback();
    return s;
  }

  Status add_process(pid_t pid) override {
    std::string p = std::to_string(pid);
    for (const auto& d : dirs_) TRY(fsio::write(d.dir, "cgroup.procs", p));
    if (!unified_.empty()) TRY(fsio::write(unified_, "cgroup.procs", p));
    return Status{};
  }

  Result<Entry> entry() const override {
    Entry e;
    for (const auto& d : dirs_) {
      UniqueFd fd(::open((d.dir + "/tasks").c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return sys_error("cgroup: open " + d.dir + "/tasks");
      e.tasks.push_back(std::move(fd));
    }
    if (!unified_.empty()) {
      e.clone_into.reset(::open(unified_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!e.clone_into) return sys_error("cgroup: open " + unified_);
    }
    return e;
  }

  Status update(const nlohmann::json& resources) override {
    TRY_ASSIGN(Resources r, parse_resources(resources));
    // Only a new device list touches the device cgroup; it then gets the
    // defaults appended, as at create.
    if (r.has_devices) add_default_devices(r);
    return apply(r);
  }

  Status freeze(bool frozen) override {
    std::string d = dir("freezer");
    if (d.empty()) return Error(Errc::unsupported, "cgroup: no freezer hierarchy is mounted");
    const char* want = frozen ? "FROZEN" : "THAWED";
    // Freezing is asynchronous (FREEZING until every task stops); rewriting
    // the request nudges tasks that were mid-fork. ~10 s before giving up.
    long delay = 1, waited = 0;
    while (true) {
      TRY(fsio::write(d, "freezer.state", want));
      TRY_ASSIGN(std::string state, fsio::read(d, "freezer.state"));
      if (trim(state) == want) return Status{};
      if (waited > 10000)
        return Error(Errc::timeout, "cgroup: " + d + "/freezer.state still " + trim(state) + " after 10 s");
      sleep_ms(delay);
      waited += delay;
      if (delay < 100) delay *= 2;
    }
  }

  Result<bool> frozen() override {
    std::string d = dir("freezer");
    if (d.empty()) return Error(Errc::unsupported, "cgroup: no freezer hierarchy is mounted");
    TRY_ASSIGN(std::string state, fsio::read(d, "freezer.state"));
    return trim(state) == "FROZEN";
  }

  Result<std::vector<pid_t>> pids() override {
    std::string d;
    for (const char* c : {"pids", "memory", "freezer", "devices", "cpu", "name=systemd"})
      if (d.empty()) d = dir(c);
    if (d.empty() && !dirs_.empty()) d = dirs_.front().dir;
    if (d.empty()) return Error(Errc::not_found, "cgroup: " + path_ + " has no hierarchy to list");
    std::vector<pid_t> out;
    TRY(fsio::collect_pids(d, out));
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  Result<nlohmann::json> stats() override;

  Status destroy() override {
    // Refuse up front rather than spin on EBUSY in every hierarchy.
    if (auto p = pids(); p.ok() && !p->empty())
      return Error(Errc::busy, "cgroup: " + path_ + " still has " + std::to_string(p->size()) + " process(es)");
    Status first;
    auto note = [&](Status s) {
      if (!s.ok() && first.ok()) first = std::move(s);
    };
    for (const auto& d : dirs_) note(fsio::remove_tree(d.dir));
    if (!unified_.empty()) note(fsio::remove_tree(unified_));
    return first;
  }

  std::string path() const override { return path_; }

  std::vector<std::pair<std::string, std::string>> mounts() const override {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& d : dirs_) out.emplace_back(d.mount_name, d.dir);
    if (!unified_.empty()) out.emplace_back(basename_of(host_.v2_mount), unified_);
    return out;
  }

 private:
  struct Dir {
    std::vector<std::string> controllers;
    std::string mount_name, mountpoint, dir;
  };

  std::string dir(std::string_view controller) const {
    for (const auto& d : dirs_)
      if (std::find(d.controllers.begin(), d.controllers.end(), controller) != d.controllers.end()) return d.dir;
    return {};
  }

  Status make_dirs() {
    for (const auto& d : dirs_) {
      TRY_ASSIGN(auto made, fsio::mkdirs(d.mountpoint, d.dir));
      created_.insert(created_.end(), made.begin(), made.end());
      // A new cpuset cgroup starts with empty cpus/mems and refuses tasks;
      // inherit the parent's so the tree is usable down to the leaf.
      if (std::find(d.controllers.begin(), d.controllers.end(), "cpuset") != d.controllers.end())
        for (const auto& m : made) TRY(inherit_cpuset(m));
    }
    if (!unified_.empty()) {
      TRY_ASSIGN(auto made, fsio::mkdirs(host_.v2_mount, unified_));
      created_.insert(created_.end(), made.begin(), made.end());
    }
    return Status{};
  }

  // Enables a controller in cgroup.subtree_control of every unified-mount
  // ancestor of our unified directory, so the leaf gets its files.
  Status enable_unified(const std::string& controller) {
    std::string rel = unified_.substr(host_.v2_mount.size());
    std::vector<std::string> ancestors{host_.v2_mount};
    for (size_t j = rel.find('/', 1); j != std::string::npos; j = rel.find('/', j + 1))
      ancestors.push_back(host_.v2_mount + rel.substr(0, j));
    for (const auto& a : ancestors) {
      TRY_ASSIGN(std::string enabled, fsio::read(a, "cgroup.subtree_control"));
      if ((" " + trim(enabled) + " ").find(" " + controller + " ") != std::string::npos) continue;
      TRY(fsio::write(a, "cgroup.subtree_control", "+" + controller));
    }
    return Status{};
  }

  static Status inherit_cpuset(const std::string& d) {
    std::string parent = dirname_of(d);
    for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
      TRY_ASSIGN(std::string cur, fsio::read(d, f));
      if (!trim(cur).empty()) continue;
      TRY_ASSIGN(std::string from, fsio::read(parent, f));
      TRY(fsio::write(d, f, trim(from)));
    }
    return Status{};
  }

  void rollback() {
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) (void)fsio::rmdir_retry(*it);
    created_.clear();
  }

  Status apply(const Resources& r) {
    TRY(apply_devices(r));
    TRY(apply_memory(r));
    TRY(apply_cpu(r));
    TRY(apply_cpuset(r));
    TRY(apply_pids(r));
    TRY(apply_blkio(r));
    TRY(apply_misc(r));
    return Status{};
  }

  Status apply_devices(const Resources& r) {
    if (!r.has_devices) return Status{};
    std::string d = dir("devices");
    if (d.empty()) return no_hierarchy("devices", "devices");
    // A running container must not lose its devices for a moment during an
    // update: move from the current exception list to the new one directly
    // when both deny by default, and check the kernel agrees.
    devices_v1::State target = devices_v1::emulate(r.devices);
    if (auto text = fsio::read(d, "devices.list"); text.ok()) {
      if (auto cur = devices_v1::parse_list(*text)) {
        if (auto writes = devices_v1::transition(*cur, target)) {
          for (const auto& [allow, line] : *writes) TRY(fsio::write(d, allow ? "devices.allow" : "devices.deny", line));
          auto after = fsio::read(d, "devices.list");
          if (after.ok() && devices_v1::parse_list(*after) == target) return Status{};
        }
      }
    }
    // Otherwise start from nothing and replay the rules in order: the v1
    // controller keeps an ordered list, so later rules refine earlier ones.
    TRY(fsio::write(d, "devices.deny", "a"));
    for (const auto& rule : r.devices) {
      std::string v = rule.type == 'a' && rule.major < 0 && rule.minor < 0 && rule.access == "rwm" ? "a" : rule.v1_string();
      TRY(fsio::write(d, rule.allow ? "devices.allow" : "devices.deny", v));
    }
    return Status{};
  }

  Status apply_memory(const Resources& r) {
    bool any = r.memory_limit || r.memory_reservation || r.memory_swap || r.memory_swappiness ||
               r.disable_oom_killer.value_or(false) || r.use_hierarchy;
    if (!any) return Status{};
    std::string d = dir("memory");
    if (d.empty()) return no_hierarchy("memory", "memory");
    int64_t limit = r.memory_limit.value_or(0), swap = r.memory_swap.value_or(0);
    bool memsw = fsio::exists(d, "memory.memsw.limit_in_bytes");
    if (r.memory_limit && limit == -1 && swap == 0 && memsw) swap = -1;
    if (swap != 0 && !memsw && swap != -1 && swap != limit)
      return Error(Errc::unsupported, "cgroup: linux.resources.memory.swap: swap accounting is off (no " + d +
                                          "/memory.memsw.limit_in_bytes)");
    auto write_limit = [&] { return fsio::write(d, "memory.limit_in_bytes", std::to_string(limit)); };
    auto write_swap = [&] { return fsio::write(d, "memory.memsw.limit_in_bytes", std::to_string(swap)); };
    if (limit != 0 && swap != 0 && memsw) {
      // The kernel insists limit <= memsw at every step, so the order
      // depends on whether the new pair grows or shrinks.
      TRY_ASSIGN(auto cur, fsio::read_u64(d, "memory.limit_in_bytes"));
      uint64_t cur_limit = cur.value_or(UINT64_MAX);
      if (swap == -1 || cur_limit < static_cast<uint64_t>(swap)) {
        TRY(write_swap());
        TRY(write_limit());
      } else {
        TRY(write_limit());
        TRY(write_swap());
      }
    } else {
      if (limit != 0) TRY(write_limit());
      if (swap != 0 && memsw) TRY(write_swap());
    }
    if (r.memory_reservation && *r.memory_reservation != 0)
      TRY(fsio::write(d, "memory.soft_limit_in_bytes", std::to_string(*r.memory_reservation)));
    if (r.memory_swappiness) TRY(fsio::write(d, "memory.swappiness", std::to_string(*r.memory_swappiness)));
    if (r.disable_oom_killer.value_or(false)) TRY(fsio::write(d, "memory.oom_control", "1"));
    if (r.use_hierarchy) {
      // Modern kernels fix use_hierarchy at 1 and refuse writes; only write a change.
      TRY_ASSIGN(auto cur, fsio::read_u64(d, "memory.use_hierarchy"));
      uint64_t want = *r.use_hierarchy ? 1 : 0;
      if (cur.value_or(2) != want) TRY(fsio::write(d, "memory.use_hierarchy", std::to_string(want)));
    }
    // kernel / kernelTCP: kernel memory limits are deprecated and ignored, as in runc.
    return Status{};
  }

  Status apply_cpu(const Resources& r) {
    bool any = r.cpu_shares || r.cpu_quota || r.cpu_period || r.cpu_burst || r.cpu_realtime_period ||
               r.cpu_realtime_runtime || r.cpu_idle;
    if (!any) return Status{};
    std::string d = dir("cpu");
    if (d.empty()) return no_hierarchy("cpu", "cpu");
    if (r.cpu_shares && *r.cpu_shares != 0) {
      TRY(fsio::write(d, "cpu.shares", std::to_string(*r.cpu_shares)));
      // The kernel clamps silently; say so instead of running with another value.
      TRY_ASSIGN(auto got, fsio::read_u64(d, "cpu.shares"));
      if (got && *got != *r.cpu_shares)
        return Error(Errc::invalid_argument, "cgroup: linux.resources.cpu.shares " + std::to_string(*r.cpu_shares) +
                                                 " was clamped by the kernel to " + std::to_string(*got));
    }
    uint64_t period = r.cpu_period.value_or(0);
    int64_t quota = r.cpu_quota.value_or(0);
    bool period_pending = false;
    if (period != 0) {
      auto s = fsio::write(d, "cpu.cfs_period_us", std::to_string(period));
      // A shorter period can be refused while the old quota would exceed the
      // parent's; retry it after the quota when one is coming.
      if (!s.ok()) {
        if (s.error().sys_errno != EINVAL || quota == 0) return s;
        period_pending = true;
      }
    }
    if (quota != 0) {
      TRY(fsio::write(d, "cpu.cfs_quota_us", std::to_string(quota)));
      if (period_pending) TRY(fsio::write(d, "cpu.cfs_period_us", std::to_string(period)));
    }
    if (r.cpu_burst) {
      if (!fsio::exists(d, "cpu.cfs_burst_us"))
        return Error(Errc::unsupported, "cgroup: linux.resources.cpu.burst: kernel has no cpu.cfs_burst_us");
      TRY(fsio::write(d, "cpu.cfs_burst_us", std::to_string(*r.cpu_burst)));
    }
    if (r.cpu_realtime_period && *r.cpu_realtime_period != 0)
      TRY(fsio::write(d, "cpu.rt_period_us", std::to_string(*r.cpu_realtime_period)));
    if (r.cpu_realtime_runtime && *r.cpu_realtime_runtime != 0)
      TRY(fsio::write(d, "cpu.rt_runtime_us", std::to_string(*r.cpu_realtime_runtime)));
    if (r.cpu_idle) {
      if (!fsio::exists(d, "cpu.idle"))
        return Error(Errc::unsupported, "cgroup: linux.resources.cpu.idle: kernel has no cpu.idle");
      TRY(fsio::write(d, "cpu.idle", std::to_string(*r.cpu_idle)));
    }
    return Status{};
  }

  Status apply_cpuset(const Resources& r) {
    if (r.cpuset_cpus.empty() && r.cpuset_mems.empty()) return Status{};
    std::string d = dir("cpuset");
    if (d.empty()) return no_hierarchy("cpuset", "cpu.cpus/mems");
    if (!r.cpuset_cpus.empty()) TRY(fsio::write(d, "cpuset.cpus", r.cpuset_cpus));
    if (!r.cpuset_mems.empty()) TRY(fsio::write(d, "cpuset.mems", r.cpuset_mems));
    return Status{};
  }

  Status apply_pids(const Resources& r) {
    if (!r.pids_limit || *r.pids_limit == 0) return Status{};
    std::string d = dir("pids");
    if (d.empty()) return no_hierarchy("pids", "pids");
    return fsio::write(d, "pids.max", *r.pids_limit > 0 ? std::to_string(*r.pids_limit) : "max");
  }

  Status apply_blkio(const Resources& r) {
    bool any = r.blkio_weight || r.blkio_leaf_weight || !r.blkio_weight_device.empty() || !r.throttle_read_bps.empty() ||
               !r.throttle_write_bps.empty() || !r.throttle_read_iops.empty() || !r.throttle_write_iops.empty();
    if (!any) return Status{};
    std::string d = dir("blkio");
    if (d.empty()) return no_hierarchy("blkio", "blockIO");
    // CFQ's blkio.weight is gone from modern kernels; BFQ's replaces it.
    std::string weight_file = fsio::exists(d, "blkio.weight") ? "blkio.weight" : "blkio.bfq.weight";
    std::string weight_dev_file = fsio::exists(d, "blkio.weight_device") ? "blkio.weight_device" : "blkio.bfq.weight_device";
    auto need = [&](const std::string& f) -> Status {
      if (fsio::exists(d, f)) return Status{};
      return Error(Errc::unsupported, "cgroup: linux.resources.blockIO: kernel has no " + f + " (no CFQ/BFQ scheduler?)");
    };
    if (r.blkio_weight && *r.blkio_weight != 0) {
      TRY(need(weight_file));
      TRY(fsio::write(d, weight_file, std::to_string(*r.blkio_weight)));
    }
    if (r.blkio_leaf_weight && *r.blkio_leaf_weight != 0) {
      TRY(need("blkio.leaf_weight"));
      TRY(fsio::write(d, "blkio.leaf_weight", std::to_string(*r.blkio_leaf_weight)));
    }
    for (const auto& w : r.blkio_weight_device) {
      std::string dev = std::to_string(w.major) + ":" + std::to_string(w.minor) + " ";
      if (w.weight) {
        TRY(need(weight_dev_file));
        TRY(fsio::write(d, weight_dev_file, dev + std::to_string(*w.weight)));
      }
      if (w.leaf_weight) {
        TRY(need("blkio.leaf_weight_device"));
        TRY(fsio::write(d, "blkio.leaf_weight_device", dev + std::to_string(*w.leaf_weight)));
      }
    }
    struct {
      const std::vector<BlkioDevice>* list;
      const char* file;
    } throttles[] = {{&r.throttle_read_bps, "blkio.throttle.read_bps_device"},
                     {&r.throttle_write_bps, "blkio.throttle.write_bps_device"},
                     {&r.throttle_read_iops, "blkio.throttle.read_iops_device"},
                     {&r.throttle_write_iops, "blkio.throttle.write_iops_device"}};
    for (const auto& t : throttles)
      for (const auto& dev : *t.list)
        TRY(fsio::write(d, t.file, std::to_string(dev.major) + ":" + std::to_string(dev.minor) + " " +
                                       std::to_string(dev.rate)));
    return Status{};
  }

  Status apply_misc(const Resources& r) {
    if (!r.hugepage_limits.empty()) {
      // A hybrid host may have bound hugetlb to the unified hierarchy
      // instead (a controller lives in exactly one); use it there.
      std::string d = dir("hugetlb");
      bool v2 = d.empty() && !unified_.empty() && host_.v2_has("hugetlb");
      if (v2) {
        TRY(enable_unified("hugetlb"));
        d = unified_;
      }
      if (d.empty()) return no_hierarchy("hugetlb", "hugepageLimits");
      for (const auto& [size, limit] : r.hugepage_limits) {
        std::string f = "hugetlb." + size + (v2 ? ".max" : ".limit_in_bytes");
        if (!fsio::exists(d, f))
          return Error(Errc::unsupported, "cgroup: linux.resources.hugepageLimits: page size " + size + " is not supported");
        TRY(fsio::write(d, f, std::to_string(limit)));
      }
    }
    if (r.net_class_id) {
      std::string d = dir("net_cls");
      if (d.empty()) return no_hierarchy("net_cls", "network.classID");
      TRY(fsio::write(d, "net_cls.classid", std::to_string(*r.net_class_id)));
    }
    if (!r.net_priorities.empty()) {
      std::string d = dir("net_prio");
      if (d.empty()) return no_hierarchy("net_prio", "network.priorities");
      for (const auto& [iface, prio] : r.net_priorities)
        TRY(fsio::write(d, "net_prio.ifpriomap", iface + " " + std::to_string(prio)));
    }
    if (!r.rdma.empty()) {
      std::string d = dir("rdma");
      if (d.empty()) return no_hierarchy("rdma", "rdma");
      for (const auto& [dev, lim] : r.rdma) TRY(fsio::write(d, "rdma.max", rdma_line(dev, lim)));
    }
    for (const auto& [key, value] : r.unified) {
      // On a hybrid host a controller may live in the unified hierarchy
      // (hugetlb here, say); anything else has no v1 meaning.
      if (unified_.empty() || !fsio::exists(unified_, key))
        return Error(Errc::unsupported, "cgroup: linux.resources.unified[\"" + key +
                                            "\"]: not available on this cgroup v1 host");
      TRY(fsio::write(unified_, key, value));
    }
    return Status{};
  }

  HostLayout host_;
  std::string path_;
  std::vector<Dir> dirs_;
  std::string unified_;
  std::vector<std::string> created_;
};

Result<nlohmann::json> V1Manager::stats() {
  json out = stats::skeleton();
  if (std::string d = dir("cpuacct"); !d.empty()) {
    json& u = out["cpu"]["usage"];
    if (auto v = fsio::read_u64(d, "cpuacct.usage"); v.ok() && *v) stats::put_nonzero(u, "total", **v);
    auto percpu = [&](const char* f, const char* key) {
      if (auto t = fsio::read(d, f); t.ok()) {
        auto nums = stats::parse_numbers(*t);
        if (!nums.empty()) u[key] = nums;
      }
    };
    percpu("cpuacct.usage_percpu", "percpu");
    percpu("cpuacct.usage_percpu_sys", "percpu_kernel");
    percpu("cpuacct.usage_percpu_user", "percpu_user");
    // cpuacct.stat counts USER_HZ ticks; runc reports nanoseconds.
    if (auto kv = fsio::read_kv(d, "cpuacct.stat"); kv.ok()) {
      long hz = ::sysconf(_SC_CLK_TCK);
      uint64_t ns_per_tick = hz > 0 ? 1000000000ull / static_cast<uint64_t>(hz) : 10000000ull;
      u["user"] = (*kv)["user"] * ns_per_tick;
      u["kernel"] = (*kv)["system"] * ns_per_tick;
    }
  }
  if (std::string d = dir("cpu"); !d.empty()) {
    if (auto kv = fsio::read_kv(d, "cpu.stat"); kv.ok()) {
      json& t = out["cpu"]["throttling"];
      stats::put_nonzero(t, "periods", (*kv)["nr_periods"]);
      stats::put_nonzero(t, "throttledPeriods", (*kv)["nr_throttled"]);
      stats::put_nonzero(t, "throttledTime", (*kv)["throttled_time"]);
    }
  }
  if (std::string d = dir("cpuset"); !d.empty()) {
    if (auto t = fsio::read(d, "cpuset.cpus"); t.ok()) {
      auto cpus = stats::parse_cpu_list(*t);
      if (!cpus.empty()) out["cpuset"]["cpus"] = cpus;
    }
    if (auto t = fsio::read(d, "cpuset.mems"); t.ok()) {
      auto mems = stats::parse_cpu_list(*t);
      if (!mems.empty()) out["cpuset"]["mems"] = mems;
    }
    for (const char* f : {"cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page",
                          "memory_spread_slab", "memory_pressure", "sched_load_balance"})
      if (auto v = fsio::read_u64(d, std::string("cpuset.") + f); v.ok() && *v) out["cpuset"][f] = **v;
    // The one signed value (-1 = system default).
    if (auto t = fsio::read(d, "cpuset.sched_relax_domain_level"); t.ok())
      out["cpuset"]["sched_relax_domain_level"] = std::strtoll(t->c_str(), nullptr, 10);
  }
  if (std::string d = dir("memory"); !d.empty()) {
    json& m = out["memory"];
    auto entry = [&](const std::string& prefix) -> json {
      auto num = [&](const char* f) -> uint64_t {
        auto v = fsio::read_u64(d, prefix + f);
        return v.ok() ? v->value_or(UINT64_MAX) : 0;
      };
      return stats::memory_entry(num("limit_in_bytes"), num("usage_in_bytes"), num("max_usage_in_bytes"), num("failcnt"));
    };
    m["usage"] = entry("memory.");
    if (fsio::exists(d, "memory.memsw.usage_in_bytes")) m["swap"] = entry("memory.memsw.");
    if (fsio::exists(d, "memory.kmem.usage_in_bytes")) m["kernel"] = entry("memory.kmem.");
    if (fsio::exists(d, "memory.kmem.tcp.usage_in_bytes")) m["kernelTCP"] = entry("memory.kmem.tcp.");
    if (auto kv = fsio::read_kv(d, "memory.stat"); kv.ok() && !kv->empty()) {
      m["raw"] = *kv;
      stats::put_nonzero(m, "cache", (*kv)["cache"]);
    }
    if (auto kv = fsio::read_kv(d, "memory.oom_control"); kv.ok()) m["event_count"]["oom_kill"] = (*kv)["oom_kill"];
  }
  if (std::string d = dir("pids"); !d.empty()) {
    if (auto v = fsio::read_u64(d, "pids.current"); v.ok()) stats::put_nonzero(out["pids"], "current", v->value_or(0));
    if (auto v = fsio::read_u64(d, "pids.max"); v.ok()) stats::put_nonzero(out["pids"], "limit", v->value_or(0));
  }
  if (std::string d = dir("blkio"); !d.empty()) {
    json& b = out["blkio"];
    auto list = [&](const char* key, std::initializer_list<const char*> files) {
      for (const char* f : files) {
        auto t = fsio::read(d, f);
        if (!t.ok()) continue;
        auto entries = stats::parse_v1_blkio(*t);
        // An idle cgroup reports only "Total 0"; runc leaves the list out then.
        if (entries.size() > 1 || (entries.size() == 1 && entries[0].value != 0)) b[key] = stats::blkio_list(entries);
        return;
      }
    };
    list("ioServiceBytesRecursive", {"blkio.io_service_bytes_recursive", "blkio.bfq.io_service_bytes_recursive",
                                     "blkio.throttle.io_service_bytes_recursive"});
    list("ioServicedRecursive",
         {"blkio.io_serviced_recursive", "blkio.bfq.io_serviced_recursive", "blkio.throttle.io_serviced_recursive"});
  }
  if (std::string d = dir("hugetlb"); d.empty() && !unified_.empty() && host_.v2_has("hugetlb")) {
    for (const char* size : {"2MB", "1GB", "64KB", "32MB", "16GB"}) {
      std::string p = std::string("hugetlb.") + size + ".";
      auto cur = fsio::read_u64(unified_, p + "current");
      if (!cur.ok()) continue;
      json h{{"failcnt", 0}};
      stats::put_nonzero(h, "usage", cur->value_or(0));
      if (auto ev = fsio::read_kv(unified_, p + "events"); ev.ok()) h["failcnt"] = (*ev)["max"];
      out["hugetlb"][size] = h;
    }
  } else if (!d.empty()) {
    // Page sizes are architecture-specific; probe the common ones.
    for (const char* size : {"2MB", "1GB", "64KB", "32MB", "16GB"}) {
      std::string p = std::string("hugetlb.") + size + ".";
      auto usage = fsio::read_u64(d, p + "usage_in_bytes");
      if (!usage.ok()) continue;
      json h{{"failcnt", 0}};
      stats::put_nonzero(h, "usage", usage->value_or(0));
      if (auto v = fsio::read_u64(d, p + "max_usage_in_bytes"); v.ok()) stats::put_nonzero(h, "max", v->value_or(0));
      if (auto v = fsio::read_u64(d, p + "failcnt"); v.ok()) h["failcnt"] = v->value_or(0);
      out["hugetlb"][size] = h;
    }
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Manager>> make_v1(const HostLayout& host, const std::string& path, bool create,
                                         const Resources& res) {
  auto m = std::make_unique<V1Manager>(host, path);
  TRY(m->init(create, res));
  return std::unique_ptr<Manager>(std::move(m));
}

}  // namespace berth::cgroup::detail
