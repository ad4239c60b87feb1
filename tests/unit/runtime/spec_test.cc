#include "runtime/spec.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "runtime/mount_opts.h"
#include "runtime/state.h"
#include "runtime/sysctl.h"

namespace berth::runtime {
namespace {

using nlohmann::json;

json minimal() {
  return {{"ociVersion", "1.1.0"},
          {"root", {{"path", "rootfs"}}},
          {"process", {{"args", {"sh"}}, {"cwd", "/"}}},
          {"linux", {{"namespaces", {{{"type", "mount"}}, {{"type", "pid"}}}}}}};
}

std::string err_of(const json& j) {
  auto r = parse_spec(j.dump());
  return r.ok() ? "" : r.error().message;
}

TEST(Spec, DefaultSpecParses) {
  for (bool rootless : {false, true}) {
    auto r = parse_spec(default_spec(rootless).dump());
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->process->args[0], "sh");
    EXPECT_TRUE(r->root_readonly);
    EXPECT_EQ(r->linux.ns(NsType::user) != nullptr, rootless);
    EXPECT_EQ(r->process->caps.bounding.size(), 3u);
  }
}

TEST(Spec, ParsesFields) {
  json j = minimal();
  j["process"]["user"] = {{"uid", 1000}, {"gid", 1000}, {"umask", 18}, {"additionalGids", {5, 6}}};
  j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 10}, {"hard", 20}}};
  j["process"]["capabilities"] = {{"bounding", {"CAP_KILL", "cap_chown"}}};
  j["process"]["oomScoreAdj"] = -500;
  j["hostname"] = "box";
  j["mounts"] = {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}}};
  j["hooks"] = {{"prestart", {{{"path", "/bin/true"}, {"timeout", 5}}}}};
  j["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
  j["linux"]["devices"] = {{{"path", "/dev/fuse"}, {"type", "c"}, {"major", 10}, {"minor", 229}, {"fileMode", 438}}};
  j["linux"]["sysctl"] = {{"net.ipv4.ip_forward", "1"}};
  j["linux"]["personality"] = {{"domain", "LINUX32"}};
  j["annotations"] = {{"a", "b"}};
  auto r = parse_spec(j.dump());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->process->user.uid, 1000u);
  EXPECT_EQ(*r->process->user.umask, 18u);
  EXPECT_EQ(r->process->user.additional_gids.size(), 2u);
  EXPECT_EQ(r->process->rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(r->process->caps.bounding.size(), 2u);
  EXPECT_EQ(*r->process->oom_score_adj, -500);
  EXPECT_EQ(r->hooks.prestart[0].timeout, 5);
  EXPECT_EQ(r->linux.devices[0].major, 10);
  EXPECT_EQ(*r->linux.devices[0].file_mode, 438u);
  EXPECT_EQ(r->annotations.at("a"), "b");
  EXPECT_TRUE(r->linux.personality.has_value());
}

TEST(Spec, RejectsHostileInput) {
  EXPECT_NE(parse_spec("{").error().message.find("not valid JSON"), std::string::npos);
  EXPECT_NE(parse_spec("[]").error().message.find("object"), std::string::npos);
  struct Case {
    const char* field;
    std::function<void(json&)> mutate;
  } cases[] = {
      {"ociVersion", [](json& j) { j.erase("ociVersion"); }},
      {"ociVersion", [](json& j) { j["ociVersion"] = "2.0.0"; }},
      {"root", [](json& j) { j.erase("root"); }},
      {"root.path", [](json& j) { j["root"]["path"] = 7; }},
      {"process.args", [](json& j) { j["process"]["args"] = json::array(); }},
      {"process.args", [](json& j) { j["process"]["args"] = {1}; }},
      {"process.cwd", [](json& j) { j["process"]["cwd"] = "relative"; }},
      {"process.cwd", [](json& j) { j["process"].erase("cwd"); }},
      {"process.env", [](json& j) { j["process"]["env"] = {"NOEQUALS"}; }},
      {"process.user.uid", [](json& j) { j["process"]["user"] = {{"uid", -1}}; }},
      {"process.user.uid", [](json& j) { j["process"]["user"] = {{"uid", 1ull << 40}}; }},
      {"process.rlimits", [](json& j) { j["process"]["rlimits"] = {{{"type", "RLIMIT_BOGUS"}}}; }},
      {"process.rlimits.RLIMIT_NOFILE",
       [](json& j) { j["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 2}, {"hard", 1}}}; }},
      {"process.oomScoreAdj", [](json& j) { j["process"]["oomScoreAdj"] = 5000; }},
      {"mounts[0].destination", [](json& j) { j["mounts"] = {{{"destination", "rel"}}}; }},
      {"hooks.poststop[0].path", [](json& j) { j["hooks"] = {{"poststop", {{{"path", "rel"}}}}}; }},
      {"hooks.poststop[0].timeout", [](json& j) { j["hooks"] = {{"poststop", {{{"path", "/x"}, {"timeout", 0}}}}}; }},
      {"linux.namespaces", [](json& j) { j["linux"]["namespaces"] = {{{"type", "bogus"}}}; }},
      {"linux.namespaces", [](json& j) { j["linux"]["namespaces"] = {{{"type", "pid"}}, {{"type", "pid"}}}; }},
      {"linux.uidMappings", [](json& j) { j["linux"]["namespaces"] = {{{"type", "user"}}}; }},
      {"linux.devices", [](json& j) { j["linux"]["devices"] = {{{"path", "/dev/x"}, {"type", "z"}}}; }},
      {"linux.devices", [](json& j) { j["linux"]["devices"] = {{{"path", "dev/x"}, {"type", "c"}}}; }},
      {"linux.maskedPaths", [](json& j) { j["linux"]["maskedPaths"] = {"proc/kcore"}; }},
      {"linux.rootfsPropagation", [](json& j) { j["linux"]["rootfsPropagation"] = "weird"; }},
      {"linux.personality.domain", [](json& j) { j["linux"]["personality"] = {{"domain", "BSD"}}; }},
      {"linux.sysctl.x", [](json& j) { j["linux"]["sysctl"] = {{"x", 1}}; }},
      {"annotations.k", [](json& j) { j["annotations"] = {{"k", 1}}; }},
      {"hostname", [](json& j) { j["hostname"] = std::string(65, 'h'); }},
  };
  for (const auto& c : cases) {
    json j = minimal();
    c.mutate(j);
    std::string e = err_of(j);
    EXPECT_NE(e.find(c.field), std::string::npos) << "want error naming " << c.field << ", got: " << e;
  }
}

TEST(Spec, Signals) {
  EXPECT_EQ(signal_from_name("KILL"), SIGKILL);
  EXPECT_EQ(signal_from_name("SIGTERM"), SIGTERM);
  EXPECT_EQ(signal_from_name("sigusr1"), SIGUSR1);
  EXPECT_EQ(signal_from_name("9"), 9);
  EXPECT_EQ(signal_from_name("RTMIN+1"), SIGRTMIN + 1);
  EXPECT_EQ(signal_from_name("0"), -1);
  EXPECT_EQ(signal_from_name("99"), -1);
  EXPECT_EQ(signal_from_name("NOPE"), -1);
  EXPECT_EQ(signal_from_name(""), -1);
}

TEST(Spec, UnknownCapabilityIsAWarningNotAnError) {
  // config.md: "MUST be logged as a warning by the runtime. Runtimes SHOULD
  // NOT fail if the container configuration requests capabilities that
  // cannot be granted".
  json j = minimal();
  j["process"]["capabilities"] = {{"bounding", {"CAP_KILL", "CAP_NOPE"}}};
  auto s = parse_spec(j.dump());
  ASSERT_TRUE(s.ok()) << s.error().str();
  EXPECT_EQ(s->process->caps.bounding.size(), 1u);
  ASSERT_EQ(s->process->warnings.size(), 1u);
  EXPECT_NE(s->process->warnings[0].find("CAP_NOPE"), std::string::npos);
}

TEST(Spec, Capabilities) {
  EXPECT_EQ(cap_from_name("CAP_SYS_ADMIN"), 21);
  EXPECT_EQ(cap_from_name("cap_kill"), 5);
  EXPECT_EQ(cap_from_name("SYS_ADMIN"), -1);
  EXPECT_EQ(cap_from_name("CAP_41"), -1);
  EXPECT_EQ(cap_to_name(5), "CAP_KILL");
}

TEST(MountOpts, Flags) {
  auto o = parse_mount_options({"rbind", "ro", "nosuid", "rprivate", "rnoexec", "mode=755", "size=1k"});
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->bind());
  EXPECT_TRUE(o->flags & MS_REC);
  EXPECT_TRUE(o->flags & MS_RDONLY);
  EXPECT_TRUE(o->flags & MS_NOSUID);
  EXPECT_EQ(o->propagation, static_cast<unsigned long>(MS_PRIVATE | MS_REC));
  EXPECT_EQ(o->attr_set, static_cast<uint64_t>(MOUNT_ATTR_NOEXEC));
  EXPECT_EQ(o->data, "mode=755,size=1k");
  auto rw = parse_mount_options({"ro", "rw"});
  EXPECT_FALSE(rw->flags & MS_RDONLY);
  EXPECT_FALSE(parse_mount_options({"idmap"}).ok());
  EXPECT_FALSE(parse_mount_options({"a,b"}).ok());
}

TEST(Sysctl, Validation) {
  Spec s;
  s.linux.namespaces = {{NsType::network, ""}, {NsType::ipc, ""}};
  auto ok = [&](std::map<std::string, std::string> m) {
    s.linux.sysctl = std::move(m);
    return validate_sysctls(s).ok();
  };
  EXPECT_TRUE(ok({{"net.ipv4.ip_forward", "1"}}));
  EXPECT_TRUE(ok({{"kernel.shm_rmid_forced", "1"}}));
  EXPECT_TRUE(ok({{"fs.mqueue.msg_max", "10"}}));
  EXPECT_FALSE(ok({{"kernel.core_pattern", "|/evil"}}));
  EXPECT_FALSE(ok({{"kernel.hostname", "x"}}));  // no uts namespace
  EXPECT_FALSE(ok({{"kernel.shm_rmid_forced=1+kernel.core_pattern", "x"}}));
  EXPECT_FALSE(ok({{"net.ipv4.ip_forward", "1\nkernel.core_pattern=x"}}));
  EXPECT_FALSE(ok({{"net/../kernel/core_pattern", "x"}}));
  EXPECT_FALSE(ok({{"/net/ipv4/ip_forward", "1"}}));
  s.linux.namespaces.clear();
  EXPECT_FALSE(ok({{"net.ipv4.ip_forward", "1"}}));  // host network namespace
}

TEST(State, Ids) {
  EXPECT_TRUE(validate_id("abc-1.2_3+x").ok());
  EXPECT_FALSE(validate_id("").ok());
  EXPECT_FALSE(validate_id("../x").ok());
  EXPECT_FALSE(validate_id("a/b").ok());
  EXPECT_FALSE(validate_id("-a").ok());
  EXPECT_FALSE(validate_id(std::string(1025, 'a')).ok());
}

TEST(State, ProcessStartTime) {
  EXPECT_NE(process_start_time(::getpid()), 0u);
  EXPECT_TRUE(process_alive(::getpid(), process_start_time(::getpid())));
  EXPECT_FALSE(process_alive(::getpid(), process_start_time(::getpid()) + 1));
  EXPECT_EQ(now_rfc3339().size(), 30u);
}

}  // namespace
}  // namespace berth::runtime
