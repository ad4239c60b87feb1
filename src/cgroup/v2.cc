// cgroup v2 manager: one directory in the unified hierarchy. Controllers are
// enabled in cgroup.subtree_control from the mount root down to the leaf's
// parent; resources use runc's v1 -> v2 conversions (resources.h); devices
// are enforced by an eBPF program (devices_bpf.h).
#include <fcntl.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <sstream>

#include "base/fd.h"
#include "base/fs.h"
#include "cgroup/devices_bpf.h"
#include "cgroup/fsio.h"
#include "cgroup/impl.h"
#include "cgroup/stats.h"

namespace berth::cgroup::detail {
namespace {

using nlohmann::json;


std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

void sleep_ms(long ms) {
  struct timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

class V2Manager final : public Manager {
 public:
  V2Manager(HostLayout host, std::string path) : host_(std::move(host)), path_(std::move(path)) {}

  Status init(bool create, const Resources& res) {
    if (host_.v2_mount.empty()) return Error(Errc::unsupported, "cgroup: no cgroup2 filesystem is mounted");
    dir_ = dir_for(host_.v2_mount, host_.v2_root, path_);
    if (dir_.empty())
      return Error(Errc::unsupported, "cgroup: " + path_ + " is outside the part of " + host_.v2_mount + " visible here");
    if (!create) {
      if (!path_exists(dir_)) return Error(Errc::not_found, "cgroup: " + dir_ + " does not exist");
      return Status{};
    }
    if (path_exists(dir_)) {
      std::vector<pid_t> p;
      if (fsio::collect_pids(dir_, p).ok() && !p.empty())
        return Error(Errc::already_exists, "cgroup: " + dir_ + " already exists and has processes");
    }
    TRY_ASSIGN(created_, fsio::mkdirs(host_.v2_mount, dir_));
    enable_controllers();
    auto s = apply(res);
    if (!s.ok()) {
      for (auto it = created_.rbegin(); it != created_.rend(); ++it) (void)fsio::rmdir_retry(*it);
      created_.clear();
    }
    return s;
  }

  Status add_process(pid_t pid) override { return fsio::write(dir_, "cgroup.procs", std::to_string(pid)); }

  Result<Entry> entry() const override {
    Entry e;
    e.clone_into.reset(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!e.clone_into) return sys_error("cgroup: open " + dir_);
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
    if (!fsio::exists(dir_, "cgroup.freeze"))
      return Error(Errc::unsupported, "cgroup: kernel has no cgroup.freeze (needs Linux 5.2)");
    TRY(fsio::write(dir_, "cgroup.freeze", frozen ? "1" : "0"));
    // cgroup.events reports "frozen 1" once every task has stopped.
    long delay = 1, waited = 0;
    while (true) {
      TRY_ASSIGN(bool now, this->frozen());
      if (now == frozen) return Status{};
      if (waited > 10000)
        return Error(Errc::timeout, "cgroup: " + dir_ + " did not become " + (frozen ? "frozen" : "thawed") + " in 10 s");
      sleep_ms(delay);
      waited += delay;
      if (delay < 100) delay *= 2;
    }
  }

  Result<bool> frozen() override {
    TRY_ASSIGN(auto kv, fsio::read_kv(dir_, "cgroup.events"));
    return kv["frozen"] == 1;
  }

  Status kill(int signal) override {
    // cgroup.kill (Linux 5.14) kills atomically, forks included.
    if (signal == SIGKILL && fsio::exists(dir_, "cgroup.kill")) return fsio::write(dir_, "cgroup.kill", "1");
    return Manager::kill(signal);
  }

  Result<std::vector<pid_t>> pids() override {
    std::vector<pid_t> out;
    TRY(fsio::collect_pids(dir_, out));
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  Result<nlohmann::json> stats() override;

  Status destroy() override {
    if (auto p = pids(); p.ok() && !p->empty())
      return Error(Errc::busy, "cgroup: " + dir_ + " still has " + std::to_string(p->size()) + " process(es)");
    return fsio::remove_tree(dir_);
  }
  std::string path() const override { return path_; }
  std::vector<std::pair<std::string, std::string>> mounts() const override { return {{"", dir_}}; }

 private:
  // Enables every available controller on each ancestor so the leaf gets
  // them all. Best effort per controller: a parent holding processes
  // (no-internal-process rule) or a threaded subtree refuses some, and a
  // resource that then cannot be set fails with a message naming it.
  void enable_controllers() {
    std::string rel = dir_.substr(host_.v2_mount.size());  // "/a/b/leaf"
    std::vector<std::string> ancestors{host_.v2_mount};
    for (size_t j = rel.find('/', 1); j != std::string::npos; j = rel.find('/', j + 1))
      ancestors.push_back(host_.v2_mount + rel.substr(0, j));
    for (const auto& a : ancestors) {
      auto avail = fsio::read(a, "cgroup.controllers");
      auto enabled = fsio::read(a, "cgroup.subtree_control");
      if (!avail.ok() || !enabled.ok()) continue;
      auto have = words(*enabled);
      for (const auto& c : words(*avail))
        if (std::find(have.begin(), have.end(), c) == have.end()) (void)fsio::write(a, "cgroup.subtree_control", "+" + c);
    }
  }

  Status need(const char* controller, const char* what) {
    auto avail = fsio::read(dir_, "cgroup.controllers");
    if (avail.ok()) {
      auto have = words(*avail);
      if (std::find(have.begin(), have.end(), controller) != have.end()) return Status{};
    }
    return Error(Errc::unsupported, std::string("cgroup: linux.resources.") + what + " needs the " + controller +
                                        " controller, which is not enabled for " + dir_);
  }

  Status apply(const Resources& r) {
    if (r.has_devices) TRY(apply_device_filter(dir_, r.devices));
    TRY(apply_memory(r));
    TRY(apply_cpu(r));
    TRY(apply_pids_io(r));
    TRY(apply_misc(r));
    return Status{};
  }

  Status apply_memory(const Resources& r) {
    if (!(r.memory_limit || r.memory_reservation || r.memory_swap)) return Status{};
    TRY(need("memory", "memory"));
    int64_t limit = r.memory_limit.value_or(0);
    TRY_ASSIGN(int64_t swap, swap_to_v2(r.memory_swap.value_or(0), limit));
    // Swap first: lowering memory.max below usage with swap.max already at 0
    // would OOM instead of swapping out.
    if (swap != 0) {
      if (fsio::exists(dir_, "memory.swap.max"))
        TRY(fsio::write(dir_, "memory.swap.max", limit_string(swap)));
      else if (swap != -1)
        return Error(Errc::unsupported, "cgroup: linux.resources.memory.swap: kernel has no memory.swap.max");
    }
    if (limit != 0) TRY(fsio::write(dir_, "memory.max", limit_string(limit)));
    if (r.memory_reservation && *r.memory_reservation != 0)
      TRY(fsio::write(dir_, "memory.low", limit_string(*r.memory_reservation)));
    // swappiness, disableOOMKiller and kernel memory have no v2 file; runc
    // ignores them too (docs/cgroups.md).
    return Status{};
  }

  Status apply_cpu(const Resources& r) {
    if (r.cpu_realtime_period.value_or(0) != 0 || r.cpu_realtime_runtime.value_or(0) != 0)
      return Error(Errc::unsupported, "cgroup: linux.resources.cpu.realtime*: not supported on cgroup v2");
    if (r.cpu_shares.value_or(0) || r.cpu_quota.value_or(0) || r.cpu_period.value_or(0) || r.cpu_burst || r.cpu_idle) {
      TRY(need("cpu", "cpu"));
      if (uint64_t w = shares_to_weight(r.cpu_shares.value_or(0)); w != 0)
        TRY(fsio::write(dir_, "cpu.weight", std::to_string(w)));
      if (r.cpu_quota.value_or(0) != 0 || r.cpu_period.value_or(0) != 0) {
        std::string v = r.cpu_quota.value_or(0) > 0 ? std::to_string(*r.cpu_quota) : "max";
        if (r.cpu_period.value_or(0) != 0) v += " " + std::to_string(*r.cpu_period);
        TRY(fsio::write(dir_, "cpu.max", v));
      }
      if (r.cpu_burst) TRY(fsio::write(dir_, "cpu.max.burst", std::to_string(*r.cpu_burst)));
      if (r.cpu_idle) TRY(fsio::write(dir_, "cpu.idle", std::to_string(*r.cpu_idle)));
    }
    if (!r.cpuset_cpus.empty() || !r.cpuset_mems.empty()) {
      TRY(need("cpuset", "cpu.cpus/mems"));
      if (!r.cpuset_cpus.empty()) TRY(fsio::write(dir_, "cpuset.cpus", r.cpuset_cpus));
      if (!r.cpuset_mems.empty()) TRY(fsio::write(dir_, "cpuset.mems", r.cpuset_mems));
    }
    return Status{};
  }

  Status apply_pids_io(const Resources& r) {
    if (r.pids_limit && *r.pids_limit != 0) {
      TRY(need("pids", "pids"));
      TRY(fsio::write(dir_, "pids.max", *r.pids_limit > 0 ? std::to_string(*r.pids_limit) : "max"));
    }
    bool any_io = r.blkio_weight.value_or(0) || !r.blkio_weight_device.empty() || !r.throttle_read_bps.empty() ||
                  !r.throttle_write_bps.empty() || !r.throttle_read_iops.empty() || !r.throttle_write_iops.empty();
    if (!any_io) return Status{};
    TRY(need("io", "blockIO"));
    // BFQ takes blkio-style weights as they are; io.weight needs converting.
    bool bfq = fsio::exists(dir_, "io.bfq.weight");
    if (r.blkio_weight.value_or(0)) {
      if (bfq)
        TRY(fsio::write(dir_, "io.bfq.weight", std::to_string(*r.blkio_weight)));
      else
        TRY(fsio::write(dir_, "io.weight", "default " + std::to_string(blkio_weight_to_io_weight(*r.blkio_weight))));
    }
    for (const auto& w : r.blkio_weight_device) {
      if (!w.weight) continue;
      std::string dev = std::to_string(w.major) + ":" + std::to_string(w.minor) + " ";
      if (bfq)
        TRY(fsio::write(dir_, "io.bfq.weight", dev + std::to_string(*w.weight)));
      else
        TRY(fsio::write(dir_, "io.weight", dev + std::to_string(blkio_weight_to_io_weight(*w.weight))));
    }
    struct {
      const std::vector<BlkioDevice>* list;
      const char* key;
    } throttles[] = {{&r.throttle_read_bps, "rbps"},
                     {&r.throttle_write_bps, "wbps"},
                     {&r.throttle_read_iops, "riops"},
                     {&r.throttle_write_iops, "wiops"}};
    for (const auto& t : throttles)
      for (const auto& d : *t.list)
        TRY(fsio::write(dir_, "io.max", std::to_string(d.major) + ":" + std::to_string(d.minor) + " " + t.key + "=" +
                                            std::to_string(d.rate)));
    return Status{};
  }

  Status apply_misc(const Resources& r) {
    if (!r.hugepage_limits.empty()) {
      TRY(need("hugetlb", "hugepageLimits"));
      for (const auto& [size, limit] : r.hugepage_limits) {
        std::string f = "hugetlb." + size + ".max";
        if (!fsio::exists(dir_, f))
          return Error(Errc::unsupported, "cgroup: linux.resources.hugepageLimits: page size " + size + " is not supported");
        TRY(fsio::write(dir_, f, std::to_string(limit)));
      }
    }
    if (!r.rdma.empty()) {
      TRY(need("rdma", "rdma"));
      for (const auto& [dev, lim] : r.rdma) TRY(fsio::write(dir_, "rdma.max", rdma_line(dev, lim)));
    }
    if (r.net_class_id || !r.net_priorities.empty())
      return Error(Errc::unsupported, "cgroup: linux.resources.network: net_cls/net_prio do not exist on cgroup v2");
    for (const auto& [key, value] : r.unified) {
      if (!fsio::exists(dir_, key)) {
        std::string controller = key.substr(0, key.find('.'));
        return Error(Errc::unsupported, "cgroup: linux.resources.unified[\"" + key + "\"]: no such file in " + dir_ +
                                            " (is the " + controller + " controller enabled?)");
      }
      TRY(fsio::write(dir_, key, value));
    }
    return Status{};
  }

  HostLayout host_;
  std::string path_, dir_;
  std::vector<std::string> created_;
};

Result<nlohmann::json> V2Manager::stats() {
  json out = stats::skeleton();
  if (auto kv = fsio::read_kv(dir_, "cpu.stat"); kv.ok()) {
    json& u = out["cpu"]["usage"];
    stats::put_nonzero(u, "total", (*kv)["usage_usec"] * 1000);
    u["user"] = (*kv)["user_usec"] * 1000;
    u["kernel"] = (*kv)["system_usec"] * 1000;
    json& t = out["cpu"]["throttling"];
    stats::put_nonzero(t, "periods", (*kv)["nr_periods"]);
    stats::put_nonzero(t, "throttledPeriods", (*kv)["nr_throttled"]);
    stats::put_nonzero(t, "throttledTime", (*kv)["throttled_usec"] * 1000);
  }
  if (auto t = fsio::read(dir_, "cpuset.cpus.effective"); t.ok()) {
    auto cpus = stats::parse_cpu_list(*t);
    if (!cpus.empty()) out["cpuset"]["cpus"] = cpus;
  }
  if (auto t = fsio::read(dir_, "cpuset.mems.effective"); t.ok()) {
    auto mems = stats::parse_cpu_list(*t);
    if (!mems.empty()) out["cpuset"]["mems"] = mems;
  }
  auto num = [&](const char* f, uint64_t if_max) -> uint64_t {
    auto v = fsio::read_u64(dir_, f);
    return v.ok() ? v->value_or(if_max) : 0;
  };
  if (fsio::exists(dir_, "memory.current")) {
    json& m = out["memory"];
    auto events = fsio::read_kv(dir_, "memory.events");
    uint64_t failcnt = events.ok() ? (*events)["max"] : 0;
    uint64_t usage = num("memory.current", 0), limit = num("memory.max", UINT64_MAX);
    m["usage"] = stats::memory_entry(limit, usage, num("memory.peak", 0), failcnt);
    if (fsio::exists(dir_, "memory.swap.current")) {
      // runc reports v2 swap as memory+swap so it reads like v1 memsw.
      uint64_t swap_limit = num("memory.swap.max", UINT64_MAX);
      m["swap"] = stats::memory_entry(sat_add(swap_limit, limit), usage + num("memory.swap.current", 0), 0, 0);
    }
    if (auto kv = fsio::read_kv(dir_, "memory.stat"); kv.ok() && !kv->empty()) {
      m["raw"] = *kv;
      stats::put_nonzero(m, "cache", (*kv)["file"]);
    }
    if (events.ok()) m["event_count"] = {{"oom", (*events)["oom"]}, {"oom_kill", (*events)["oom_kill"]}};
  }
  if (fsio::exists(dir_, "pids.current")) {
    stats::put_nonzero(out["pids"], "current", num("pids.current", 0));
    stats::put_nonzero(out["pids"], "limit", num("pids.max", 0));
  }
  if (auto t = fsio::read(dir_, "io.stat"); t.ok()) {
    std::vector<stats::BlkioEntry> bytes, ios;
    stats::parse_v2_io_stat(*t, bytes, ios);
    if (!bytes.empty()) out["blkio"]["ioServiceBytesRecursive"] = stats::blkio_list(bytes);
    if (!ios.empty()) out["blkio"]["ioServicedRecursive"] = stats::blkio_list(ios);
  }
  for (const char* size : {"2MB", "1GB", "64KB", "32MB", "16GB"}) {
    std::string p = std::string("hugetlb.") + size + ".";
    auto cur = fsio::read_u64(dir_, p + "current");
    if (!cur.ok()) continue;
    json h{{"failcnt", 0}};
    stats::put_nonzero(h, "usage", cur->value_or(0));
    if (auto ev = fsio::read_kv(dir_, p + "events"); ev.ok()) h["failcnt"] = (*ev)["max"];
    out["hugetlb"][size] = h;
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Manager>> make_v2(const HostLayout& host, const std::string& path, bool create,
                                         const Resources& res) {
  auto m = std::make_unique<V2Manager>(host, path);
  TRY(m->init(create, res));
  return std::unique_ptr<Manager>(std::move(m));
}

}  // namespace berth::cgroup::detail
