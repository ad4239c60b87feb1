// The bridge network with Debian's real CNI plugins. Each test owns a bridge
// berthnt<N>, network name berthnt<N>, subnet 10.231.<N>.0/24 and a state dir,
// so tests run in parallel; everything is removed even when a check fails.
#include <gtest/gtest.h>

#include "helpers.h"
#include "network/network.h"

using namespace berth;
using namespace berth::network;

namespace {

class Bridge : public ::testing::Test {
 protected:
  void Init(int n) {
    if (!nettest::is_root()) GTEST_SKIP() << "needs root";
    if (!path_exists("/usr/lib/cni/bridge")) GTEST_SKIP() << "containernetworking-plugins not installed";
    n_ = n;
    net_.name = "berthnt" + std::to_string(n);
    net_.bridge = net_.name;
    net_.subnet = "10.231." + std::to_string(n) + ".0/24";
    net_.state_dir = scratch_.state_dir();
    prefix_ = "10.231." + std::to_string(n) + ".";
    // A run killed by a signal could not clean up: remove what it may have
    // left (rules named after these containers, the bridge) before starting.
    for (const char* id : {"cta", "ctb", "ctp", "ctq", "ctg", "ctc", "ctf"}) (void)detach(net_, id, "");
    DeleteBridge();
  }
  void DeleteBridge() {
    std::string cmd = "ip link del " + net_.bridge + " 2>/dev/null";
    (void)::system(cmd.c_str());
  }
  void TearDown() override {
    if (n_ < 0) return;
    for (const auto& [id, ns] : attached_) (void)detach(net_, id, ns);
    DeleteBridge();
  }
  // attach, remembering it for teardown.
  Result<Attachment> Attach(const std::string& id, const std::string& ns, std::vector<PortMapping> ports = {}) {
    attached_.emplace_back(id, ns);
    return attach(net_, id, ns, std::move(ports));
  }
  std::set<std::string> MyRules(std::set<std::string>* chains) {
    return nettest::lines_of(nettest::iptables_lines(), net_.name, prefix_, chains);
  }

  int n_ = -1;
  nettest::Scratch scratch_;
  BridgeNetwork net_;
  std::string prefix_;
  std::vector<std::pair<std::string, std::string>> attached_;
};

uint16_t port_of(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

}  // namespace

TEST_F(Bridge, TwoNamespacesPingAndHostReachesContainer) {
  Init(11);
  std::string a = scratch_.netns("a"), b = scratch_.netns("b");
  auto ra = Attach("cta", a);
  ASSERT_TRUE(ra.ok()) << ra.error().str();
  auto rb = Attach("ctb", b);
  ASSERT_TRUE(rb.ok()) << rb.error().str();
  EXPECT_TRUE(ra->ip.starts_with(prefix_)) << ra->ip;
  EXPECT_NE(ra->ip, rb->ip);
  EXPECT_EQ(ra->prefix_len, 24);
  EXPECT_EQ(ra->gateway, prefix_ + "1");
  EXPECT_EQ(ra->interface, "eth0");
  EXPECT_EQ(ra->mac.size(), 17u);
  EXPECT_TRUE(nettest::link_exists(net_.bridge));

  // a pings b across the bridge (busybox ping, raw sockets: root).
  std::string ping = "nsenter --net=" + a + " busybox ping -c1 -W2 " + rb->ip + " >/dev/null 2>&1";
  EXPECT_EQ(::system(ping.c_str()), 0) << ping;
  // The host reaches a TCP server inside b on b's IP; a reaches it too.
  UniqueFd l = nettest::listen_in(b, 0);
  ASSERT_TRUE(l.valid());
  EXPECT_TRUE(nettest::reaches(rb->ip, port_of(l.get()), l.get()));
  ::testing::AssertionResult from_a = ::testing::AssertionFailure();
  ASSERT_TRUE(in_netns(a, [&]() -> Status {
                from_a = nettest::reaches(rb->ip, port_of(l.get()), l.get());
                return {};
              }).ok());
  EXPECT_TRUE(from_a);
  // lo is up inside, as with Docker.
  UniqueFd lo = nettest::listen_in(a, 0);
  ::testing::AssertionResult lo_ok = ::testing::AssertionFailure();
  ASSERT_TRUE(in_netns(a, [&]() -> Status {
                lo_ok = nettest::reaches("127.0.0.1", port_of(lo.get()), lo.get());
                return {};
              }).ok());
  EXPECT_TRUE(lo_ok);
  // NAT out: the container's traffic to the host's other address is masqueraded.
  std::set<std::string> chains;
  auto rules = MyRules(&chains);
  bool masq = false;
  for (const auto& r : rules) masq |= r.find("-j MASQUERADE") != std::string::npos;
  EXPECT_TRUE(masq) << "no MASQUERADE rule for " << net_.name;
  std::string hip = nettest::host_ip();
  if (!hip.empty()) {
    std::string ping_host = "nsenter --net=" + a + " busybox ping -c1 -W2 " + hip + " >/dev/null 2>&1";
    EXPECT_EQ(::system(ping_host.c_str()), 0) << ping_host;
  }

  ASSERT_TRUE(detach(net_, "cta", a).ok());
  ASSERT_TRUE(detach(net_, "ctb", b).ok());
  EXPECT_FALSE(nettest::has_ip_allocations(net_.state_dir, net_.name));
  EXPECT_EQ(MyRules(&chains), std::set<std::string>{}) << "iptables rules left behind";
}

TEST_F(Bridge, PublishedPortsOnLoopbackAndHostAddress) {
  Init(12);
  std::string ns = scratch_.netns("p");
  auto ports = parse_publish("8080");  // host port picked at attach
  ASSERT_TRUE(ports.ok());
  auto fixed = parse_publish("127.0.0.1::9090/tcp");
  ASSERT_TRUE(fixed.ok());
  ports->push_back((*fixed)[0]);
  auto r = Attach("ctp", ns, *ports);
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_EQ(r->ports.size(), 2u);
  uint16_t hp = r->ports[0].host_port, hp2 = r->ports[1].host_port;
  EXPECT_NE(hp, 0);
  EXPECT_NE(hp2, 0);
  EXPECT_EQ(r->ports[1].host_ip, "127.0.0.1");

  UniqueFd l = nettest::listen_in(ns, 8080);
  UniqueFd l2 = nettest::listen_in(ns, 9090);
  ASSERT_TRUE(l.valid() && l2.valid());
  EXPECT_TRUE(nettest::reaches("127.0.0.1", hp, l.get())) << "hairpin from 127.0.0.1 needs route_localnet + SNAT";
  std::string hip = nettest::host_ip();
  ASSERT_FALSE(hip.empty());
  EXPECT_TRUE(nettest::reaches(hip, hp, l.get()));
  EXPECT_TRUE(nettest::reaches("127.0.0.1", hp2, l2.get()));
  // A container reaches a sibling's published port on the host address (hairpin).
  std::string other = scratch_.netns("q");
  auto rq = Attach("ctq", other);
  ASSERT_TRUE(rq.ok()) << rq.error().str();
  ::testing::AssertionResult hairpin = ::testing::AssertionFailure();
  ASSERT_TRUE(in_netns(other, [&]() -> Status {
                hairpin = nettest::reaches(hip, hp, l.get());
                return {};
              }).ok());
  EXPECT_TRUE(hairpin);

  std::set<std::string> chains;
  auto during = MyRules(&chains);
  bool dnat = false;
  for (const auto& line : during) dnat |= line.find("--to-destination " + r->ip + ":8080") != std::string::npos;
  EXPECT_TRUE(dnat) << "no DNAT rule to " << r->ip << ":8080";

  ASSERT_TRUE(detach(net_, "ctp", ns).ok());
  ASSERT_TRUE(detach(net_, "ctq", other).ok());
  EXPECT_EQ(MyRules(&chains), std::set<std::string>{}) << "iptables rules left behind";
  EXPECT_FALSE(nettest::has_ip_allocations(net_.state_dir, net_.name));
  // Detach is idempotent.
  auto again = detach(net_, "ctp", ns);
  EXPECT_TRUE(again.ok()) << again.error().str();
  EXPECT_EQ(MyRules(&chains), std::set<std::string>{});
}

// After a crash the namespace may be gone before detach runs: the bridge plugin
// then skips its masquerade chain, which detach removes itself.
TEST_F(Bridge, DetachAfterNetnsIsGone) {
  Init(13);
  std::string ns = scratch_.netns("gone");
  auto r = Attach("ctg", ns, {{"", 0, 80, "tcp"}});
  ASSERT_TRUE(r.ok()) << r.error().str();
  std::set<std::string> chains;
  ASSERT_FALSE(MyRules(&chains).empty());
  ASSERT_TRUE(remove_netns(ns).ok());
  auto st = detach(net_, "ctg", ns);
  EXPECT_TRUE(st.ok()) << st.error().str();
  EXPECT_EQ(MyRules(&chains), std::set<std::string>{}) << "iptables rules left behind";
  EXPECT_FALSE(nettest::has_ip_allocations(net_.state_dir, net_.name));
  EXPECT_TRUE(detach(net_, "ctg", ns).ok());
  EXPECT_TRUE(detach(net_, "ctg", "").ok());
}

// The result cache lost (e.g. a state dir wiped by hand): detach rebuilds the
// config, finds the IP in host-local's records and still removes everything.
TEST_F(Bridge, DetachWithoutCache) {
  Init(14);
  std::string ns = scratch_.netns("nocache");
  auto r = Attach("ctc", ns, {{"", 0, 80, "tcp"}});
  ASSERT_TRUE(r.ok()) << r.error().str();
  std::set<std::string> chains;
  ASSERT_FALSE(MyRules(&chains).empty());
  ASSERT_EQ(::unlink((net_.state_dir + "/results/" + net_.name + "-ctc-eth0.json").c_str()), 0);
  auto st = detach(net_, "ctc", ns);
  EXPECT_TRUE(st.ok()) << st.error().str();
  EXPECT_EQ(MyRules(&chains), std::set<std::string>{}) << "iptables rules left behind";
  EXPECT_FALSE(nettest::has_ip_allocations(net_.state_dir, net_.name));
  bool eth0 = true;
  ASSERT_TRUE(in_netns(ns, [&]() -> Status {
                eth0 = nettest::link_exists("eth0");
                return {};
              }).ok());
  EXPECT_FALSE(eth0) << "the veth survived detach";
  // A container never attached detaches fine too.
  EXPECT_TRUE(detach(net_, "never", ns).ok());
}

// A plugin failing halfway through ADD: the plugins before it are undone.
TEST_F(Bridge, FailedAttachLeavesNothing) {
  Init(15);
  std::string ns = scratch_.netns("fail");
  std::string fake = scratch_.path() + "/plugins";
  ASSERT_TRUE(mkdir_p(fake).ok());
  // The real bridge and portmap run, then "firewall" refuses ADD.
  nettest::write_script(fake + "/firewall",
                        "[ \"$CNI_COMMAND\" = ADD ] || exit 0\n"
                        "echo '{\"cniVersion\":\"1.0.0\",\"code\":100,\"msg\":\"refusing\"}'; exit 1\n");
  net_.plugin_dirs = {fake, "/usr/lib/cni"};
  std::set<std::string> chains;
  auto r = Attach("ctf", ns, {{"", 0, 80, "tcp"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "attach ctf to network " + net_.name + ": cni plugin firewall ADD failed: refusing (code 100)");
  EXPECT_EQ(MyRules(&chains), std::set<std::string>{}) << "iptables rules left behind";
  EXPECT_FALSE(nettest::has_ip_allocations(net_.state_dir, net_.name));
  EXPECT_FALSE(path_exists(net_.state_dir + "/results/" + net_.name + "-ctf-eth0.json"));
  bool eth0 = true;
  ASSERT_TRUE(in_netns(ns, [&]() -> Status {
                eth0 = nettest::link_exists("eth0");
                return {};
              }).ok());
  EXPECT_FALSE(eth0);

  // An invalid network fails before any plugin runs.
  BridgeNetwork bad = net_;
  bad.bridge = "berthnt15x";
  bad.subnet = "10.231.15.1/24";
  auto rb = attach(bad, "ctf2", ns, {});
  ASSERT_FALSE(rb.ok());
  EXPECT_EQ(rb.error().code, Errc::invalid_argument);
  EXPECT_FALSE(nettest::link_exists("berthnt15x"));
  EXPECT_FALSE(attach(net_, "bad id", ns, {}).ok());
  EXPECT_FALSE(attach(net_, "ctf3", scratch_.path(), {}).ok()) << "not a netns";
}
