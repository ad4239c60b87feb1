// The CNI protocol against fake plugins: what berth sends, what it accepts back.
#include <gtest/gtest.h>

#include "helpers.h"
#include "network/cni.h"
#include "network/network.h"

using namespace berth;
using namespace berth::network;
using nlohmann::json;

namespace {

const char* kResult = R"({"cniVersion":"1.0.0",
  "interfaces":[{"name":"berth0","mac":"aa:bb:cc:dd:ee:01"},{"name":"veth1","mac":"aa:bb:cc:dd:ee:02"},
                {"name":"eth0","mac":"aa:bb:cc:dd:ee:03","sandbox":"/run/netns/x"}],
  "ips":[{"address":"10.89.0.2/16","gateway":"10.89.0.1","interface":2}],
  "routes":[{"dst":"0.0.0.0/0"}],"dns":{}})";

class FakePlugins : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::create("/tmp", "berth-cni");
    ASSERT_TRUE(d.ok());
    dir_.emplace(std::move(*d));
    inv_.command = "ADD";
    inv_.container_id = "c1";
    inv_.netns = "/run/netns/x";
    inv_.plugin_dirs = {dir_->path() + "/missing", dir_->path()};
  }
  std::string path(const std::string& n) { return dir_->path() + "/" + n; }
  std::optional<TempDir> dir_;
  cni::Invocation inv_;
};

}  // namespace

TEST(CniResult, ParsesASpecResult) {
  auto r = cni::parse_result(kResult, "bridge");
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->cni_version, "1.0.0");
  ASSERT_EQ(r->interfaces.size(), 3u);
  EXPECT_EQ(r->interfaces[2].sandbox, "/run/netns/x");
  ASSERT_EQ(r->ips.size(), 1u);
  EXPECT_EQ(r->ips[0].address, "10.89.0.2");
  EXPECT_EQ(r->ips[0].prefix_len, 16);
  EXPECT_EQ(r->ips[0].gateway, "10.89.0.1");
  EXPECT_EQ(*r->ips[0].interface, 2u);
  ASSERT_EQ(r->routes.size(), 1u);
  // IPAM results have no interfaces.
  EXPECT_TRUE(cni::parse_result(R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"}]})", "host-local").ok());
}

TEST(CniResult, RejectsMalformed) {
  for (std::string_view bad : {
           "", "garbage", "[]", "{}", R"({"cniVersion":1})", R"({"cniVersion":""})",
           R"({"cniVersion":"1.0.0","interfaces":{}})",
           R"({"cniVersion":"1.0.0","interfaces":[{"name":""}]})",
           R"({"cniVersion":"1.0.0","interfaces":[{"name":"a/b"}]})",
           R"({"cniVersion":"1.0.0","interfaces":[{"name":"eth0","mac":"zz"}]})",
           R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2"}]})",
           R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/33"}]})",
           R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24","gateway":"x"}]})",
           R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24","interface":0}]})",
           R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24","interface":-1}]})",
           R"({"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24","interface":"0"}]})",
           R"({"cniVersion":"1.0.0","routes":[{"dst":"default"}]})",
           R"({"cniVersion":"1.0.0","dns":[]})"}) {
    auto r = cni::parse_result(bad, "bridge");
    ASSERT_FALSE(r.ok()) << "accepted " << bad;
    EXPECT_EQ(r.error().code, Errc::invalid_input);
    EXPECT_TRUE(r.error().message.starts_with("cni plugin bridge: malformed result")) << r.error().message;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  }
  EXPECT_FALSE(cni::parse_result(std::string(cni::kMaxOutput + 1, ' '), "x").ok());
}

TEST(CniExec, ExecConfigFollowsTheSpec) {
  json list = {{"cniVersion", "1.0.0"}, {"name", "net"}, {"plugins", json::array()}};
  json plugin = {{"type", "portmap"}, {"capabilities", {{"portMappings", true}, {"bandwidth", true}, {"mac", false}}},
                 {"snat", true}};
  json caps = {{"portMappings", json::array({json{{"hostPort", 8080}}})}, {"mac", "x"}, {"ips", json::array()}};
  json prev = json::parse(kResult);
  json c = cni::exec_config(list, plugin, caps, &prev);
  EXPECT_FALSE(c.contains("capabilities"));
  EXPECT_EQ(c["cniVersion"], "1.0.0");
  EXPECT_EQ(c["name"], "net");
  EXPECT_EQ(c["snat"], true);
  EXPECT_EQ(c["runtimeConfig"], (json{{"portMappings", caps["portMappings"]}}));  // declared and provided only
  EXPECT_EQ(c["prevResult"], prev);
  json first = cni::exec_config(list, {{"type", "bridge"}}, caps, nullptr);
  EXPECT_FALSE(first.contains("prevResult"));
  EXPECT_FALSE(first.contains("runtimeConfig"));
}

TEST_F(FakePlugins, ProtocolEnvAndStdin) {
  nettest::write_script(path("rec"),
                        "cat > " + path("stdin") + "\nenv > " + path("env") + "\necho '" + json::parse(kResult).dump() + "'\n");
  json cfg = {{"cniVersion", "1.0.0"}, {"name", "net"}, {"type", "rec"}};
  ::setenv("CNI_ARGS", "stale=1", 1);
  auto out = cni::exec_plugin("rec", inv_, cfg);
  ::unsetenv("CNI_ARGS");
  ASSERT_TRUE(out.ok()) << out.error().str();
  EXPECT_TRUE(cni::parse_result(*out, "rec").ok());
  EXPECT_EQ(json::parse(*read_file(path("stdin"))), cfg);
  std::string env = *read_file(path("env"));
  for (std::string want : std::vector<std::string>{"CNI_COMMAND=ADD\n", "CNI_CONTAINERID=c1\n", "CNI_NETNS=/run/netns/x\n", "CNI_IFNAME=eth0\n",
                           "CNI_PATH=" + inv_.plugin_dirs[0] + ":" + inv_.plugin_dirs[1] + "\n"})
    EXPECT_NE(env.find(want), std::string::npos) << want;
  EXPECT_EQ(env.find("CNI_ARGS"), std::string::npos) << "the caller's CNI_ARGS leaked";
  EXPECT_NE(env.find("/usr/sbin"), std::string::npos) << "PATH lacks sbin for iptables";
}

TEST_F(FakePlugins, ErrorsAreOneLineNamingThePlugin) {
  nettest::write_script(path("errjson"),
                        R"(echo '{"cniVersion":"1.0.0","code":7,"msg":"Invalid Configuration","details":"Network 10.0.0.0/31 too small"}'; exit 1)");
  auto r = cni::exec_plugin("errjson", inv_, json::object());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "cni plugin errjson ADD failed: Invalid Configuration: Network 10.0.0.0/31 too small (code 7)");

  nettest::write_script(path("crash"), "echo starting >&2; echo 'panic: boom' >&2; exit 2\n");
  r = cni::exec_plugin("crash", inv_, json::object());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "cni plugin crash ADD failed (exit status 2): panic: boom");

  nettest::write_script(path("again"), R"(echo '{"code":11,"msg":"busy"}'; exit 1)");
  r = cni::exec_plugin("again", inv_, json::object());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::busy);

  r = cni::exec_plugin("nope", inv_, json::object());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::not_found);
  EXPECT_NE(r.error().message.find("cni plugin nope not found in"), std::string::npos);
  EXPECT_FALSE(cni::exec_plugin("../bin/sh", inv_, json::object()).ok());
}

TEST_F(FakePlugins, TimeoutKillsThePlugin) {
  nettest::write_script(path("slow"), "exec sleep 30\n");
  inv_.timeout = std::chrono::milliseconds(300);
  auto r = cni::exec_plugin("slow", inv_, json::object());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::timeout);
  EXPECT_EQ(r.error().message, "cni plugin slow ADD killed after 300 ms");
}

TEST_F(FakePlugins, HugeOutputIsBounded) {
  nettest::write_script(path("flood"), "head -c 5000000 /dev/zero | tr '\\0' 'a'\n");
  auto out = cni::exec_plugin("flood", inv_, json::object());
  ASSERT_TRUE(out.ok()) << out.error().str();
  EXPECT_LE(out->size(), cni::kMaxOutput + 1);
  auto r = cni::parse_result(*out, "flood");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("larger than 1 MiB"), std::string::npos);
}

// attach with a bridge plugin that prints garbage: a clear error, and DEL was
// still run (the spec's "a delete must be executed even if the add fails").
TEST_F(FakePlugins, AttachWithMalformedResult) {
  if (!nettest::is_root()) GTEST_SKIP() << "needs root for a netns";
  nettest::Scratch s;
  std::string ns = s.netns("fake");
  nettest::write_script(path("bridge"),
                        "echo \"$CNI_COMMAND\" >> " + path("calls") + "\n"
                        "[ \"$CNI_COMMAND\" = DEL ] && exit 0\necho '{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.1.1.1\"}]}'\n");
  for (const char* other : {"portmap", "firewall"})
    nettest::write_script(path(other), "echo \"$CNI_COMMAND\" >> " + path("calls") + "\nexit 0\n");
  BridgeNetwork net;
  net.name = "fake";
  net.bridge = "berthfake0";
  net.subnet = "10.1.0.0/16";
  net.plugin_dirs = {dir_->path()};
  net.state_dir = s.state_dir();
  auto a = attach(net, "c1", ns, {});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().message,
            "attach c1 to network fake: cni plugin bridge: malformed result: ips[0].address \"10.1.1.1\" is not CIDR");
  EXPECT_EQ(*read_file(path("calls")), "ADD\nDEL\nDEL\nDEL\n");
  EXPECT_FALSE(path_exists(s.state_dir() + "/results/fake-c1-eth0.json")) << "cache left behind";
}

TEST(CniInput, Validation) {
  EXPECT_TRUE(cni::valid_container_id("abc-1.2_3"));
  EXPECT_FALSE(cni::valid_container_id(""));
  EXPECT_FALSE(cni::valid_container_id("-x"));
  EXPECT_FALSE(cni::valid_container_id("a/b"));
  EXPECT_FALSE(cni::valid_container_id("a b"));
  std::string addr;
  int p;
  EXPECT_TRUE(cni::parse_cidr("10.0.0.0/8", &addr, &p));
  EXPECT_EQ(p, 8);
  EXPECT_FALSE(cni::parse_cidr("10.0.0.0/08", &addr, &p));
  EXPECT_FALSE(cni::parse_cidr("10.0.0.0/", &addr, &p));
  EXPECT_TRUE(cni::parse_cidr("fd00::/64", &addr, &p));
}

TEST(Conflist, Shape) {
  BridgeNetwork net;
  net.state_dir = "/run/berth/cni";
  auto c = conflist(net);
  ASSERT_TRUE(c.ok()) << c.error().str();
  EXPECT_EQ((*c)["cniVersion"], "1.0.0");
  EXPECT_EQ((*c)["name"], "berth");
  auto& p = (*c)["plugins"];
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0]["type"], "bridge");
  EXPECT_EQ(p[0]["ipam"]["ranges"][0][0]["gateway"], "10.89.0.1");
  EXPECT_EQ(p[0]["ipam"]["dataDir"], "/run/berth/cni/ipam");
  EXPECT_EQ(p[1]["type"], "portmap");
  EXPECT_EQ(p[2]["type"], "firewall");
  for (auto mutate : std::vector<std::function<void(BridgeNetwork&)>>{
           [](BridgeNetwork& n) { n.subnet = "10.89.0.1/16"; },
           [](BridgeNetwork& n) { n.subnet = "10.89.0.0/31"; },
           [](BridgeNetwork& n) { n.subnet = "fd00::/64"; },
           [](BridgeNetwork& n) { n.subnet = "nonsense"; },
           [](BridgeNetwork& n) { n.gateway = "10.90.0.1"; },
           [](BridgeNetwork& n) { n.gateway = "10.89.0.0"; },
           [](BridgeNetwork& n) { n.bridge = "a-very-long-bridge-name"; },
           [](BridgeNetwork& n) { n.name = "bad name"; },
           [](BridgeNetwork& n) { n.state_dir = "relative"; }}) {
    BridgeNetwork n = net;
    mutate(n);
    auto r = conflist(n);
    EXPECT_FALSE(r.ok()) << n.subnet << " " << n.gateway << " " << n.bridge << " " << n.name;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, Errc::invalid_argument);
    }
  }
}
