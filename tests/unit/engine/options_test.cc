#include "engine/options.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "base/fs.h"

// The run/create CLI glue lives in cmd/berth (no library of its own); it is
// compiled into this test so the flag table and the prefix_command behaviour
// are covered by unit tests too.
#include "../../../cmd/berth/run_flags.cc"

namespace berth::engine {
namespace {

std::string err(const Error& e) { return e.message; }

TEST(ParseBytes, Table) {
  struct {
    const char* in;
    int64_t want;
  } ok[] = {{"0", 0},           {"1024", 1024},        {"1k", 1024},          {"1K", 1024},
            {"512m", 512 << 20}, {"1g", 1ll << 30},    {"1G", 1ll << 30},     {"1.5g", 3ll << 29},
            {"100MB", 100 << 20}, {"100 MB", 100 << 20}, {"2gib", 2ll << 30}, {"10b", 10},
            {"1t", 1ll << 40},    {"1p", 1ll << 50},     {"1024k", 1 << 20}};
  for (auto& c : ok) {
    auto r = parse_bytes(c.in, "--memory");
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.error().message;
    EXPECT_EQ(*r, c.want) << c.in;
  }
  struct {
    const char* in;
    const char* msg;
  } bad[] = {{"12x", "invalid --memory \"12x\": unknown unit \"x\""},
             {"", "invalid --memory \"\": empty size"},
             {"m", "invalid --memory \"m\": expected a number"},
             {"-1", "invalid --memory \"-1\": expected a number"},
             {"1.g", "invalid --memory \"1.g\": expected digits after \".\""},
             {"1gg", "invalid --memory \"1gg\": unknown unit \"gg\""},
             {"99999999999999999999", "invalid --memory \"99999999999999999999\": too large"},
             {"9000000p", "invalid --memory \"9000000p\": too large"},
             {"1  m", "invalid --memory \"1  m\": unknown unit \" m\""}};
  for (auto& c : bad) {
    auto r = parse_bytes(c.in, "--memory");
    ASSERT_FALSE(r.ok()) << c.in;
    EXPECT_EQ(err(r.error()), c.msg);
  }
}

TEST(ParseDuration, Table) {
  EXPECT_EQ(*parse_duration("30s"), 30'000'000'000);
  EXPECT_EQ(*parse_duration("1m30s"), 90'000'000'000);
  EXPECT_EQ(*parse_duration("250ms"), 250'000'000);
  EXPECT_EQ(*parse_duration("1.5h"), 5'400'000'000'000);
  EXPECT_EQ(*parse_duration("0"), 0);
  EXPECT_EQ(*parse_duration("10us"), 10'000);
  for (const char* b : {"", "30", "-1s", "1x", "s", "1..2s", "1e3s"})
    EXPECT_FALSE(parse_duration(b, "--health-interval").ok()) << b;
  EXPECT_EQ(parse_duration("30", "--health-interval").error().message,
            "invalid --health-interval \"30\": missing unit (e.g. 30s, 1m, 500ms)");
}

TEST(ParseSignal, NamesAndNumbers) {
  EXPECT_EQ(*parse_signal("SIGTERM"), SIGTERM);
  EXPECT_EQ(*parse_signal("TERM"), SIGTERM);
  EXPECT_EQ(*parse_signal("kill"), SIGKILL);
  EXPECT_EQ(*parse_signal("9"), 9);
  EXPECT_EQ(*parse_signal("SIGRTMIN+3"), SIGRTMIN + 3);
  for (const char* b : {"", "0", "SIGFOO", "99", "-9", "TERM "}) EXPECT_FALSE(parse_signal(b).ok()) << b;
  EXPECT_EQ(parse_signal("FOO", "--stop-signal").error().message, "invalid --stop-signal \"FOO\": unknown signal");
}

TEST(ParseUlimit, Table) {
  auto u = parse_ulimit("nofile=1024:2048");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->name, "nofile");
  EXPECT_EQ(u->soft, 1024u);
  EXPECT_EQ(u->hard, 2048u);
  u = parse_ulimit("nproc=512");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->soft, 512u);
  EXPECT_EQ(u->hard, 512u);
  u = parse_ulimit("core=-1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->soft, UINT64_MAX);
  u = parse_ulimit("memlock=64:unlimited");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->hard, UINT64_MAX);
  for (const char* b : {"nofile", "nofile=", "bogus=1", "nofile=2048:1024", "nofile=x", "nofile=1:2:3", "=1",
                        "nofile=-5", "NOFILE=1"})
    EXPECT_FALSE(parse_ulimit(b).ok()) << b;
  EXPECT_EQ(parse_ulimit("nofile=2048:1024").error().message,
            "invalid --ulimit \"nofile=2048:1024\": soft limit must be less than or equal to hard limit");
}

TEST(ParseRestart, Table) {
  EXPECT_EQ(parse_restart("no")->policy, RestartPolicy::no);
  EXPECT_EQ(parse_restart("always")->policy, RestartPolicy::always);
  EXPECT_EQ(parse_restart("unless-stopped")->policy, RestartPolicy::unless_stopped);
  auto r = parse_restart("on-failure:3");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->policy, RestartPolicy::on_failure);
  EXPECT_EQ(r->max_retries, 3);
  EXPECT_EQ(parse_restart("on-failure")->max_retries, 0);
  for (const char* b : {"sometimes", "always:3", "on-failure:", "on-failure:-1", "on-failure:x", "no:1"})
    EXPECT_FALSE(parse_restart(b).ok()) << b;
  EXPECT_STREQ(restart_policy_name(RestartPolicy::on_failure), "on-failure");
}

TEST(ParseVolume, Binds) {
  auto m = parse_volume("/host/dir:/ctr/dir");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->kind, MountRequest::bind);
  EXPECT_EQ(m->source, "/host/dir");
  EXPECT_EQ(m->target, "/ctr/dir");
  EXPECT_FALSE(m->readonly);
  EXPECT_TRUE(m->create_source);

  m = parse_volume("/a//b/../c:/x/./y/:ro,Z,rshared");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->source, "/a/c");
  EXPECT_EQ(m->target, "/x/y");
  EXPECT_TRUE(m->readonly);
  EXPECT_EQ(m->propagation, "rshared");

  m = parse_volume("./data:/data", "/home/me");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->kind, MountRequest::bind);
  EXPECT_EQ(m->source, "/home/me/data");
  m = parse_volume("../up:/data", "/home/me");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->source, "/home/up");
}

TEST(ParseVolume, NamedAndAnonymous) {
  auto m = parse_volume("cache:/var/cache:ro,nocopy");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->kind, MountRequest::volume);
  EXPECT_EQ(m->source, "cache");
  EXPECT_TRUE(m->readonly);
  EXPECT_TRUE(m->no_copy);
  m = parse_volume("/data");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->kind, MountRequest::anonymous);
  EXPECT_EQ(m->target, "/data");
  EXPECT_TRUE(m->source.empty());
}

TEST(ParseVolume, Errors) {
  struct {
    const char* in;
    const char* msg;
  } bad[] = {
      {"", "invalid -v \"\": expected [source:]container-path[:options]"},
      {":/x", "invalid -v \":/x\": expected [source:]container-path[:options]"},
      {"a:b:c:d", "invalid -v \"a:b:c:d\": expected [source:]container-path[:options]"},
      {"data", "invalid -v \"data\": container path \"data\" must be absolute"},
      {"/h:/", "invalid -v \"/h:/\": the container path cannot be \"/\""},
      {"/h:rel", "invalid -v \"/h:rel\": container path \"rel\" must be absolute"},
      {"/ctr:ro", "invalid -v \"/ctr:ro\": a volume needs a source before its options"},
      {"/h:/c:xx", "invalid -v \"/h:/c:xx\": unknown option \"xx\""},
      {"/h:/c:ro,rw", "invalid -v \"/h:/c:ro,rw\": conflicting options \"ro,rw\""},
      {"/h:/c:shared,private", "invalid -v \"/h:/c:shared,private\": conflicting options \"shared,private\""},
      {"/h:/c:nocopy", "invalid -v \"/h:/c:nocopy\": \"nocopy\" applies to named volumes only"},
      {"/h:/c:", "invalid -v \"/h:/c:\": empty options"},
      {"x:/c", "invalid -v \"x:/c\": \"x\" is not a valid volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+); a host path must "
               "be absolute or start with \".\""},
      {"a b:/c", nullptr},
      {"_v:/c", nullptr},
  };
  for (auto& c : bad) {
    auto r = parse_volume(c.in, "/cwd");
    ASSERT_FALSE(r.ok()) << c.in;
    if (c.msg) {
      EXPECT_EQ(r.error().message, c.msg);
    }
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  }
  auto r = parse_volume(std::string_view("/h\0x:/c", 7));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("NUL"), std::string::npos);
}

TEST(ParseMount, Forms) {
  auto m = parse_mount("type=bind,source=/src,target=/dst,readonly,bind-propagation=rslave");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->kind, MountRequest::bind);
  EXPECT_EQ(m->source, "/src");
  EXPECT_EQ(m->target, "/dst");
  EXPECT_TRUE(m->readonly);
  EXPECT_EQ(m->propagation, "rslave");
  EXPECT_FALSE(m->create_source);

  m = parse_mount("type=volume,src=vol1,dst=/data,volume-nocopy");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->kind, MountRequest::volume);
  EXPECT_EQ(m->source, "vol1");
  EXPECT_TRUE(m->no_copy);

  m = parse_mount("destination=/anon");  // default type volume, no source: anonymous
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->kind, MountRequest::anonymous);

  m = parse_mount("type=tmpfs,target=/run,tmpfs-size=64m,tmpfs-mode=1770,ro=false");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->kind, MountRequest::tmpfs);
  EXPECT_FALSE(m->readonly);
  EXPECT_EQ(m->options, (std::vector<std::string>{"size=67108864", "mode=1770"}));

  m = parse_mount("type=bind,\"source=/a,b\",target=/c", "/");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->source, "/a,b");

  m = parse_mount("type=bind,source=rel/dir,target=/c", "/base");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->source, "/base/rel/dir");
  m = parse_mount("TYPE=bind,Source=/a,Target=/b,readonly=1");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_TRUE(m->readonly);
}

TEST(ParseMount, Errors) {
  const char* bad[] = {
      "type=bind,target=/c",                         // bind needs a source
      "type=bind,source=/a",                         // target required
      "type=tmpfs,source=/a,target=/b",              // tmpfs takes no source
      "type=nfs,target=/b",                          // unsupported type
      "type=bind,source=/a,target=/b,tmpfs-size=1m", // option/type mismatch
      "type=volume,target=/b,bind-propagation=shared",
      "type=tmpfs,target=/b,volume-nocopy",
      "type=bind,source=/a,target=/b,readonly=maybe",
      "type=bind,source=/a,target=/b,bogus=1",
      "type=bind,source=/a,target=/b,justakey",
      "type=bind,source=/a,target=/b,bind-propagation=weird",
      "type=volume,source=a b,target=/b",
      "type=tmpfs,target=/b,tmpfs-mode=999",
      "type=tmpfs,target=/b,tmpfs-size=lots",
      "type=bind,\"source=/a,target=/b",
      "type=bind,source=/a,target=relative",
      "type=volume,source=v,target=/b,volume-driver=nfs",
  };
  for (const char* b : bad) {
    auto r = parse_mount(b, "/");
    EXPECT_FALSE(r.ok()) << b;
    if (!r.ok()) {
      EXPECT_EQ(r.error().message.rfind("invalid --mount", 0), 0u) << r.error().message;
    }
  }
  EXPECT_EQ(parse_mount("type=bind,source=/a").error().message,
            "invalid --mount \"type=bind,source=/a\": target is required");
}

TEST(ParseTmpfs, Forms) {
  auto m = parse_tmpfs("/run");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->kind, MountRequest::tmpfs);
  EXPECT_EQ(m->target, "/run");
  EXPECT_TRUE(m->options.empty());
  m = parse_tmpfs("/run:rw,size=64m,mode=1777,exec,uid=1000");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->options, (std::vector<std::string>{"size=67108864", "mode=1777", "exec", "uid=1000"}));
  m = parse_tmpfs("/ro:ro,size=50%");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_TRUE(m->readonly);
  for (const char* b : {"run", "/", "/run:size=", "/run:mode=abc", "/run:bogus", "/run:uid=x", "/run:size=200%",
                        "/run:rw,,exec"})
    EXPECT_FALSE(parse_tmpfs(b).ok()) << b;
}

EnvLookup fake_env() {
  return [](const std::string& k) -> std::optional<std::string> {
    if (k == "HOME") return std::string("/home/me");
    if (k == "EMPTY") return std::string();
    return std::nullopt;
  };
}

TEST(RunEnv, DashE) {
  EXPECT_EQ(**parse_env("A=1", fake_env()), "A=1");
  EXPECT_EQ(**parse_env("A==x=", fake_env()), "A==x=");
  EXPECT_EQ(**parse_env("A=", fake_env()), "A=");
  EXPECT_EQ(**parse_env("HOME", fake_env()), "HOME=/home/me");
  EXPECT_EQ(**parse_env("EMPTY", fake_env()), "EMPTY=");
  EXPECT_FALSE(parse_env("UNSET", fake_env())->has_value());
  EXPECT_FALSE(parse_env("=x", fake_env()).ok());
  EXPECT_EQ(parse_env("=x", fake_env()).error().message, "invalid -e \"=x\": empty variable name");
}

TEST(RunEnv, FileRules) {
  std::string text =
      "\xef\xbb\xbf# comment\n"
      "\n"
      "   \n"
      "A=1\n"
      "  B=two words  \n"
      "C=\"quoted\"\n"
      "HOME\n"
      "UNSET\n"
      "  # indented comment\n"
      "D=x=y\r\n"
      "E";
  auto r = parse_env_text(text, "f.env", fake_env());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, (std::vector<std::string>{"A=1", "B=two words  ", "C=\"quoted\"", "HOME=/home/me", "D=x=y"}));

  auto e = parse_env_text("A=1\nBAD KEY=2\n", "f.env", fake_env());
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message, "invalid --env-file \"f.env\" line 2: variable \"BAD KEY\" contains whitespace");
  EXPECT_FALSE(parse_env_text("=v\n", "f", fake_env()).ok());
  EXPECT_FALSE(parse_env_text("A=\xff\xfe\n", "f", fake_env()).ok());
  EXPECT_FALSE(parse_env_text("A=\xed\xa0\x80\n", "f", fake_env()).ok());  // a surrogate
  EXPECT_FALSE(parse_env_text("A=\xc0\xaf\n", "f", fake_env()).ok());      // overlong '/'
  EXPECT_FALSE(parse_env_text("A=\xe2\x82\n", "f", fake_env()).ok());      // truncated
  EXPECT_TRUE(parse_env_text("A=\xe2\x82\xac \xf0\x9f\x90\xb3\n", "f", fake_env()).ok());
  EXPECT_FALSE(parse_env_text(std::string("A=\0b\n", 5), "f", fake_env()).ok());
  EXPECT_FALSE(parse_env_file("/nonexistent/env/file", fake_env()).ok());
}

TEST(RunLabels, Forms) {
  EXPECT_EQ(*parse_label("a=b"), std::make_pair(std::string("a"), std::string("b")));
  EXPECT_EQ(*parse_label("a"), std::make_pair(std::string("a"), std::string("")));
  EXPECT_EQ(*parse_label("a=b=c"), std::make_pair(std::string("a"), std::string("b=c")));
  EXPECT_FALSE(parse_label("=b").ok());
  auto dir = TempDir::create("/tmp", "berth-opt-test");
  ASSERT_TRUE(dir.ok());
  std::string p = dir->path() + "/labels";
  ASSERT_TRUE(atomic_write_file(p, "# c\na=1\nbare\nb=x y\n").ok());
  auto l = parse_label_file(p);
  ASSERT_TRUE(l.ok()) << l.error().message;
  // Docker's label files skip bare keys (there is no environment to fill them).
  EXPECT_EQ(*l, (std::map<std::string, std::string>{{"a", "1"}, {"b", "x y"}}));
}

TEST(RunCaps, Names) {
  EXPECT_EQ(*parse_capability("net_admin", "--cap-add"), "CAP_NET_ADMIN");
  EXPECT_EQ(*parse_capability("CAP_SYS_ADMIN", "--cap-add"), "CAP_SYS_ADMIN");
  EXPECT_EQ(*parse_capability("Cap_Chown", "--cap-add"), "CAP_CHOWN");
  EXPECT_EQ(*parse_capability("all", "--cap-drop"), "ALL");
  EXPECT_FALSE(parse_capability("CAP_FLY", "--cap-add").ok());
  EXPECT_EQ(parse_capability("fly", "--cap-add").error().message,
            "invalid --cap-add \"fly\": unknown capability \"CAP_FLY\"");
  EXPECT_FALSE(parse_capability("", "--cap-add").ok());
}

TEST(RunSecurityOpt, Forms) {
  RunOptions o;
  ASSERT_TRUE(apply_security_opt(o, "no-new-privileges").ok());
  EXPECT_TRUE(o.no_new_privileges);
  ASSERT_TRUE(apply_security_opt(o, "no-new-privileges:false").ok());
  EXPECT_FALSE(o.no_new_privileges);
  ASSERT_TRUE(apply_security_opt(o, "no-new-privileges=true").ok());
  EXPECT_TRUE(o.no_new_privileges);
  EXPECT_FALSE(apply_security_opt(o, "no-new-privileges=maybe").ok());
  ASSERT_TRUE(apply_security_opt(o, "seccomp=unconfined").ok());
  EXPECT_TRUE(o.seccomp_unconfined);
  ASSERT_TRUE(apply_security_opt(o, "label=disable").ok());
  ASSERT_TRUE(apply_security_opt(o, "label:type:foo_t").ok());
  ASSERT_TRUE(apply_security_opt(o, "apparmor=unconfined").ok());
  ASSERT_TRUE(apply_security_opt(o, "systempaths=unconfined").ok());
  EXPECT_TRUE(o.systempaths_unconfined);
  EXPECT_FALSE(apply_security_opt(o, "selinux=1").ok());
  EXPECT_FALSE(apply_security_opt(o, "seccomp=").ok());
  EXPECT_FALSE(apply_security_opt(o, "seccomp=/nonexistent/profile.json").ok());

  auto dir = TempDir::create("/tmp", "berth-opt-test");
  ASSERT_TRUE(dir.ok());
  std::string p = dir->path() + "/p.json";
  ASSERT_TRUE(atomic_write_file(p, R"({"defaultAction":"SCMP_ACT_ALLOW"})").ok());
  ASSERT_TRUE(apply_security_opt(o, "seccomp=" + p).ok());
  EXPECT_FALSE(o.seccomp_unconfined);
  EXPECT_NE(o.seccomp_profile.find("SCMP_ACT_ALLOW"), std::string::npos);
  ASSERT_TRUE(atomic_write_file(p, "[1,2]").ok());
  EXPECT_FALSE(apply_security_opt(o, "seccomp=" + p).ok());
}

TEST(RunNetwork, Modes) {
  EXPECT_EQ(*parse_network("bridge"), "bridge");
  EXPECT_EQ(*parse_network("default"), "bridge");
  EXPECT_EQ(*parse_network("host"), "host");
  EXPECT_EQ(*parse_network("none"), "none");
  EXPECT_EQ(parse_network("container:abc").error().code, Errc::unsupported);
  EXPECT_EQ(parse_network("mynet").error().code, Errc::unsupported);
  EXPECT_TRUE(check_add_host("db:10.0.0.2").ok());
  EXPECT_TRUE(check_add_host("db=10.0.0.2").ok());
  EXPECT_TRUE(check_add_host("v6:::1").ok());
  EXPECT_TRUE(check_add_host("v6=[fe80::1]").ok());
  EXPECT_TRUE(check_add_host("gw:host-gateway").ok());
  for (const char* b : {"db", ":1.2.3.4", "db:1.2.3", "d b:1.2.3.4", "db:"}) EXPECT_FALSE(check_add_host(b).ok()) << b;
  EXPECT_TRUE(check_ip("8.8.8.8", "--dns").ok());
  EXPECT_FALSE(check_ip("dns.google", "--dns").ok());
  EXPECT_TRUE(check_expose("80").ok());
  EXPECT_TRUE(check_expose("53/udp").ok());
  EXPECT_TRUE(check_expose("8000-8010/tcp").ok());
  for (const char* b : {"", "0", "70000", "80/xyz", "90-80", "a"}) EXPECT_FALSE(check_expose(b).ok()) << b;
  EXPECT_EQ(*parse_pull("never"), PullPolicy::never);
  EXPECT_FALSE(parse_pull("sometimes").ok());
}

TEST(RunCheck, CrossFieldRules) {
  auto fails = [](auto mutate) {
    RunOptions o;
    mutate(o);
    return !check_run_options(o).ok();
  };
  EXPECT_FALSE(fails([](RunOptions&) {}));
  EXPECT_TRUE(fails([](RunOptions& o) { o.memory = 1 << 20; }));
  EXPECT_FALSE(fails([](RunOptions& o) { o.memory = 64 << 20; }));
  EXPECT_TRUE(fails([](RunOptions& o) { o.memory_swap = 128 << 20; }));
  EXPECT_TRUE(fails([](RunOptions& o) {
    o.memory = 128 << 20;
    o.memory_swap = 64 << 20;
  }));
  EXPECT_FALSE(fails([](RunOptions& o) {
    o.memory = 128 << 20;
    o.memory_swap = -1;
  }));
  EXPECT_TRUE(fails([](RunOptions& o) {
    o.memory = 64 << 20;
    o.memory_reservation = 128 << 20;
  }));
  EXPECT_TRUE(fails([](RunOptions& o) { o.cpus = 100000; }));
  EXPECT_TRUE(fails([](RunOptions& o) { o.cpus = 0.001; }));
  EXPECT_FALSE(fails([](RunOptions& o) { o.cpus = 0.5; }));
  EXPECT_TRUE(fails([](RunOptions& o) { o.cpuset_cpus = "0-"; }));
  EXPECT_FALSE(fails([](RunOptions& o) { o.cpuset_cpus = "0-1,3"; }));
  EXPECT_TRUE(fails([](RunOptions& o) { o.oom_score_adj = 1001; }));
  EXPECT_TRUE(fails([](RunOptions& o) { o.sysctls["kernel.hostname"] = "x"; }));
  EXPECT_TRUE(fails([](RunOptions& o) { o.sysctls["vm.swappiness"] = "1"; }));
  EXPECT_FALSE(fails([](RunOptions& o) { o.sysctls["net.ipv4.ip_forward"] = "1"; }));
  EXPECT_FALSE(fails([](RunOptions& o) { o.sysctls["kernel.shmmax"] = "1"; }));
  EXPECT_TRUE(fails([](RunOptions& o) {
    o.network = "host";
    o.sysctls["net.ipv4.ip_forward"] = "1";
  }));
  EXPECT_TRUE(fails([](RunOptions& o) {
    o.rm = true;
    o.restart.policy = RestartPolicy::always;
  }));
  EXPECT_TRUE(fails([](RunOptions& o) {
    o.health.disabled = true;
    o.health.retries = 3;
  }));
  EXPECT_TRUE(fails([](RunOptions& o) { o.health.interval = 10; }));
  EXPECT_TRUE(fails([](RunOptions& o) { o.name = "bad name"; }));
  EXPECT_TRUE(fails([](RunOptions& o) { o.name = "x"; }));
  EXPECT_FALSE(fails([](RunOptions& o) { o.name = "web-1.prod_a"; }));
  EXPECT_TRUE(fails([](RunOptions& o) { o.hostname = std::string(65, 'a'); }));
  EXPECT_TRUE(fails([](RunOptions& o) { o.workdir = "relative"; }));
  EXPECT_TRUE(fails([](RunOptions& o) {
    o.mounts.push_back(*parse_volume("/a:/x"));
    o.mounts.push_back(*parse_tmpfs("/x"));
  }));
}

TEST(RunHealth, MergeWithImage) {
  image::Healthcheck img;
  img.test = {"CMD", "check"};
  img.interval = 30'000'000'000;
  img.retries = 3;
  HealthOptions h;
  EXPECT_EQ(merge_healthcheck(img, h)->test, img.test);
  EXPECT_FALSE(merge_healthcheck(std::nullopt, h).has_value());
  h.retries = 5;
  auto m = merge_healthcheck(img, h);
  EXPECT_EQ(m->test, img.test);
  EXPECT_EQ(m->retries, 5);
  EXPECT_EQ(m->interval, img.interval);
  h.cmd = {"CMD-SHELL", "curl -f localhost"};
  EXPECT_EQ(merge_healthcheck(std::nullopt, h)->test, h.cmd);
  HealthOptions timing_only;
  timing_only.interval = 1'000'000'000;
  EXPECT_FALSE(merge_healthcheck(std::nullopt, timing_only).has_value());
  HealthOptions off;
  off.disabled = true;
  EXPECT_EQ(merge_healthcheck(img, off)->test, std::vector<std::string>{"NONE"});
}

TEST(RunOptionsJson, RoundTrip) {
  RunOptions o;
  o.image = "busybox";
  o.cmd = {"sh", "-c", "x"};
  o.entrypoint = std::vector<std::string>{};
  o.env = {"A=1"};
  o.labels = {{"k", "v"}};
  o.mounts = {*parse_volume("/a:/b:ro"), *parse_tmpfs("/run:size=1m"), *parse_volume("/anon")};
  o.ulimits = {*parse_ulimit("nofile=1:2")};
  o.oom_score_adj = -5;
  o.stop_timeout = 3;
  o.restart = *parse_restart("on-failure:4");
  o.health.cmd = {"CMD", "x"};
  o.memory = 1 << 30;
  o.cpus = 1.5;
  o.pull = PullPolicy::never;
  auto back = run_options_from_json(to_json(o));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(to_json(*back), to_json(o));
  EXPECT_TRUE(back->entrypoint.has_value());
  EXPECT_TRUE(back->entrypoint->empty());
  EXPECT_EQ(back->mounts[1].kind, MountRequest::tmpfs);
  EXPECT_EQ(back->restart.max_retries, 4);
  EXPECT_FALSE(run_options_from_json(nlohmann::json::array()).ok());
  EXPECT_FALSE(run_options_from_json({{"memory", "lots"}}).ok());
  EXPECT_FALSE(run_options_from_json({{"mounts", {{{"kind", "nfs"}, {"source", ""}, {"target", "/x"}}}}}).ok());
}

// ---- the CLI glue (cmd/berth/run_flags.cc) ---------------------------------

struct Cli {
  CLI::App app{"test"};
  cli::RunFlags f;
  CLI::App* run = nullptr;
  Cli() {
    run = app.add_subcommand("run");
    cli::add_run_flags(run, f, true);
  }
  Result<RunOptions> parse(std::vector<std::string> args) {
    args.insert(args.begin(), "run");
    std::vector<const char*> argv = {"berth"};
    for (auto& a : args) argv.push_back(a.c_str());
    try {
      app.parse(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
    } catch (const CLI::ParseError& e) {
      return Error(Errc::invalid_argument, std::string("cli: ") + e.what());
    }
    return cli::to_run_options(f);
  }
};

TEST(RunFlags, CommandAfterImageKeepsItsFlags) {
  Cli c;
  auto o = c.parse({"--rm", "img", "sh", "-c", "echo -n x"});
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_TRUE(o->rm);
  EXPECT_EQ(o->image, "img");
  EXPECT_EQ(o->cmd, (std::vector<std::string>{"sh", "-c", "echo -n x"}));
}

TEST(RunFlags, FlagsAfterImageAreNotOurs) {
  Cli c;
  auto o = c.parse({"img", "-d", "--rm", "-e", "X=1"});
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_FALSE(o->detach);
  EXPECT_FALSE(o->rm);
  EXPECT_EQ(o->cmd, (std::vector<std::string>{"-d", "--rm", "-e", "X=1"}));
}

TEST(RunFlags, RepeatedAndCombined) {
  setenv("BERTH_RUNFLAGS_TEST", "from-caller", 1);
  Cli c;
  auto o = c.parse({"-itd", "-e", "A=1", "-e", "B=2", "--env=C=3", "-e", "BERTH_RUNFLAGS_TEST", "-e",
                    "BERTH_RUNFLAGS_UNSET_X", "-v", "/h:/c", "-v", "/anon", "--tmpfs", "/run", "-p", "8080:80",
                    "-p", "53:53/udp", "-l", "a=b", "--name", "web", "-h", "myhost", "-u", "1000:1000", "-w", "/srv",
                    "-m", "512m", "--cpus", "0.5", "--pids-limit", "100", "--ulimit", "nofile=10:20", "--cap-add",
                    "net_admin", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--restart",
                    "on-failure:2", "--stop-signal", "SIGINT", "--stop-timeout", "5", "--network", "none",
                    "--health-cmd", "true", "--health-interval", "5s", "--init", "--read-only", "busybox", "top"});
  unsetenv("BERTH_RUNFLAGS_TEST");
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_TRUE(o->interactive && o->tty && o->detach);
  EXPECT_EQ(o->env, (std::vector<std::string>{"A=1", "B=2", "C=3", "BERTH_RUNFLAGS_TEST=from-caller"}));
  ASSERT_EQ(o->mounts.size(), 3u);
  EXPECT_EQ(o->mounts[1].kind, MountRequest::anonymous);
  EXPECT_EQ(o->mounts[2].kind, MountRequest::tmpfs);
  EXPECT_EQ(o->publish, (std::vector<std::string>{"8080:80", "53:53/udp"}));
  EXPECT_EQ(o->labels.at("a"), "b");
  EXPECT_EQ(o->name, "web");
  EXPECT_EQ(o->hostname, "myhost");
  EXPECT_EQ(o->user, "1000:1000");
  EXPECT_EQ(o->workdir, "/srv");
  EXPECT_EQ(o->memory, 512 << 20);
  EXPECT_DOUBLE_EQ(o->cpus, 0.5);
  EXPECT_EQ(o->pids_limit, 100);
  EXPECT_EQ(o->ulimits.size(), 1u);
  EXPECT_EQ(o->cap_add, std::vector<std::string>{"CAP_NET_ADMIN"});
  EXPECT_EQ(o->cap_drop, std::vector<std::string>{"ALL"});
  EXPECT_TRUE(o->no_new_privileges);
  EXPECT_EQ(o->restart.policy, RestartPolicy::on_failure);
  EXPECT_EQ(o->stop_signal, "SIGINT");
  EXPECT_EQ(*o->stop_timeout, 5);
  EXPECT_EQ(o->network, "none");
  EXPECT_EQ(o->health.cmd, (std::vector<std::string>{"CMD-SHELL", "true"}));
  EXPECT_EQ(o->health.interval, 5'000'000'000);
  EXPECT_TRUE(o->init && o->read_only);
  EXPECT_EQ(o->image, "busybox");
  EXPECT_EQ(o->cmd, std::vector<std::string>{"top"});
}

TEST(RunFlags, Entrypoint) {
  {
    Cli c;
    auto o = c.parse({"img"});
    ASSERT_TRUE(o.ok());
    EXPECT_FALSE(o->entrypoint.has_value());
  }
  {
    Cli c;
    auto o = c.parse({"--entrypoint", "", "img"});
    ASSERT_TRUE(o.ok()) << o.error().message;
    ASSERT_TRUE(o->entrypoint.has_value());
    EXPECT_TRUE(o->entrypoint->empty());
  }
  // Not covered: "--entrypoint=" (empty after '='). CLI11 2.1 drops an empty
  // "=value" and takes the next argument instead; see docs/engine-spec.md.
  {
    Cli c;
    auto o = c.parse({"--entrypoint", "/bin/sh -x", "img"});
    ASSERT_TRUE(o.ok());
    EXPECT_EQ(*o->entrypoint, std::vector<std::string>{"/bin/sh -x"});  // one word, as Docker
  }
}

TEST(RunFlags, EnvFileThenDashE) {
  auto dir = TempDir::create("/tmp", "berth-opt-test");
  ASSERT_TRUE(dir.ok());
  std::string p = dir->path() + "/e.env";
  ASSERT_TRUE(atomic_write_file(p, "A=file\nB=file\n").ok());
  Cli c;
  auto o = c.parse({"-e", "A=flag", "--env-file", p, "img"});
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o->env, (std::vector<std::string>{"A=file", "B=file", "A=flag"}));
}

TEST(RunFlags, Errors) {
  struct {
    std::vector<std::string> args;
    const char* msg;
  } cases[] = {
      {{"--memory", "12x", "img"}, "invalid --memory \"12x\": unknown unit \"x\""},
      {{"--cpus", "many", "img"}, "invalid --cpus \"many\": expected a number"},
      {{"--pids-limit", "x", "img"}, "invalid --pids-limit \"x\": expected an integer"},
      {{"--oom-score-adj", "2000", "img"}, "invalid --oom-score-adj \"2000\": out of range [-1000, 1000]"},
      {{"--stop-signal", "NOPE", "img"}, "invalid --stop-signal \"NOPE\": unknown signal"},
      {{"-v", "rel:/x:zz", "img"}, nullptr},
      {{"--pull", "always", "img"}, nullptr},
      {{"--restart", "always", "--rm", "img"}, "conflicting options: --restart and --rm"},
      {{}, "requires at least 1 argument: IMAGE [COMMAND] [ARG...]"},
  };
  for (auto& tc : cases) {
    Cli c;
    auto o = c.parse(tc.args);
    ASSERT_FALSE(o.ok()) << (tc.args.empty() ? "" : tc.args[0]);
    if (tc.msg) {
      EXPECT_EQ(o.error().message, tc.msg);
    }
  }
}

TEST(RunFlags, UnknownFlagBeforeImage) {
  // prefix_command hands unknown flags to the remaining arguments; they must
  // not become the image name. `create` has no -d (Docker's create neither).
  CLI::App app{"t"};
  cli::RunFlags f;
  auto* cr = app.add_subcommand("create");
  cli::add_run_flags(cr, f, false);
  const char* argv[] = {"berth", "create", "-d", "img"};
  app.parse(4, const_cast<char**>(argv));
  auto o = cli::to_run_options(f);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.error().message, "unknown flag: -d");
  Cli c;
  auto r = c.parse({"--bogus", "img"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "unknown flag: --bogus");
}

}  // namespace
}  // namespace berth::engine
