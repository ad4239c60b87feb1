// Working inside containers: exec, cp, commit, and `healthcheck run`.
#include <unistd.h>

#include <cerrno>

#include <cstdio>

#include "cli.h"
#include "container_common.h"
#include "engine/commit.h"
#include "engine/copy.h"
#include "engine/health.h"
#include "engine/options.h"
#include "engine/rootfs.h"
#include "image/reference.h"
#include "image_lookup.h"

namespace berth::cli {

namespace {

struct ExecOpts {
  std::string id;
  std::vector<std::string> cmd, env, env_files;
  std::string user, workdir;
  bool interactive = false, tty = false, detach = false, privileged = false;
};

Result<int> cmd_exec(const ExecOpts& o) {
  TRY_ASSIGN(auto ctx, EngineCtx::open());
  engine::ExecRequest r;
  r.args = o.cmd;
  TRY_ASSIGN(r.env, engine::collect_env(o.env_files, o.env, engine::process_env()));
  r.user = o.user;
  r.workdir = o.workdir;
  r.interactive = o.interactive;
  r.tty = o.tty;
  r.detach = o.detach;
  r.privileged = o.privileged;
  std::fflush(stdout);
  auto code = ctx->engine.exec(o.id, r);
  if (!code.ok()) {
    const Error& e = code.error();
    if (e.message.rfind("OCI runtime exec failed", 0) != 0) return std::move(code).error();
    // The container is fine, the command could not be started in it:
    // podman's codes, 127 when it does not exist, 126 when it cannot run.
    std::fprintf(stderr, "Error: %s\n", e.str().c_str());
    return (e.code == Errc::not_found || e.sys_errno == ENOENT) ? 127 : 126;
  }
  return *code;
}

void add_exec(CLI::App* parent) {
  auto o = std::make_shared<ExecOpts>();
  auto* c = parent->add_subcommand("exec", "Execute a command in a running container");
  c->add_flag("-i,--interactive", o->interactive, "Keep STDIN open");
  c->add_flag("-t,--tty", o->tty, "Allocate a pseudo-TTY");
  c->add_flag("-d,--detach", o->detach, "Run the command in the background");
  c->add_flag("--privileged", o->privileged, "Accepted; the process gets the container's capabilities");
  c->add_option("-e,--env", o->env, "Set environment variables")->allow_extra_args(false);
  c->add_option("--env-file", o->env_files, "Read environment variables from a file")->allow_extra_args(false);
  c->add_option("-u,--user", o->user, "Username or UID (format: <name|uid>[:<group|gid>])");
  c->add_option("-w,--workdir", o->workdir, "Working directory inside the container");
  // Everything from the container name on is ours to split: the command's
  // own flags (sh -c, id -u) must never be parsed as exec's.
  c->prefix_command();
  c->set_help_flag("--help", "Print this help message and exit");
  set_action(c, [o, c]() -> Result<int> {
    std::vector<std::string> rest = c->remaining();
    if (!rest.empty() && rest[0] == "--") rest.erase(rest.begin());
    if (rest.size() < 2) return Error(Errc::invalid_argument, "exec requires at least 2 arguments: CONTAINER COMMAND [ARG...]");
    if (rest[0].size() > 1 && rest[0][0] == '-') return Error(Errc::invalid_argument, "unknown flag: " + rest[0]);
    ExecOpts x = *o;
    x.id = rest[0];
    x.cmd.assign(rest.begin() + 1, rest.end());
    return cmd_exec(x);
  });
}

// "CTR:/path" -> {ctr, path}; a leading "/" or "." or no colon means a local path.
bool split_container_path(const std::string& s, std::string& ctr, std::string& path) {
  if (s.empty() || s[0] == '/' || s[0] == '.') return false;
  auto colon = s.find(':');
  if (colon == std::string::npos || colon == 0) return false;
  ctr = s.substr(0, colon);
  path = s.substr(colon + 1);
  return true;
}

Result<int> cmd_cp(const std::string& src, const std::string& dst, bool archive, bool follow) {
  std::string sc, sp, dc, dp;
  bool from = split_container_path(src, sc, sp), to = split_container_path(dst, dc, dp);
  if (from == to)
    return Error(Errc::invalid_argument, from ? "copying between containers is not supported"
                                              : "one of source or destination must be a container path (CONTAINER:PATH)");
  TRY_ASSIGN(auto ctx, EngineCtx::open());
  TRY_ASSIGN(auto c, ctx->engine.lookup(from ? sc : dc));
  engine::CopyOptions co;
  co.archive = archive;
  co.follow_link = follow;
  co.container = c.name;
  // Volumes and binds are not in the host's view of the rootfs: cp goes to
  // their sources. (A tmpfs has no host side; it is left to the rootfs.)
  for (const auto& m : c.config.value("mounts", nlohmann::json::array())) {
    if (!m.is_object() || m.value("Type", "") == "tmpfs" || m.value("Source", "").empty()) continue;
    co.mounts.push_back({m.value("Destination", ""), m.value("Source", ""), !m.value("RW", true)});
  }
  co.read_only_rootfs = c.config.value("opts", nlohmann::json::object()).value("read_only", false);
  // A stopped container's rootfs is mounted for the copy only.
  std::string merged = ctx->engine.paths().merged(c.id);
  bool mounted_here = false;
  if (!engine::is_mounted(merged)) {
    std::vector<std::string> lowers;
    for (const auto& l : c.config.value("lowers", nlohmann::json::array())) lowers.push_back(l.get<std::string>());
    TRY(engine::mount_rootfs(lowers, ctx->engine.paths().upper(c.id), ctx->engine.paths().work(c.id), merged));
    mounted_here = true;
  }
  Status s;
  if (from) s = src.empty() ? Status{} : (dst == "-" ? engine::copy_out_tar(merged, sp, 1, co)
                                                     : engine::copy_out(merged, sp, dst, co));
  else s = src == "-" ? engine::copy_in_tar(0, merged, dp, co) : engine::copy_in(src, merged, dp, co);
  if (mounted_here) (void)engine::unmount_rootfs(merged);
  if (!s.ok()) return std::move(s).error();
  if (!from) ctx->engine.container_event(c, "copy", {{"path", dp}});
  return 0;
}

void add_cp(CLI::App* parent) {
  auto src = std::make_shared<std::string>();
  auto dst = std::make_shared<std::string>();
  auto archive = std::make_shared<bool>(false);
  auto follow = std::make_shared<bool>(false);
  auto* c = parent->add_subcommand("cp", "Copy files between a container and the local filesystem");
  c->add_option("src", *src, "CONTAINER:SRC_PATH, a local path, or - (a tar on stdin)")->required();
  c->add_option("dst", *dst, "CONTAINER:DEST_PATH, a local path, or - (a tar on stdout)")->required();
  c->add_flag("-a,--archive", *archive, "Archive mode (copy all uid/gid information)");
  c->add_flag("-L,--follow-link", *follow, "Always follow symbol links in SRC_PATH");
  set_action(c, [=] { return cmd_cp(*src, *dst, *archive, *follow); });
}

struct CommitOpts {
  std::string id, repo;
  std::vector<std::string> changes;
  std::string author, message;
  bool pause = true;
};

Result<int> cmd_commit(const CommitOpts& o) {
  TRY_ASSIGN(auto ctx, EngineCtx::open());
  TRY_ASSIGN(auto c, ctx->engine.lookup(o.id));
  engine::CommitOptions co;
  if (!o.repo.empty()) {
    TRY_ASSIGN(auto ref, image::parse_reference(o.repo));
    co.name = ref.str();
  }
  co.changes = o.changes;
  co.author = o.author;
  co.message = o.message;
  co.pause = o.pause;
  image::Descriptor top;
  top.digest = Digest::parse(c.manifest).value_or(Digest{});
  auto recs = ctx->store.db().images_by_target(top.digest);
  if (!recs.ok() || recs->empty())
    return Error(Errc::not_found, "commit " + c.name + ": its image " + c.image + " is no longer in the store");
  TRY_ASSIGN(auto img, image::resolve(ctx->store.content(), to_descriptor((*recs)[0].target)));
  TRY_ASSIGN(auto out, engine::commit_container(ctx->engine, c, img, co));
  ctx->engine.container_event(c, "commit", {{"imageID", out.image_id.str()}});
  ctx->engine.event("image", "commit", out.image_id.str(), {{"name", co.name}});
  std::printf("%s\n", out.image_id.str().c_str());
  return 0;
}

void add_commit(CLI::App* parent) {
  auto o = std::make_shared<CommitOpts>();
  auto* c = parent->add_subcommand("commit", "Create a new image from a container's changes");
  c->add_option("container", o->id)->required();
  c->add_option("repository", o->repo, "REPOSITORY[:TAG]");
  c->add_option("-c,--change", o->changes, "Apply a Dockerfile instruction to the image")->allow_extra_args(false);
  c->add_option("-a,--author", o->author, "Author");
  c->add_option("-m,--message", o->message, "Commit message");
  c->add_option("-p,--pause", o->pause, "Pause the container during commit (default true)");
  set_action(c, [o] { return cmd_commit(*o); });
}

void add_healthcheck(CLI::App& app) {
  auto* hc = app.add_subcommand("healthcheck", "Run a container's health check");
  hc->require_subcommand(1);
  auto id = std::make_shared<std::string>();
  auto* run = hc->add_subcommand("run", "Run the health check once now and record the result");
  run->add_option("container", *id)->required();
  set_action(run, [id]() -> Result<int> {
    TRY_ASSIGN(auto ctx, EngineCtx::open());
    TRY_ASSIGN(std::string st, engine::run_healthcheck(ctx->engine, *id));
    std::printf("%s\n", st.c_str());
    return st == "unhealthy" ? 1 : 0;
  });
}

}  // namespace

void register_exec_verbs(CLI::App& app, CLI::App* group) {
  for (CLI::App* p : {&app, group}) {
    if (!p) continue;  // no `container` group this run (cli.h, only_verb)
    auto want = [&](const char* v) { return p == group || wanted(v); };
    if (want("exec")) add_exec(p);
    if (want("cp")) add_cp(p);
    if (want("commit")) add_commit(p);
  }
  if (wanted("healthcheck")) add_healthcheck(app);
}

}  // namespace berth::cli
