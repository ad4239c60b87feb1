// berth-runtime: an OCI runtime with runc's command line, so podman
// (--runtime) and containerd (--runc-binary) can drive it.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli.h"
#include "runtime/cloned_binary.h"
#include "runtime/log.h"

namespace {

// runc (urfave/cli) accepts "-root x" as well as "--root x"; CLI11 only the
// latter, so known long names given with one dash are rewritten.
const char* const kLongFlags[] = {
    "root", "log", "log-format", "systemd-cgroup", "debug", "rootless", "criu", "bundle", "console-socket",
    "pid-file", "no-pivot", "no-new-keyring", "preserve-fds", "detach", "keep", "no-subreaper", "force", "all",
    "format", "quiet", "process", "tty", "cwd", "env", "user", "cap", "no-new-privs", "apparmor",
    "process-label", "additional-gids", "ignore-paused", "resources", "memory", "memory-swap",
    "memory-reservation", "kernel-memory", "kernel-memory-tcp", "cpu-shares", "cpu-quota", "cpu-period",
    "cpu-rt-period", "cpu-rt-runtime", "cpuset-cpus", "cpuset-mems", "pids-limit", "blkio-weight",
    "l3-cache-schema", "mem-bw-schema", "stats", "interval", "version", "help", "cgroup"};

std::vector<std::string> normalize(int argc, char** argv) {
  std::vector<std::string> out;
  bool done = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") done = true;
    if (!done && a.size() > 2 && a[0] == '-' && a[1] != '-') {
      std::string name = a.substr(1, a.find('=') == std::string::npos ? std::string::npos : a.find('=') - 1);
      for (const char* f : kLongFlags)
        if (name == f) {
          a = "-" + a;
          break;
        }
    }
    out.push_back(a);
  }
  return out;
}

bool needs_clone(const std::vector<std::string>& args) {
  for (const auto& a : args)
    if (a == "create" || a == "run" || a == "exec") return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  auto args = normalize(argc, argv);
  CLI::App app{"berth-runtime: an OCI runtime (runtime-spec 1.1) with runc's command line", "berth-runtime"};
  berth::cli::Ctx ctx;
  // runc's default for an unprivileged caller: /run is not writable, the
  // user's runtime dir is.
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && *xdg && ::geteuid() != 0)
    ctx.g.root = std::string(xdg) + "/berth-runtime";
  std::string log_path, log_format = "text", rootless = "auto", criu;
  bool debug = false, version = false;
  app.add_option("--root", ctx.g.root, "state directory")->capture_default_str();
  app.add_option("--log", log_path, "log file");
  app.add_option("--log-format", log_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--systemd-cgroup", ctx.g.systemd_cgroup, "cgroupsPath is slice:prefix:name");
  app.add_flag("--debug", debug);
  app.add_option("--rootless", rootless, "ignore cgroup permission errors (true, false, auto)")->check(CLI::IsMember({"true", "false", "auto"}));
  app.add_option("--criu", criu, "ignored");
  app.add_flag("-v,--version", version);
  app.require_subcommand(0, 1);
  berth::cli::add_lifecycle(app, ctx);
  berth::cli::add_exec(app, ctx);
  berth::cli::add_manage(app, ctx);
  berth::cli::add_info(app, ctx);
  std::vector<std::string> rev(args.rbegin(), args.rend());
  try {
    app.parse(rev);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  berth::runtime::log_configure(log_path, log_format == "json", debug);
  if (version) {
    std::printf("berth-runtime version 0.1.0\nspec: 1.1.0\n");
    return 0;
  }
  if (rootless != "auto") ctx.g.rootless = rootless == "true";
  if (!ctx.action) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  }
  if (needs_clone(args)) {
    // CVE-2019-5736: only a sealed copy of us may enter a container.
    if (auto st = berth::runtime::ensure_cloned_binary(argv); !st.ok()) {
      berth::runtime::log_error(st.error().str());
      return 1;
    }
  }
  auto r = ctx.action();
  if (!r.ok()) {
    berth::runtime::log_error(r.error().str());
    return 1;
  }
  return *r;
}
