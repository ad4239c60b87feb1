#include "cgroup/resources.h"

#include <linux/bpf.h>

#include <gtest/gtest.h>

#include "cgroup/devices_bpf.h"

namespace berth::cgroup {
namespace {

using nlohmann::json;

TEST(CgroupConvert, SharesToWeightMatchesRunc) {
  EXPECT_EQ(shares_to_weight(0), 0u);
  EXPECT_EQ(shares_to_weight(2), 1u);
  EXPECT_EQ(shares_to_weight(1024), 39u);  // 1 + (1022*9999)/262142
  EXPECT_EQ(shares_to_weight(262144), 10000u);
  EXPECT_EQ(shares_to_weight(1), 1u);         // clamped like the kernel
  EXPECT_EQ(shares_to_weight(1u << 30), 10000u);
}

TEST(CgroupConvert, BlkioWeightToIoWeight) {
  EXPECT_EQ(blkio_weight_to_io_weight(0), 0u);
  EXPECT_EQ(blkio_weight_to_io_weight(10), 1u);
  EXPECT_EQ(blkio_weight_to_io_weight(1000), 10000u);
  EXPECT_EQ(blkio_weight_to_io_weight(500), 1u + 490u * 9999u / 990u);
}

TEST(CgroupConvert, SwapIsMemoryPlusSwapOnV1AndSwapAloneOnV2) {
  EXPECT_EQ(*swap_to_v2(0, 0), 0);
  EXPECT_EQ(*swap_to_v2(0, -1), -1);  // unlimited memory, swap unset -> unlimited both
  EXPECT_EQ(*swap_to_v2(-1, 100), -1);
  EXPECT_EQ(*swap_to_v2(300, 100), 200);
  EXPECT_EQ(*swap_to_v2(100, 100), 0);
  EXPECT_FALSE(swap_to_v2(50, 100).ok());   // below memory
  EXPECT_FALSE(swap_to_v2(300, 0).ok());    // swap without memory limit
  EXPECT_FALSE(swap_to_v2(300, -1).ok());
  EXPECT_EQ(limit_string(-1), "max");
  EXPECT_EQ(limit_string(42), "42");
}

TEST(CgroupResources, ParsesEverything) {
  json j = json::parse(R"({
    "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"},
                {"allow": true, "type": "b", "major": 8, "access": "m"}],
    "memory": {"limit": 1048576, "reservation": 524288, "swap": 2097152, "swappiness": 10, "disableOOMKiller": true},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0", "realtimeRuntime": 0},
    "pids": {"limit": 32},
    "blockIO": {"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 500}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
    "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]},
    "unified": {"memory.high": "1000000"},
    "rdma": {"mlx5_1": {"hcaHandles": 3}}
  })");
  auto r = parse_resources(j);
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_EQ(r->devices.size(), 3u);
  EXPECT_EQ(r->devices[0].v1_string(), "a *:* rwm");
  EXPECT_EQ(r->devices[1].v1_string(), "c 1:3 rw");
  EXPECT_EQ(r->devices[2].v1_string(), "b 8:* m");
  EXPECT_EQ(*r->memory_limit, 1048576);
  EXPECT_EQ(*r->memory_swappiness, 10u);
  EXPECT_TRUE(*r->disable_oom_killer);
  EXPECT_EQ(*r->cpu_shares, 512u);
  EXPECT_EQ(r->cpuset_cpus, "0-1");
  EXPECT_EQ(*r->pids_limit, 32);
  EXPECT_EQ(*r->blkio_weight, 300);
  EXPECT_EQ(r->throttle_read_bps.at(0).rate, 1048576u);
  EXPECT_EQ(r->hugepage_limits.at("2MB"), 4194304u);
  EXPECT_EQ(*r->net_class_id, 1048577u);
  EXPECT_EQ(r->unified.at("memory.high"), "1000000");
  EXPECT_EQ(rdma_line("mlx5_1", r->rdma.at("mlx5_1")), "mlx5_1 hca_handle=3 hca_object=max");
  EXPECT_TRUE(parse_resources(nullptr).ok());
}

TEST(CgroupResources, AcceptsJsonBuiltInCode) {
  // Literals in code are signed integers in nlohmann::json, unlike parsed text.
  json j{{"cpu", {{"shares", 512}, {"period", 100000}}}, {"pids", {{"limit", 10}}},
         {"blockIO", {{"weight", 10}}}, {"memory", {{"swappiness", 0}}}};
  auto r = parse_resources(j);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r->cpu_shares, 512u);
  EXPECT_EQ(*r->memory_swappiness, 0u);
  EXPECT_FALSE(parse_resources(json{{"cpu", {{"shares", -2}}}}).ok());
}

void expect_bad(const char* text, const std::string& needle) {
  auto r = parse_resources(json::parse(text));
  ASSERT_FALSE(r.ok()) << text;
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
}

TEST(CgroupResources, BadInputNamesTheField) {
  expect_bad(R"([])", "linux.resources");
  expect_bad(R"({"memory": {"limit": "1G"}})", "linux.resources.memory.limit");
  expect_bad(R"({"memory": {"limit": -5}})", "linux.resources.memory");
  expect_bad(R"({"memory": {"swappiness": 101}})", "swappiness");
  expect_bad(R"({"cpu": {"shares": -1}})", "linux.resources.cpu.shares");
  expect_bad(R"({"cpu": {"cpus": "0\n1"}})", "linux.resources.cpu.cpus");
  expect_bad(R"({"devices": [{"allow": true, "type": "x"}]})", "devices[0].type");
  expect_bad(R"({"devices": [{"allow": true, "access": "rwx"}]})", "devices[0].access");
  expect_bad(R"({"devices": [{"type": "c"}]})", "devices[0].allow");
  expect_bad(R"({"blockIO": {"weightDevice": [{"major": 8}]}})", "weightDevice[0]");
  expect_bad(R"({"hugepageLimits": [{"pageSize": "2XB", "limit": 1}]})", "pageSize");
  expect_bad(R"({"unified": {"../x": "1"}})", "unified");
  expect_bad(R"({"unified": {"cgroup.procs": "1"}})", "unified");
  expect_bad(R"({"unified": {"memory.high": 5}})", "unified");
  expect_bad(R"({"pids": {"limit": 1.5}})", "pids.limit");
  expect_bad(R"({"rdma": {"a b": {"hcaHandles": 1}}})", "rdma");
  expect_bad(R"({"rdma": {"mlx": {"hcaHandles": -1}}})", "hcaHandles");
}

TEST(CgroupDeviceFilter, ProgramShape) {
  // Empty list: load context, then deny.
  auto empty = device_filter_program({});
  ASSERT_GE(empty.size(), 2u);
  EXPECT_EQ(empty.back().code, BPF_JMP | BPF_EXIT);
  EXPECT_EQ(empty[empty.size() - 2].imm, 0);
  // Each rule adds a block ending in mov r0,<verdict>; exit, and its jumps stay inside the program.
  std::vector<DeviceRule> rules(2);
  rules[0].allow = false;
  rules[1] = DeviceRule{true, 'c', 1, 3, "rw"};
  auto p = device_filter_program(rules);
  EXPECT_GT(p.size(), empty.size() + 6);
  for (size_t i = 0; i < p.size(); ++i)
    if (BPF_CLASS(p[i].code) == BPF_JMP && BPF_OP(p[i].code) != BPF_EXIT) {
      EXPECT_GT(p[i].off, 0);
      EXPECT_LT(i + 1 + p[i].off, p.size());
    }
}

}  // namespace
}  // namespace berth::cgroup

#include "cgroup/stats.h"

namespace berth::cgroup {
namespace {

TEST(CgroupStats, ParsersMatchRuncShapes) {
  auto v1 = stats::parse_v1_blkio("8:0 Read 4096\n8:0 Write 8192\nTotal 12288\n");
  ASSERT_EQ(v1.size(), 3u);
  EXPECT_EQ(v1[1].op, "Write");
  EXPECT_EQ(v1[1].value, 8192u);
  auto list = stats::blkio_list(v1);
  EXPECT_EQ(list[0], (nlohmann::json{{"major", 8}, {"op", "Read"}, {"value", 4096}}));  // minor 0 omitted
  EXPECT_EQ(list[2], (nlohmann::json{{"op", "Total"}, {"value", 12288}}));

  std::vector<stats::BlkioEntry> bytes, ios;
  stats::parse_v2_io_stat("259:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\ngarbage\n", bytes, ios);
  ASSERT_EQ(bytes.size(), 2u);
  EXPECT_EQ(bytes[0].major, 259u);
  EXPECT_EQ(bytes[1].value, 20u);
  ASSERT_EQ(ios.size(), 2u);
  EXPECT_EQ(ios[0].op, "Read");

  EXPECT_EQ(stats::parse_cpu_list("0-2,5\n"), (std::vector<uint16_t>{0, 1, 2, 5}));
  EXPECT_TRUE(stats::parse_cpu_list("9-3").empty());
  EXPECT_EQ(stats::parse_numbers("1 2 3\n"), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(stats::memory_entry(5, 0, 0, 0), (nlohmann::json{{"limit", 5}, {"failcnt", 0}}));
}

}  // namespace
}  // namespace berth::cgroup

#include "cgroup/devices_v1.h"

namespace berth::cgroup {
namespace {

TEST(CgroupDevicesV1, EmulatesTheKernelModel) {
  std::vector<DeviceRule> rules = {{false, 'a', -1, -1, "rwm"},
                                   {true, 'c', 1, 3, "rw"},
                                   {true, 'c', 1, 3, "m"},    // merges into rwm
                                   {true, 'c', 1, 5, "rwm"},
                                   {false, 'c', 1, 5, "w"},   // removes w only
                                   {true, 'b', 8, -1, "r"}};
  auto st = devices_v1::emulate(rules);
  EXPECT_FALSE(st.default_allow);
  ASSERT_EQ(st.exceptions.size(), 3u);
  EXPECT_EQ(st.exceptions.at(std::make_tuple('c', int64_t{1}, int64_t{3})), 7u);
  EXPECT_EQ(st.exceptions.at(std::make_tuple('c', int64_t{1}, int64_t{5})), 5u);
  // The kernel's own listing of that state parses back to it.
  auto parsed = devices_v1::parse_list("c 1:3 rwm\nc 1:5 rm\nb 8:* r\n");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, st);
  // Any 'a' rule resets, whatever its numbers (as the kernel does).
  EXPECT_TRUE(devices_v1::emulate({{true, 'a', 1, -1, "r"}}).default_allow);
  EXPECT_FALSE(devices_v1::parse_list("a *:* rwm\n"));  // allow mode hides exceptions
}

TEST(CgroupDevicesV1, TransitionGrantsThenRevokesWithoutDenyAll) {
  auto from = devices_v1::emulate({{true, 'c', 1, 3, "rwm"}, {true, 'c', 1, 5, "rwm"}});
  auto to = devices_v1::emulate({{true, 'c', 1, 3, "rwm"}, {true, 'c', 1, 5, "r"}, {true, 'c', 10, 200, "rwm"}});
  auto w = devices_v1::transition(from, to);
  ASSERT_TRUE(w);
  std::vector<std::pair<bool, std::string>> want = {{true, "c 10:200 rwm"}, {false, "c 1:5 wm"}};
  EXPECT_EQ(*w, want);
  EXPECT_FALSE(devices_v1::transition(from, devices_v1::emulate({{true, 'a', -1, -1, "rwm"}})));
}

}  // namespace
}  // namespace berth::cgroup
