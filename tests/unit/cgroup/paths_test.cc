#include "cgroup/paths.h"

#include <gtest/gtest.h>

#include "cgroup/layout.h"

namespace berth::cgroup {
namespace {

std::string resolved(const std::string& p, const std::string& id = "ctr", bool systemd = false) {
  auto r = resolve_path(p, id, systemd);
  EXPECT_TRUE(r.ok()) << p << ": " << (r.ok() ? "" : r.error().str());
  return r.ok() ? *r : "";
}

TEST(CgroupPath, AbsoluteIsRelativeToHierarchyRoot) {
  EXPECT_EQ(resolved("/a/b"), "/a/b");
  EXPECT_EQ(resolved("//a///b/"), "/a/b");
}

TEST(CgroupPath, RelativeGoesUnderBerthSubtree) {
  EXPECT_EQ(resolved("a/b"), "/berth/a/b");
  EXPECT_EQ(resolved("x"), "/berth/x");
}

TEST(CgroupPath, EmptyUsesContainerId) { EXPECT_EQ(resolved("", "abc123"), "/berth/abc123"); }

TEST(CgroupPath, SystemdFormMapsToScopeUnderExpandedSlice) {
  EXPECT_EQ(resolved("machine.slice:libpod:abc", "x", true), "/machine.slice/libpod-abc.scope");
  EXPECT_EQ(resolved("a-b-c.slice:docker:id", "x", true), "/a.slice/a-b.slice/a-b-c.slice/docker-id.scope");
  // Recognised without the flag too: podman passes it whenever its manager is systemd.
  EXPECT_EQ(resolved("user-1000.slice:pfx:n"), "/user.slice/user-1000.slice/pfx-n.scope");
  EXPECT_EQ(resolved(":pfx:n", "x", true), "/system.slice/pfx-n.scope");
  EXPECT_EQ(resolved("-.slice:pfx:n", "x", true), "/pfx-n.scope");
  EXPECT_EQ(resolved("system.slice::", "cid", true), "/system.slice/cid.scope");
  EXPECT_EQ(resolved("system.slice:pfx:sub.slice", "x", true), "/system.slice/sub.slice");
}

TEST(CgroupPath, ExpandSlice) {
  EXPECT_EQ(*expand_slice("a.slice"), "/a.slice");
  EXPECT_EQ(*expand_slice("a-b.slice"), "/a.slice/a-b.slice");
  EXPECT_EQ(*expand_slice("-.slice"), "/");
  EXPECT_EQ(*expand_slice(""), "/");
  EXPECT_FALSE(expand_slice("a--b.slice").ok());
  EXPECT_FALSE(expand_slice("-a.slice").ok());
  EXPECT_FALSE(expand_slice("a-.slice").ok());
  EXPECT_FALSE(expand_slice("a.scope").ok());
  EXPECT_FALSE(expand_slice("a/b.slice").ok());
}

TEST(CgroupPath, HostileInputIsRejectedWithOneLineError) {
  for (std::string bad : {std::string("/a/../b"), std::string("a/.."), std::string("./a"), std::string("/a\nb"),
                          std::string("/"), std::string(5000, 'a')}) {
    auto r = resolve_path(bad, "ctr");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
  }
  EXPECT_FALSE(resolve_path("", "../x").ok());
  EXPECT_FALSE(resolve_path("", "a/b").ok());
  EXPECT_FALSE(resolve_path("", "").ok());
  EXPECT_FALSE(resolve_path("a:b:c", "x", true).ok());  // systemd form needs a .slice
  EXPECT_FALSE(resolve_path("/abs", "x", true).ok());
  EXPECT_FALSE(resolve_path("s.slice:p:a/b", "x", true).ok());
}

constexpr const char* kHybrid =
    "22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
    "31 22 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:5 - cgroup cgroup rw,cpu,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd,release_agent=/x\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n"
    "42 31 0:29 / /mnt/again rw,relatime - cgroup cgroup rw,cpu,cpuacct\n";

TEST(CgroupLayout, ParsesHybrid) {
  auto l = parse_mountinfo(kHybrid);
  ASSERT_TRUE(l.ok()) << l.error().str();
  EXPECT_EQ(l->layout, Layout::hybrid);
  ASSERT_EQ(l->v1.size(), 3u);  // the duplicate cpu,cpuacct mount is ignored
  EXPECT_EQ(l->v1[0].mountpoint, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_TRUE(l->v1[0].has("cpuacct"));
  ASSERT_NE(l->find_v1("name=systemd"), nullptr);
  EXPECT_EQ(l->find_v1("name=systemd")->controllers.size(), 1u);
  EXPECT_EQ(l->find_v1("memory")->mountpoint, "/sys/fs/cgroup/memory");
  EXPECT_EQ(l->v2_mount, "/sys/fs/cgroup/unified");
}

TEST(CgroupLayout, ParsesPureV2AndV1) {
  auto v2 = parse_mountinfo("30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->layout, Layout::v2);
  EXPECT_EQ(v2->v2_mount, "/sys/fs/cgroup");
  auto v1 = parse_mountinfo("35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->layout, Layout::v1);
  // Only name=systemd in v1 plus cgroup2: the resources are all in v2.
  auto v2ish = parse_mountinfo(
      "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
  ASSERT_TRUE(v2ish.ok());
  EXPECT_EQ(v2ish->layout, Layout::v2);
}

TEST(CgroupLayout, EscapesBindRootsAndErrors) {
  auto l = parse_mountinfo("41 31 0:38 /ctr/x /sys/fs/cgroup\\040a rw - cgroup2 cgroup2 rw\n");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->v2_mount, "/sys/fs/cgroup a");
  EXPECT_EQ(l->v2_root, "/ctr/x");
  EXPECT_EQ(dir_for("/m", "/ctr/x", "/ctr/x/y"), "/m/y");
  EXPECT_EQ(dir_for("/m", "/ctr/x", "/ctr/x"), "/m");
  EXPECT_EQ(dir_for("/m", "/ctr/x", "/ctr/xy"), "");
  EXPECT_EQ(dir_for("/m", "/", "/a"), "/m/a");
  EXPECT_FALSE(parse_mountinfo("garbage line\n").ok());
  EXPECT_FALSE(parse_mountinfo("22 1 0:21 / /sys rw - sysfs sysfs rw\n").ok());  // no cgroup at all
}

TEST(CgroupLayout, HostIsDetected) {
  const HostLayout* h = host();
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->layout, host_layout());
  auto f = features();
  EXPECT_EQ(f["v2"], true);
  EXPECT_EQ(f["v1"], true);
  EXPECT_EQ(f["systemd"], false);
}

}  // namespace
}  // namespace berth::cgroup
