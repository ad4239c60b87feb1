#include <gtest/gtest.h>

#include "network/network.h"

using namespace berth::network;

namespace {

std::vector<PortMapping> ok(std::string_view flag) {
  auto r = parse_publish(flag);
  EXPECT_TRUE(r.ok()) << flag << ": " << (r.ok() ? "" : r.error().str());
  return r.ok() ? *r : std::vector<PortMapping>{};
}

}  // namespace

TEST(Publish, DockerForms) {
  EXPECT_EQ(ok("8080:80"), (std::vector<PortMapping>{{"", 8080, 80, "tcp"}}));
  EXPECT_EQ(ok("127.0.0.1:8080:80"), (std::vector<PortMapping>{{"127.0.0.1", 8080, 80, "tcp"}}));
  EXPECT_EQ(ok("127.0.0.1::80"), (std::vector<PortMapping>{{"127.0.0.1", 0, 80, "tcp"}}));
  EXPECT_EQ(ok("80"), (std::vector<PortMapping>{{"", 0, 80, "tcp"}}));
  EXPECT_EQ(ok("8080:80/udp"), (std::vector<PortMapping>{{"", 8080, 80, "udp"}}));
  EXPECT_EQ(ok("53/sctp"), (std::vector<PortMapping>{{"", 0, 53, "sctp"}}));
  EXPECT_EQ(ok("8000-8001:80-81"),
            (std::vector<PortMapping>{{"", 8000, 80, "tcp"}, {"", 8001, 81, "tcp"}}));
  EXPECT_EQ(ok("10.0.0.1:9000-9001:90-91/udp"),
            (std::vector<PortMapping>{{"10.0.0.1", 9000, 90, "udp"}, {"10.0.0.1", 9001, 91, "udp"}}));
  EXPECT_EQ(ok("80-81"), (std::vector<PortMapping>{{"", 0, 80, "tcp"}, {"", 0, 81, "tcp"}}));
  EXPECT_EQ(ok("65535:1"), (std::vector<PortMapping>{{"", 65535, 1, "tcp"}}));
}

TEST(Publish, Errors) {
  for (std::string_view bad :
       {"", "abc", "0", "65536", "80:", ":80", "1:2:3:4", "8080:80/icmp", "8080:80/", "8001-8000:80",
        "8000-8001:80", "8000-8002:80-81", "300.1.1.1:80:80", "[::1]:80:80", "::1:80:80", "x:80:80",
        "-1:80", "80-", "08080:80x", "127.0.0.1:0:80", "99999999999999999999:80", " 80"}) {
    auto r = parse_publish(bad);
    EXPECT_FALSE(r.ok()) << "accepted \"" << bad << "\"";
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, berth::Errc::invalid_argument);
      EXPECT_NE(r.error().message.find("publish"), std::string::npos) << r.error().message;
      EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
    }
  }
  auto v6 = parse_publish("[::1]:80:80");
  ASSERT_FALSE(v6.ok());
  EXPECT_NE(v6.error().message.find("IPv6"), std::string::npos);
}

TEST(Publish, All) {
  auto r = publish_all({"80/tcp", "53/udp", "443", "8000-8001/tcp", "80/tcp"});
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(*r, (std::vector<PortMapping>{{"", 0, 80, "tcp"},
                                          {"", 0, 53, "udp"},
                                          {"", 0, 443, "tcp"},
                                          {"", 0, 8000, "tcp"},
                                          {"", 0, 8001, "tcp"}}));
  EXPECT_FALSE(publish_all({"80/icmp"}).ok());
  EXPECT_FALSE(publish_all({"http"}).ok());
  EXPECT_TRUE(publish_all({})->empty());
}

TEST(Publish, PicksDistinctFreePorts) {
  std::vector<PortMapping> ports = {{"", 0, 80, "tcp"}, {"127.0.0.1", 0, 81, "tcp"},
                                    {"", 0, 53, "udp"}, {"", 1234, 82, "tcp"}};
  ASSERT_TRUE(pick_host_ports(ports).ok());
  EXPECT_NE(ports[0].host_port, 0);
  EXPECT_NE(ports[1].host_port, 0);
  EXPECT_NE(ports[2].host_port, 0);
  EXPECT_NE(ports[0].host_port, ports[1].host_port);
  EXPECT_EQ(ports[3].host_port, 1234);  // given ports are kept
}
