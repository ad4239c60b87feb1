#include "engine/spec_gen.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>

#include "base/fs.h"
#include "cgroup/resources.h"
#include "runtime/spec.h"

namespace berth::engine {
namespace {

using nlohmann::json;

const std::string kId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

class SpecGen : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::create("/tmp", "berth-specgen-test");
    ASSERT_TRUE(d.ok());
    dir_.emplace(std::move(*d));
    in.rootfs = dir_->path() + "/rootfs";
    ASSERT_TRUE(mkdir_p(in.rootfs + "/etc").ok());
    ASSERT_TRUE(atomic_write_file(in.rootfs + "/etc/passwd",
                                  "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
                    .ok());
    ASSERT_TRUE(atomic_write_file(in.rootfs + "/etc/group", "root:x:0:\nstaff:x:50:app\n").ok());
    in.id = kId;
    in.cgroups_path = "/berth/" + kId;
    in.image.cmd = std::vector<std::string>{"sh"};
  }

  // make_spec, and the runtime's and cgroup library's parsers must accept it.
  json gen() {
    auto r = make_spec(in);
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r.ok()) return json();
    auto parsed = runtime::parse_spec(r->dump());
    EXPECT_TRUE(parsed.ok()) << parsed.error().message;
    auto res = cgroup::parse_resources((*r)["linux"]["resources"]);
    EXPECT_TRUE(res.ok()) << res.error().message;
    return *r;
  }
  std::string gen_error() {
    auto r = make_spec(in);
    return r.ok() ? "" : r.error().message;
  }
  static std::vector<std::string> dests(const json& s) {
    std::vector<std::string> out;
    for (auto& m : s["mounts"]) out.push_back(m["destination"]);
    return out;
  }
  static const json* mount_at(const json& s, const std::string& d) {
    for (auto& m : s["mounts"])
      if (m["destination"] == d) return &m;
    return nullptr;
  }
  static bool has(const json& arr, const std::string& v) {
    return std::find(arr.begin(), arr.end(), v) != arr.end();
  }

  std::optional<TempDir> dir_;
  SpecInputs in;
};

TEST_F(SpecGen, DefaultHardening) {
  json s = gen();
  auto& caps = s["process"]["capabilities"];
  EXPECT_EQ(caps["bounding"].size(), 14u);
  EXPECT_EQ(caps["effective"], caps["bounding"]);
  EXPECT_EQ(caps["permitted"], caps["bounding"]);
  EXPECT_TRUE(caps["inheritable"].empty());
  EXPECT_TRUE(caps["ambient"].empty());
  for (const char* c : {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"})
    EXPECT_TRUE(has(caps["bounding"], c)) << c;
  EXPECT_FALSE(has(caps["bounding"], "CAP_SYS_ADMIN"));
  auto& lx = s["linux"];
  EXPECT_EQ(lx["maskedPaths"].size(), 11u);
  EXPECT_TRUE(has(lx["maskedPaths"], "/proc/kcore"));
  EXPECT_TRUE(has(lx["maskedPaths"], "/sys/firmware"));
  EXPECT_EQ(lx["readonlyPaths"],
            json({"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}));
  ASSERT_TRUE(lx.contains("seccomp"));
  EXPECT_EQ(lx["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_FALSE(lx["seccomp"]["syscalls"].empty());
  EXPECT_EQ(lx["resources"]["devices"][0], json({{"allow", false}, {"access", "rwm"}}));
  EXPECT_FALSE(s["process"]["noNewPrivileges"]);
  EXPECT_EQ(s["process"]["user"]["umask"], 18);
  EXPECT_FALSE(s["root"]["readonly"]);
  EXPECT_EQ(s["root"]["path"], in.rootfs);
  EXPECT_EQ(lx["cgroupsPath"], in.cgroups_path);
  EXPECT_EQ(s["hostname"], kId.substr(0, 12));
  EXPECT_FALSE(s["process"].contains("rlimits"));  // the caller's limits are inherited
  EXPECT_EQ(dests(s), (std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue",
                                                "/dev/shm"}));
  EXPECT_TRUE(has((*mount_at(s, "/sys"))["options"], "ro"));
  EXPECT_TRUE(has((*mount_at(s, "/dev/shm"))["options"], "size=67108864"));
  std::vector<std::string> ns;
  for (auto& n : lx["namespaces"]) ns.push_back(n["type"]);
  EXPECT_EQ(ns, (std::vector<std::string>{"pid", "ipc", "uts", "mount", "cgroup", "network"}));
}

TEST_F(SpecGen, CapAddDropAll) {
  in.options.cap_add = {"CAP_SYS_ADMIN"};
  in.options.cap_drop = {"CAP_NET_RAW", "CAP_MKNOD"};
  json s = gen();
  auto& b = s["process"]["capabilities"]["bounding"];
  EXPECT_EQ(b.size(), 13u);
  EXPECT_TRUE(has(b, "CAP_SYS_ADMIN"));
  EXPECT_FALSE(has(b, "CAP_NET_RAW"));

  in.options.cap_add = {"CAP_NET_BIND_SERVICE"};
  in.options.cap_drop = {"ALL"};
  s = gen();
  EXPECT_EQ(s["process"]["capabilities"]["bounding"], json({"CAP_NET_BIND_SERVICE"}));

  in.options.cap_add = {"ALL"};
  in.options.cap_drop = {"CAP_SYS_ADMIN"};
  s = gen();
  EXPECT_GT(s["process"]["capabilities"]["bounding"].size(), 30u);
  EXPECT_FALSE(has(s["process"]["capabilities"]["bounding"], "CAP_SYS_ADMIN"));
  EXPECT_TRUE(s["process"]["capabilities"]["inheritable"].empty());

  in.options.cap_add = {"CAP_BOGUS"};
  in.options.cap_drop = {};
  EXPECT_NE(gen_error().find("unknown capability"), std::string::npos);
}

TEST_F(SpecGen, SeccompFollowsCapabilities) {
  // Docker's profile allows mount & co only with CAP_SYS_ADMIN.
  auto names = [](const json& s) {
    std::vector<std::string> out;
    for (auto& r : s["linux"]["seccomp"]["syscalls"])
      if (r["action"] == "SCMP_ACT_ALLOW")
        for (auto& n : r["names"]) out.push_back(n);
    return out;
  };
  auto plain = names(gen());
  in.options.cap_add = {"CAP_SYS_ADMIN"};
  auto admin = names(gen());
  EXPECT_EQ(std::count(plain.begin(), plain.end(), "mount"), 0);
  EXPECT_EQ(std::count(admin.begin(), admin.end(), "mount"), 1);
}

TEST_F(SpecGen, NonRootUserKeepsOnlyBounding) {
  in.options.user = "app";
  json s = gen();
  auto& p = s["process"];
  EXPECT_EQ(p["user"]["uid"], 1000);
  EXPECT_EQ(p["user"]["gid"], 1000);
  EXPECT_EQ(p["user"]["additionalGids"], json({1000, 50}));
  EXPECT_EQ(p["capabilities"]["bounding"].size(), 14u);
  EXPECT_TRUE(p["capabilities"]["effective"].empty());
  EXPECT_TRUE(p["capabilities"]["permitted"].empty());
  EXPECT_TRUE(has(p["env"], "HOME=/home/app"));
}

TEST_F(SpecGen, UserFromImageAndErrors) {
  in.image.user = "app:staff";
  json s = gen();
  EXPECT_EQ(s["process"]["user"]["gid"], 50);
  EXPECT_EQ(s["process"]["user"]["additionalGids"], json({50}));  // the primary gid only
  in.options.user = "0";  // -u overrides the image USER
  s = gen();
  EXPECT_EQ(s["process"]["user"]["uid"], 0);
  in.options.user = "ghost";
  EXPECT_EQ(gen_error(), "user: unable to find user ghost: no matching entries in passwd file");
  in.options.user = "4321";
  s = gen();
  EXPECT_EQ(s["process"]["user"]["uid"], 4321);
  EXPECT_TRUE(has(s["process"]["env"], "HOME=/"));
  in.options.group_add = {"staff", "77"};
  s = gen();
  EXPECT_EQ(s["process"]["user"]["additionalGids"], json({0, 50, 77}));
  ResolvedUser pre;
  pre.uid = 7;
  pre.gid = 8;
  in.user = pre;
  in.options.group_add.clear();
  s = gen();
  EXPECT_EQ(s["process"]["user"]["uid"], 7);
}

TEST_F(SpecGen, EntrypointAndCmdRules) {
  struct {
    std::optional<std::vector<std::string>> img_ep, img_cmd;
    std::optional<std::vector<std::string>> ep;
    std::vector<std::string> cmd;
    std::vector<std::string> want;  // empty: "no command specified"
  } cases[] = {
      {std::nullopt, std::vector<std::string>{"sh"}, std::nullopt, {}, {"sh"}},
      {std::nullopt, std::vector<std::string>{"sh"}, std::nullopt, {"ls", "-l"}, {"ls", "-l"}},
      {std::vector<std::string>{"/ep"}, std::vector<std::string>{"a"}, std::nullopt, {}, {"/ep", "a"}},
      {std::vector<std::string>{"/ep"}, std::vector<std::string>{"a"}, std::nullopt, {"b"}, {"/ep", "b"}},
      {std::vector<std::string>{"/ep"}, std::vector<std::string>{"a"}, std::vector<std::string>{"/new"}, {}, {"/new"}},
      {std::vector<std::string>{"/ep"}, std::vector<std::string>{"a"}, std::vector<std::string>{"/new"}, {"x"},
       {"/new", "x"}},
      {std::vector<std::string>{"/ep"}, std::vector<std::string>{"a"}, std::vector<std::string>{}, {"ls"}, {"ls"}},
      {std::vector<std::string>{"/ep"}, std::vector<std::string>{"a"}, std::vector<std::string>{}, {}, {}},
      {std::nullopt, std::nullopt, std::nullopt, {}, {}},
  };
  for (auto& c : cases) {
    in.image.entrypoint = c.img_ep;
    in.image.cmd = c.img_cmd;
    in.options.entrypoint = c.ep;
    in.options.cmd = c.cmd;
    if (c.want.empty()) {
      EXPECT_EQ(gen_error(), "no command specified");
    } else {
      EXPECT_EQ(gen()["process"]["args"], json(c.want));
    }
  }
}

TEST_F(SpecGen, Init) {
  in.options.init = true;
  EXPECT_NE(gen_error().find("--init"), std::string::npos);
  in.init_path = "/usr/libexec/berth/init";
  json s = gen();
  EXPECT_EQ(s["process"]["args"], json({kInitPath, "--", "sh"}));
  auto* m = mount_at(s, kInitPath);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ((*m)["source"], in.init_path);
  EXPECT_TRUE(has((*m)["options"], "ro"));
}

TEST_F(SpecGen, EnvMerging) {
  in.image.env = {"PATH=/opt/bin", "A=image", "B=image"};
  in.options.env = {"B=cli", "C=cli", "HOSTNAME=override"};
  in.options.tty = true;
  json s = gen();
  EXPECT_EQ(s["process"]["env"], json({"PATH=/opt/bin", "HOSTNAME=override", "TERM=xterm", "A=image", "B=cli",
                                       "C=cli", "HOME=/root"}));
  EXPECT_TRUE(s["process"]["terminal"]);
  in.image.env.clear();
  in.options.env = {"HOME=/custom"};
  in.options.tty = false;
  s = gen();
  EXPECT_EQ(s["process"]["env"], json({std::string("PATH=") + kDefaultPath, "HOSTNAME=" + kId.substr(0, 12),
                                       "HOME=/custom"}));
}

TEST_F(SpecGen, WorkdirHostnameReadOnly) {
  json s = gen();
  EXPECT_EQ(s["process"]["cwd"], "/");
  in.image.working_dir = "/app";
  EXPECT_EQ(gen()["process"]["cwd"], "/app");
  in.options.workdir = "/srv//x/";
  EXPECT_EQ(gen()["process"]["cwd"], "/srv/x");
  in.options.hostname = "web";
  in.options.domainname = "example.org";
  in.options.read_only = true;
  in.files = {{dir_->path() + "/hosts", "/etc/hosts"}, {dir_->path() + "/resolv.conf", "/etc/resolv.conf"}};
  s = gen();
  EXPECT_EQ(s["hostname"], "web");
  EXPECT_EQ(s["domainname"], "example.org");
  EXPECT_TRUE(s["root"]["readonly"]);
  ASSERT_NE(mount_at(s, "/etc/hosts"), nullptr);
  EXPECT_TRUE(has((*mount_at(s, "/etc/hosts"))["options"], "ro"));
  EXPECT_TRUE(has(s["process"]["env"], "HOSTNAME=web"));
}

TEST_F(SpecGen, UserMountsOrderAndOverrides) {
  MountRequest v = *parse_volume("/host/data:/data/sub:ro");
  MountRequest parent = *parse_volume("named:/data");
  MountRequest t = *parse_tmpfs("/dev/shm:size=1m");
  MountRequest hosts = *parse_volume("/my/hosts:/etc/hosts");
  in.options.mounts = {v, parent, t, hosts};
  in.mounts = {resolve_mount(v), resolve_mount(parent, "/var/lib/berth/volumes/named/_data"), resolve_mount(t),
               resolve_mount(hosts)};
  in.files = {{dir_->path() + "/hosts", "/etc/hosts"}, {dir_->path() + "/hostname", "/etc/hostname"}};
  json s = gen();
  // The user's /dev/shm replaces the default; parents before children; the
  // user's /etc/hosts replaces the engine's.
  EXPECT_EQ(dests(s), (std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue",
                                                "/data", "/data/sub", "/dev/shm", "/etc/hosts", "/etc/hostname"}));
  auto* d = mount_at(s, "/data/sub");
  EXPECT_EQ((*d)["type"], "bind");
  EXPECT_EQ((*d)["options"], json({"rbind", "rprivate", "ro"}));
  EXPECT_EQ((*mount_at(s, "/data"))["source"], "/var/lib/berth/volumes/named/_data");
  EXPECT_EQ((*mount_at(s, "/etc/hosts"))["source"], "/my/hosts");
  auto* shm = mount_at(s, "/dev/shm");
  EXPECT_EQ((*shm)["type"], "tmpfs");
  EXPECT_EQ((*shm)["options"], json({"noexec", "nosuid", "nodev", "size=1048576"}));

  // A user /dev replaces all of Docker's /dev/* defaults.
  MountRequest dev = *parse_volume("/hostdev:/dev");
  in.options.mounts = {dev};
  in.mounts = {resolve_mount(dev)};
  in.files.clear();
  s = gen();
  EXPECT_EQ(dests(s), (std::vector<std::string>{"/proc", "/sys", "/sys/fs/cgroup", "/dev"}));
}

TEST_F(SpecGen, TmpfsDefaultsTurnedAround) {
  MountRequest t = *parse_tmpfs("/run:exec,mode=1777");
  auto r = resolve_mount(t);
  EXPECT_EQ(r.options, (std::vector<std::string>{"nosuid", "nodev", "exec", "mode=1777"}));
  MountRequest m = *parse_mount("type=tmpfs,dst=/cache,tmpfs-size=1m,ro");
  r = resolve_mount(m);
  EXPECT_EQ(r.options, (std::vector<std::string>{"noexec", "nosuid", "nodev", "size=1048576", "ro"}));
  MountRequest b = *parse_mount("type=bind,src=/a,dst=/b,bind-propagation=rshared");
  EXPECT_EQ(resolve_mount(b).options, (std::vector<std::string>{"rbind", "rshared"}));
  in.options.mounts = {t, m};
  in.mounts = {resolve_mount(t), resolve_mount(m)};
  gen();
}

TEST_F(SpecGen, Privileged) {
  in.options.privileged = true;
  in.options.cap_drop = {"CAP_CHOWN"};  // ignored under --privileged, as Docker
  json s = gen();
  EXPECT_GT(s["process"]["capabilities"]["bounding"].size(), 30u);
  EXPECT_TRUE(has(s["process"]["capabilities"]["bounding"], "CAP_CHOWN"));
  EXPECT_TRUE(s["process"]["capabilities"]["inheritable"].empty());
  // Only what this process can still grant (a sandboxed host lacks some).
  for (auto& c : s["process"]["capabilities"]["bounding"])
    EXPECT_EQ(::prctl(PR_CAPBSET_READ, runtime::cap_from_name(c.get<std::string>()), 0, 0, 0), 1) << c;
  EXPECT_FALSE(s["linux"].contains("seccomp"));
  EXPECT_FALSE(s["linux"].contains("maskedPaths"));
  EXPECT_FALSE(s["linux"].contains("readonlyPaths"));
  EXPECT_EQ(s["linux"]["resources"]["devices"], json::array({{{"allow", true}, {"access", "rwm"}}}));
  EXPECT_FALSE(has((*mount_at(s, "/sys"))["options"], "ro"));
}

TEST_F(SpecGen, SecurityOpts) {
  in.options.no_new_privileges = true;
  in.options.seccomp_unconfined = true;
  json s = gen();
  EXPECT_TRUE(s["process"]["noNewPrivileges"]);
  EXPECT_FALSE(s["linux"].contains("seccomp"));
  EXPECT_TRUE(s["linux"].contains("maskedPaths"));
  in.options.seccomp_unconfined = false;
  in.options.systempaths_unconfined = true;
  s = gen();
  EXPECT_TRUE(s["linux"].contains("seccomp"));
  EXPECT_FALSE(s["linux"].contains("maskedPaths"));
}

TEST_F(SpecGen, SeccompProfileFile) {
  // Docker's own profile format: archMap, includes/excludes, "name".
  in.options.seccomp_profile = R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
    "syscalls": [
      {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
      {"name": "getpid", "action": "SCMP_ACT_ALLOW", "comment": "old form"},
      {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["reboot"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_BOOT"]}}
    ]})";
  json s = gen();
  auto& sc = s["linux"]["seccomp"];
  EXPECT_EQ(sc["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(sc["syscalls"].size(), 3u);  // mount needs CAP_SYS_ADMIN
  EXPECT_EQ(sc["syscalls"][1]["names"], json({"getpid"}));
  EXPECT_FALSE(sc["syscalls"][1].contains("comment"));
  EXPECT_GE(sc["architectures"].size(), 1u);

  in.options.seccomp_profile = R"({"syscalls": []})";
  EXPECT_NE(gen_error().find("defaultAction"), std::string::npos);
  in.options.seccomp_profile = R"({"defaultAction":"SCMP_ACT_ALLOW","architectures":["x"],"archMap":[{"architecture":"y"}]})";
  EXPECT_NE(gen_error().find("archMap"), std::string::npos);
}

TEST_F(SpecGen, NetworkModes) {
  auto net = [](const json& s) -> const json* {
    for (auto& n : s["linux"]["namespaces"])
      if (n["type"] == "network") return &n;
    return nullptr;
  };
  in.options.network = "none";
  json s = gen();
  ASSERT_NE(net(s), nullptr);
  EXPECT_FALSE(net(s)->contains("path"));
  in.options.network = "bridge";
  in.netns_path = "/run/berth/x/netns/" + kId;
  s = gen();
  ASSERT_NE(net(s), nullptr);
  EXPECT_EQ((*net(s))["path"], in.netns_path);
  in.options.network = "host";
  s = gen();
  EXPECT_EQ(net(s), nullptr);
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  EXPECT_EQ(s["hostname"], host);  // Docker: host networking shows the host's name
}

TEST_F(SpecGen, Resources) {
  in.options.memory = 512 << 20;
  in.options.memory_reservation = 256 << 20;
  in.options.cpus = 1.5;
  in.options.cpu_shares = 512;
  in.options.cpuset_cpus = "0";
  in.options.pids_limit = 100;
  in.options.oom_score_adj = 500;
  in.options.shm_size = 128 << 20;
  in.options.ulimits = {*parse_ulimit("nofile=1024:2048"), *parse_ulimit("core=-1")};
  in.options.sysctls = {{"net.ipv4.ip_forward", "1"}};
  in.options.annotations = {{"org.example/a", "b"}};
  json s = gen();
  auto& r = s["linux"]["resources"];
  EXPECT_EQ(r["memory"], json({{"limit", 512 << 20}, {"reservation", 256 << 20}}));
  EXPECT_EQ(r["cpu"], json({{"shares", 512}, {"period", 100000}, {"quota", 150000}, {"cpus", "0"}}));
  EXPECT_EQ(r["pids"]["limit"], 100);
  EXPECT_EQ(s["process"]["oomScoreAdj"], 500);
  EXPECT_EQ(s["process"]["rlimits"][0], json({{"type", "RLIMIT_NOFILE"}, {"soft", 1024}, {"hard", 2048}}));
  EXPECT_EQ(s["process"]["rlimits"][1]["hard"], UINT64_MAX);
  EXPECT_EQ(s["linux"]["sysctl"]["net.ipv4.ip_forward"], "1");
  EXPECT_EQ(s["annotations"]["org.example/a"], "b");
  EXPECT_TRUE(has((*mount_at(s, "/dev/shm"))["options"], "size=134217728"));

  in.options.memory_swap = -1;
  in.options.pids_limit = -1;
  s = gen();
  EXPECT_EQ(s["linux"]["resources"]["memory"]["swap"], -1);
  EXPECT_EQ(s["linux"]["resources"]["pids"]["limit"], -1);
}

TEST_F(SpecGen, InvalidOptionsRefused) {
  in.options.memory = 1;
  EXPECT_NE(gen_error().find("--memory"), std::string::npos);
}

TEST_F(SpecGen, Deterministic) {
  in.options.cap_add = {"CAP_NET_ADMIN"};
  in.options.env = {"A=1"};
  EXPECT_EQ(gen().dump(), gen().dump());
}

}  // namespace
}  // namespace berth::engine
