// spec, features.
#include <cstdio>

#include "base/fs.h"
#include "cli.h"
#include "runtime/spec.h"

namespace berth::cli {

using nlohmann::json;

namespace {

json features() {
  json caps = json::array();
  for (int c = 0; c <= 40; ++c) {
    std::string n = runtime::cap_to_name(c);
    if (n.rfind("CAP_", 0) == 0) caps.push_back(n);
  }
  return {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.1.0"},
      {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
      {"mountOptions",
       {"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion", "lazytime", "loud",
        "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion", "nolazytime", "nomand", "norelatime",
        "nostrictatime", "nosuid", "nosymfollow", "private", "rbind", "rdev", "rdiratime", "relatime", "remount",
        "rexec", "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnosuid", "rnosymfollow", "ro", "rprivate",
        "rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw",
        "shared", "silent", "slave", "strictatime", "suid", "symfollow", "sync", "unbindable"}},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"}},
        {"capabilities", caps},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", true}, {"systemdUser", false}}},
        {"seccomp",
         {{"enabled", true},
          {"actions",
           {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
            "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}},
          {"operators",
           {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
            "SCMP_CMP_NE"}},
          {"archs", {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"}}}},
        {"apparmor", {{"enabled", true}}},
        {"selinux", {{"enabled", false}}}}},
      {"annotations", {{"org.opencontainers.runc.version", "berth-runtime 0.1.0"}}},
  };
}

}  // namespace

void add_info(CLI::App& app, Ctx& ctx) {
  static std::string bundle = ".";
  static bool rootless = false;
  auto* spec = app.add_subcommand("spec", "write a default config.json");
  spec->add_option("-b,--bundle", bundle);
  spec->add_flag("--rootless", rootless);
  spec->callback([&ctx] {
    ctx.action = []() -> Result<int> {
      std::string p = path_join(bundle, "config.json");
      if (path_exists(p)) return Error(Errc::already_exists, p + " already exists");
      TRY(atomic_write_file(p, runtime::default_spec(rootless).dump(4) + "\n", 0644));
      return 0;
    };
  });
  auto* feat = app.add_subcommand("features", "print what this runtime supports (runc's JSON)");
  feat->callback([&ctx] {
    ctx.action = []() -> Result<int> {
      std::printf("%s\n", features().dump(4).c_str());
      return 0;
    };
  });
}

}  // namespace berth::cli
