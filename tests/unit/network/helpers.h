// Test helpers: scratch dirs that hold netns mounts, TCP reachability checks
// without external tools, iptables snapshots, fake CNI plugins.
#pragma once

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "base/fd.h"
#include "base/fs.h"
#include "network/network.h"

namespace nettest {

using berth::UniqueFd;

// A scratch dir with a netns/ subdir; unmounts whatever create_netns mounted.
class Scratch {
 public:
  Scratch() {
    auto d = berth::TempDir::create("/tmp", "berth-net");
    EXPECT_TRUE(d.ok());
    if (d.ok()) path_ = d->release();
  }
  ~Scratch() {
    if (path_.empty()) return;
    std::string ns = path_ + "/netns";
    for (const auto& n : names_) (void)berth::network::remove_netns(ns + "/" + n);
    // create_netns bound netns/ onto itself to make it shared; maybe twice if
    // racing, so unmount until it is not a mount point any more.
    while (::umount2(ns.c_str(), MNT_DETACH) == 0) {
    }
    (void)berth::remove_all(path_);
  }
  const std::string& path() const { return path_; }
  std::string netns_dir() const { return path_ + "/netns"; }
  std::string state_dir() const { return path_ + "/state"; }
  std::string netns(const std::string& name) {
    auto r = berth::network::create_netns(netns_dir(), name);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().str());
    names_.push_back(name);
    return r.ok() ? *r : std::string();
  }

 private:
  std::string path_;
  std::vector<std::string> names_;
};

inline bool is_root() { return ::geteuid() == 0; }

// A listening TCP socket on 0.0.0.0:port inside the namespace (port 0: any).
inline UniqueFd listen_in(const std::string& ns, uint16_t port) {
  UniqueFd out;
  auto st = berth::network::in_netns(ns, [&]() -> berth::Status {
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) return berth::sys_error("socket");
    int one = 1;
    ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return berth::sys_error("bind");
    if (::listen(s.get(), 8) != 0) return berth::sys_error("listen");
    out = std::move(s);
    return {};
  });
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().str());
  return out;
}

// Connects to ip:port from the calling thread's namespace, has the listener
// accept it and send a byte back: proof the connection reached that listener.
inline ::testing::AssertionResult reaches(const std::string& ip, uint16_t port, int listener) {
  UniqueFd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{5, 0};
  ::setsockopt(c.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(c.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  if (::connect(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
    return ::testing::AssertionFailure() << "connect " << ip << ":" << port << ": " << strerror(errno);
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, 5000) != 1)
    return ::testing::AssertionFailure() << "listener saw no connection for " << ip << ":" << port;
  UniqueFd s(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!s) return ::testing::AssertionFailure() << "accept: " << strerror(errno);
  if (::write(s.get(), "k", 1) != 1) return ::testing::AssertionFailure() << "write";
  char ch = 0;
  if (::read(c.get(), &ch, 1) != 1 || ch != 'k')
    return ::testing::AssertionFailure() << "no reply through " << ip << ":" << port;
  return ::testing::AssertionSuccess();
}

// The host's first global IPv4 address outside container bridges.
inline std::string host_ip() {
  ifaddrs* ifs = nullptr;
  if (::getifaddrs(&ifs) != 0) return {};
  std::string found;
  for (ifaddrs* i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
        (i->ifa_flags & IFF_LOOPBACK))
      continue;
    std::string n = i->ifa_name;
    if (n.starts_with("berth") || n.starts_with("cni") || n.starts_with("docker") || n.starts_with("veth") ||
        n.starts_with("podman"))
      continue;
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf, sizeof buf);
    found = buf;
    break;
  }
  ::freeifaddrs(ifs);
  return found;
}

inline std::string run_out(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[4096];
  size_t n;
  while ((n = ::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  ::pclose(f);
  return out;
}

// iptables-save lines (all tables) without counters and comments.
inline std::set<std::string> iptables_lines() {
  std::set<std::string> lines;
  std::string all = run_out("iptables-save 2>/dev/null");
  size_t start = 0;
  while (start < all.size()) {
    size_t nl = all.find('\n', start);
    std::string l = all.substr(start, nl - start);
    start = nl == std::string::npos ? all.size() : nl + 1;
    if (l.empty() || l[0] == '#') continue;
    if (l[0] == ':' && l.find(" [") != std::string::npos) l = l.substr(0, l.find(" ["));
    lines.insert(l);
  }
  return lines;
}

// Lines that belong to one test network: they name it, its subnet, or a chain
// that only its lines jump to.
inline std::set<std::string> lines_of(const std::set<std::string>& lines, const std::string& net_name,
                                      const std::string& subnet_prefix, std::set<std::string>* chains) {
  std::set<std::string> mine;
  for (const auto& l : lines) {
    if (l.find("\\\"" + net_name + "\\\"") != std::string::npos || l.find(subnet_prefix) != std::string::npos) {
      mine.insert(l);
      size_t j = l.find(" -j CNI-");
      if (j != std::string::npos && chains) {
        std::string c = l.substr(j + 4, l.find(' ', j + 4) - (j + 4));
        if (c.starts_with("CNI-DN-") || (c.size() == 28 && !c.starts_with("CNI-HOSTPORT")))
          chains->insert(c);
      }
    }
  }
  if (chains)
    for (const auto& l : lines)
      for (const auto& c : *chains)
        if (l.find(" " + c + " ") != std::string::npos || l.ends_with(" " + c) || l == ":" + c ||
            l.starts_with(":" + c + " "))
          mine.insert(l);
  return mine;
}

inline bool has_ip_allocations(const std::string& state_dir, const std::string& net_name) {
  std::string dir = state_dir + "/ipam/" + net_name;
  std::string listing = run_out("ls -1 " + dir + " 2>/dev/null");
  size_t start = 0;
  while (start < listing.size()) {
    size_t nl = listing.find('\n', start);
    std::string n = listing.substr(start, nl - start);
    start = nl == std::string::npos ? listing.size() : nl + 1;
    if (!n.empty() && n != "lock" && !n.starts_with("last_reserved_ip")) return true;
  }
  return false;
}

inline bool link_exists(const std::string& name) { return ::if_nametoindex(name.c_str()) != 0; }

// Writes an executable shell script.
inline void write_script(const std::string& path, const std::string& body) {
  ASSERT_TRUE(berth::atomic_write_file(path, "#!/bin/sh\n" + body, 0755).ok());
}

}  // namespace nettest
