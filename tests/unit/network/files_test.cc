#include <gtest/gtest.h>

#include "base/fs.h"
#include "network/network.h"

using namespace berth;
using namespace berth::network;

namespace {

const char* kDefaults =
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n";

class ResolvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::create("/tmp", "berth-resolv");
    ASSERT_TRUE(d.ok());
    dir_.emplace(std::move(*d));
  }
  std::string host(const std::string& text) {
    std::string p = dir_->path() + "/resolv.conf";
    EXPECT_TRUE(atomic_write_file(p, text).ok());
    return p;
  }
  std::optional<TempDir> dir_;
};

}  // namespace

TEST(Hosts, DockerShape) {
  EXPECT_EQ(hosts_file("web", "10.89.0.2", {}), std::string(kDefaults) + "10.89.0.2\tweb\n");
  EXPECT_EQ(hosts_file("web", "", {}), kDefaults);  // none mode: no container line
  EXPECT_EQ(hosts_file("web", "10.89.0.2", {"db:10.0.0.5", "v6:fd00::1", "gw:host-gateway"}, "10.89.0.1"),
            std::string(kDefaults) + "10.0.0.5\tdb\nfd00::1\tv6\n10.89.0.1\tgw\n10.89.0.2\tweb\n");
  // Unvalidated garbage never reaches the file.
  EXPECT_EQ(hosts_file("web", "10.89.0.2", {"bad", "x:notanip", "a b:1.2.3.4", "gw:host-gateway"}),
            std::string(kDefaults) + "10.89.0.2\tweb\n");
  EXPECT_EQ(hosts_file("bad name", "10.89.0.2", {}), kDefaults);
}

TEST(Hosts, Validation) {
  EXPECT_TRUE(validate_add_host("db:10.0.0.5").ok());
  EXPECT_TRUE(validate_add_host("db.example.com:::1").ok());
  EXPECT_TRUE(validate_add_host("gw:host-gateway").ok());
  for (std::string_view bad : {"", "db", "db:", ":1.2.3.4", "db:1.2.3", "-db:1.2.3.4", "d b:1.2.3.4",
                               "db:1.2.3.4\nevil", "db..x:1.2.3.4"}) {
    auto st = validate_add_host(bad);
    EXPECT_FALSE(st.ok()) << bad;
  }
  EXPECT_TRUE(validate_hostname("a").ok());
  EXPECT_TRUE(validate_hostname("web-1.example").ok());
  EXPECT_FALSE(validate_hostname("").ok());
  EXPECT_FALSE(validate_hostname(std::string(64, 'a')).ok());
  EXPECT_FALSE(validate_hostname("a_b").ok());
  EXPECT_FALSE(validate_hostname("web.").ok());
}

TEST_F(ResolvTest, HostFileKeptOutsideBridge) {
  std::string text = "# comment\nnameserver 127.0.0.1\nsearch example.com\n";
  auto r = resolv_conf({}, {}, {}, false, host(text));
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, text);
}

TEST_F(ResolvTest, BridgeDropsLoopbackNameservers) {
  auto r = resolv_conf({}, {}, {}, true, host("nameserver 127.0.0.53\nnameserver 10.0.0.2\noptions ndots:2\n"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "nameserver 10.0.0.2\noptions ndots:2\n");
  r = resolv_conf({}, {}, {}, true, host("nameserver 127.0.0.1\nnameserver ::1\nsearch lan\n"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "search lan\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n");
  r = resolv_conf({}, {}, {}, true, dir_->path() + "/missing");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
}

TEST_F(ResolvTest, FlagsRebuildTakingTheRestFromHost) {
  std::string h = host("nameserver 10.0.0.2\nsearch lan corp\noptions ndots:2\n");
  auto r = resolv_conf({"1.1.1.1", "2606:4700::1111"}, {}, {}, true, h);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "search lan corp\nnameserver 1.1.1.1\nnameserver 2606:4700::1111\noptions ndots:2\n");
  r = resolv_conf({}, {"example.com"}, {"timeout:1"}, true, h);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "search example.com\nnameserver 10.0.0.2\noptions timeout:1\n");
  r = resolv_conf({}, {"."}, {}, true, h);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "nameserver 10.0.0.2\noptions ndots:2\n");
}

TEST_F(ResolvTest, RejectsInjection) {
  std::string h = host("nameserver 10.0.0.2\n");
  EXPECT_FALSE(resolv_conf({"10.0.0.1\nnameserver 6.6.6.6"}, {}, {}, true, h).ok());
  EXPECT_FALSE(resolv_conf({"dns.example"}, {}, {}, true, h).ok());
  EXPECT_FALSE(resolv_conf({}, {"a b"}, {}, true, h).ok());
  EXPECT_FALSE(resolv_conf({}, {}, {"ndots:1 rotate"}, true, h).ok());
  EXPECT_FALSE(resolv_conf({}, {}, {"x\nnameserver 1.2.3.4"}, true, h).ok());
}
