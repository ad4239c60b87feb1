// The build steps that change the filesystem: RUN (a container of the
// engine), COPY/ADD and WORKDIR (plain file operations on an overlay of the
// state being built). Each step's overlay upper dir becomes its layer.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "base/fs.h"
#include "build/copy.h"
#include "build/internal.h"
#include "engine/commit.h"
#include "engine/options.h"
#include "engine/rootfs.h"
#include "engine/spec_gen.h"
#include "engine/userdb.h"
#include "image/manifest.h"
#include "image/media_types.h"

namespace berth::build {

std::string sha256_key(std::string_view data) { return Digest::of(data).str(); }

dockerfile::Lookup Vars::lookup() const {
  return [this](std::string_view name) -> std::optional<std::string> {
    if (env)
      if (auto v = image::env_get(*env, name)) return v;
    auto it = args.find(std::string(name));
    if (it != args.end()) return it->second;
    return std::nullopt;
  };
}

std::vector<std::string> Vars::arg_env() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : args)
    if (!env || !image::env_get(*env, k)) out.push_back(k + "=" + v);
  return out;
}

Result<image::ResolvedImage> store_state(Store& store, WriteSession& ws, const State& s) {
  image::ResolvedImage img;
  img.config = s.cfg;
  img.config.raw.clear();
  std::string cbytes = image::serialize(img.config);
  TRY_ASSIGN(Digest cd, store.content().put(cbytes));
  TRY(ws.protect_blob(cd));
  img.config.digest = cd;
  img.manifest.media_type = std::string(image::media::kOciManifest);
  img.manifest.config = image::Descriptor::of(image::media::kOciConfig, cbytes);
  img.manifest.layers = s.layers;
  std::string mbytes = image::serialize(img.manifest);
  TRY_ASSIGN(Digest md, store.content().put(mbytes));
  TRY(ws.protect_blob(md));
  img.manifest_descriptor = {std::string(image::media::kOciManifest), md, static_cast<uint64_t>(mbytes.size())};
  img.top = img.manifest_descriptor;
  return img;
}

// ---- StepRootfs ----

Result<StepRootfs> StepRootfs::mount(Store& store, WriteSession& ws, const State& s) {
  std::string parent = path_join(store.root(), "build-tmp");
  TRY(mkdir_p(parent, 0700));
  StepRootfs r;
  r.dir_ = path_join(parent, unique_name("step"));
  TRY(mkdir_p(r.dir_, 0700));
  r.merged_ = path_join(r.dir_, "merged");
  r.upper_ = path_join(r.dir_, "upper");
  std::vector<std::string> lowers;
  if (s.layers.empty()) {
    std::string empty = path_join(r.dir_, "empty");
    TRY(mkdir_p(empty, 0755));
    lowers.push_back(empty);
  } else {
    TRY_ASSIGN(auto img, store_state(store, ws, s));
    TRY_ASSIGN(lowers, engine::prepare_lowers(store, img));
    for (const auto& l : img.manifest.layers) TRY(ws.protect_blob(l.digest));
  }
  TRY(engine::mount_rootfs(lowers, r.upper_, path_join(r.dir_, "work"), r.merged_, /*transient=*/true));
  return r;
}

StepRootfs::StepRootfs(StepRootfs&& o) noexcept
    : dir_(std::exchange(o.dir_, {})), merged_(std::move(o.merged_)), upper_(std::move(o.upper_)) {}

Status StepRootfs::unmount() {
  if (dir_.empty()) return {};
  return engine::unmount_rootfs(merged_);
}

StepRootfs::~StepRootfs() {
  if (dir_.empty()) return;
  (void)engine::unmount_rootfs(merged_);
  (void)remove_all(dir_);
}

// ---- layers ----

namespace {

bool dir_empty(const std::string& d) {
  DIR* dp = ::opendir(d.c_str());
  if (!dp) return true;
  bool empty = true;
  while (auto* e = ::readdir(dp)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(dp);
  return empty;
}

}  // namespace

Result<bool> add_upper_layer(StepContext& c, State& s, const std::string& upper, int64_t* size) {
  *size = 0;
  if (dir_empty(upper)) return false;
  auto& store = c.engine->store();
  TRY_ASSIGN(auto stored, engine::store_upper_layer(store, upper, c.mtime));
  TRY(c.ws->protect_blob(stored.descriptor.digest));
  s.layers.push_back(stored.descriptor);
  s.cfg.diff_ids.push_back(stored.diff_id);
  *size = static_cast<int64_t>(stored.uncompressed_size);
  return true;
}

// ---- COPY / ADD / WORKDIR ----

Status copy_to_rootfs(const std::string& rootfs, const CopySpec& cp, const std::string& workdir) {
  CopyOptions o;
  o.add = cp.add;
  o.chmod = cp.chmod;
  o.workdir = workdir.empty() ? "/" : workdir;
  if (!cp.chown.empty()) {
    TRY_ASSIGN(auto u, engine::resolve_user(rootfs, cp.chown));
    o.uid = u.uid;
    o.gid = u.gid;  // "--chown=user" alone: the user's primary group (Docker)
  }
  const Source* src = cp.src;
  std::vector<std::string> paths = cp.paths;
  if (cp.lazy_src) {
    TRY_ASSIGN(src, cp.lazy_src());
    for (const auto& p : cp.patterns) {
      TRY_ASSIGN(auto m, src->match(p));
      paths.insert(paths.end(), m.begin(), m.end());
    }
  }
  if (src && !paths.empty()) TRY(copy_into(*src, paths, rootfs, cp.dest, o));
  for (const auto& h : cp.heredocs) TRY(write_heredoc_file(rootfs, cp.dest, h.name, h.content, o));
  return {};
}

Status copy_step(StepContext& c, State& s, const CopySpec& cp, int64_t* size) {
  TRY_ASSIGN(auto fs, StepRootfs::mount(c.engine->store(), *c.ws, s));
  TRY(copy_to_rootfs(fs.merged(), cp, s.cfg.config.working_dir));
  TRY(fs.unmount());
  TRY_ASSIGN(bool added, add_upper_layer(c, s, fs.upper(), size));
  (void)added;
  return {};
}

Status make_workdir(const std::string& rootfs, const std::string& dir) {
  // Created like `mkdir -p` inside the image; a component that is the
  // image's own symlink is left to the runtime, which resolves it in the rootfs.
  std::string path;
  size_t i = 0;
  while (i < dir.size()) {
    size_t j = dir.find('/', i);
    if (j == std::string::npos) j = dir.size();
    std::string comp = dir.substr(i, j - i);
    i = j + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") return Error(Errc::invalid_argument, "WORKDIR " + dir + ": '..' is not allowed");
    path += "/" + comp;
    std::string host = rootfs + path;
    struct stat st;
    if (::lstat(host.c_str(), &st) == 0) {
      if (S_ISLNK(st.st_mode)) break;
      if (!S_ISDIR(st.st_mode)) return Error(Errc::invalid_argument, "WORKDIR " + dir + ": " + path + " is not a directory");
      continue;
    }
    if (::mkdir(host.c_str(), 0755) != 0) return sys_error("WORKDIR: mkdir " + path);
  }
  return {};
}

Status workdir_step(StepContext& c, State& s, const std::string& dir, int64_t* size) {
  TRY_ASSIGN(auto fs, StepRootfs::mount(c.engine->store(), *c.ws, s));
  TRY(make_workdir(fs.merged(), dir));
  TRY(fs.unmount());
  TRY_ASSIGN(bool added, add_upper_layer(c, s, fs.upper(), size));
  (void)added;
  return {};
}

Result<MountedSource> MountedSource::mount(Store& store, WriteSession& ws, const State& s) {
  MountedSource m;
  TRY_ASSIGN(auto fs, StepRootfs::mount(store, ws, s));
  m.fs_.emplace(std::move(fs));
  TRY_ASSIGN(m.src_, Source::dir(m.fs_->merged()));
  return m;
}

// ---- RUN ----

std::map<std::string, std::string> parse_kv_csv(const std::string& s) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    std::string part = s.substr(i, j - i);
    auto eq = part.find('=');
    if (!part.empty()) out[part.substr(0, eq)] = eq == std::string::npos ? "true" : part.substr(eq + 1);
    i = j + 1;
  }
  return out;
}


namespace {

// Redirects our stdout/stderr for the duration (quiet builds).
struct Silence {
  int saved1 = -1, saved2 = -1;
  explicit Silence(bool on) {
    if (!on) return;
    std::fflush(stdout);
    std::fflush(stderr);
    int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null < 0) return;
    saved1 = ::dup(1);
    saved2 = ::dup(2);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::close(null);
  }
  ~Silence() {
    if (saved1 >= 0) ::dup2(saved1, 1), ::close(saved1);
    if (saved2 >= 0) ::dup2(saved2, 2), ::close(saved2);
  }
};

// RUN --mount=... to the engine's mount requests (BuildKit's mount types).
Result<engine::MountRequest> build_mount(StepContext& c, const std::string& raw,
                                         const std::map<std::string, std::string>& stage_dirs,
                                         std::vector<std::string>* created_targets) {
  auto kv = parse_kv_csv(raw);
  std::string type = kv.count("type") ? kv["type"] : "bind";
  std::string target = kv.count("target") ? kv["target"] : kv.count("dst") ? kv["dst"] : kv["destination"];
  if (target.empty() && type == "secret") target = "/run/secrets/" + kv["id"];
  if (target.empty() || target[0] != '/')
    return Error(Errc::invalid_argument, "RUN --mount=" + raw + ": target must be an absolute path");
  engine::MountRequest m;
  m.target = target;
  created_targets->push_back(target);
  bool rw = kv.count("rw") || kv.count("readwrite");
  if (type == "bind") {
    std::string base = c.opts->context_dir;
    if (kv.count("from")) {
      auto it = stage_dirs.find(kv["from"]);
      if (it == stage_dirs.end())
        return Error(Errc::invalid_argument, "RUN --mount=" + raw + ": from=" + kv["from"] + " is not a stage or build context");
      base = it->second;
    }
    std::string src = kv.count("source") ? kv["source"] : kv.count("src") ? kv["src"] : "";
    if (src.find("..") != std::string::npos)
      return Error(Errc::invalid_argument, "RUN --mount=" + raw + ": source may not contain '..'");
    m.kind = engine::MountRequest::bind;
    m.source = src.empty() ? base : path_join(base, src);
    // Writes to a bind mount are discarded in BuildKit; a read-only bind is
    // the honest way to say the same here.
    m.readonly = !rw;
  } else if (type == "cache") {
    std::string id = kv.count("id") ? kv["id"] : target;
    std::string dir = path_join(path_join(c.engine->store().root(), "build-cache-mounts"), Digest::of(id).hex());
    TRY(mkdir_p(dir, 0755));
    m.kind = engine::MountRequest::bind;
    m.source = dir;
    m.readonly = kv.count("ro") || kv.count("readonly");
  } else if (type == "tmpfs") {
    m.kind = engine::MountRequest::tmpfs;
    if (kv.count("size")) m.options.push_back("size=" + kv["size"]);
  } else if (type == "secret") {
    std::string id = kv["id"];
    auto it = c.opts->secrets.find(id);
    if (it == c.opts->secrets.end()) {
      if (kv.count("required") && kv["required"] != "false")
        return Error(Errc::not_found, "RUN --mount=" + raw + ": secret " + id + " was not given (--secret id=" + id + ",src=FILE)");
      created_targets->pop_back();
      m.kind = engine::MountRequest::tmpfs;  // an absent optional secret: an empty dir, Docker mounts nothing
      m.target.clear();
      return m;
    }
    m.kind = engine::MountRequest::bind;
    m.source = it->second;
    m.readonly = true;
  } else {
    return Error(Errc::invalid_argument, "RUN --mount=" + raw + ": unknown mount type " + type);
  }
  return m;
}

// Mount points the runtime created for this step's mounts are not part of
// the image (BuildKit removes them too): empty directories/files in the
// upper dir at a mount target, and their parents if those became empty and
// were created for it. Only what the lower layers did not have is removed.
void drop_mount_points(const std::string& upper, const std::vector<std::string>& targets,
                       const std::vector<std::string>& lowers) {
  for (const auto& t : targets) {
    std::string p = t;
    while (p.size() > 1) {
      bool in_lower = false;
      for (const auto& l : lowers)
        if (struct stat st; ::lstat((l + p).c_str(), &st) == 0) in_lower = true;
      if (in_lower) break;
      std::string host = upper + p;
      struct stat st;
      if (::lstat(host.c_str(), &st) != 0) break;
      if (S_ISDIR(st.st_mode)) {
        if (::rmdir(host.c_str()) != 0) break;
      } else if (S_ISREG(st.st_mode) && st.st_size == 0) {
        if (::unlink(host.c_str()) != 0) break;
      } else {
        break;
      }
      p = dirname_of(p);
    }
  }
}

// What every build container starts from: the state as an image (its
// blobs held by the build's lease) minus what would make it behave unlike
// Docker's build containers — no VOLUME mounts, no health checks — and
// options that mark it as the build's (label, volatile rootfs, a name).
Result<image::ResolvedImage> build_container_image(StepContext& c, const State& s, engine::RunOptions* o) {
  TRY_ASSIGN(auto img, store_state(c.engine->store(), *c.ws, s));
  for (const auto& l : img.manifest.layers) TRY(c.ws->protect_blob(l.digest));
  img.config.config.volumes.clear();
  img.config.config.healthcheck.reset();
  o->labels["io.berth.build"] = "1";
  o->transient_rootfs = true;
  o->name = "berth-build-" + Digest::of(unique_name("b")).hex().substr(0, 12);
  return img;
}

Error command_failed(const std::vector<std::string>& args, int code) {
  std::string shown;
  for (const auto& a : args) shown += (shown.empty() ? "" : " ") + a;
  return Error(Errc::invalid_input, "the command [" + shown + "] failed: exit status " + std::to_string(code));
}

}  // namespace

Status run_step(StepContext& c, State& s, const RunSpec& r, const std::map<std::string, std::string>& stage_dirs,
                int64_t* size) {
  auto& e = *c.engine;
  auto& store = e.store();
  if (s.layers.empty()) return Error(Errc::invalid_argument, "RUN on an image with no layers (FROM scratch): there is nothing to run");
  engine::RunOptions o;
  TRY_ASSIGN(auto img, build_container_image(c, s, &o));
  o.entrypoint = std::vector<std::string>{};
  o.cmd = r.args;
  o.env = r.env;
  o.user = s.cfg.config.user;
  o.workdir = s.cfg.config.working_dir;
  o.network = r.network.empty() ? c.opts->network : r.network;
  std::vector<std::string> targets;
  for (const auto& raw : r.mounts) {
    TRY_ASSIGN(auto m, build_mount(c, raw, stage_dirs, &targets));
    if (!m.target.empty()) o.mounts.push_back(std::move(m));
  }
  // Heredoc scripts with a #! line are run as files, as BuildKit does.
  TempDir* scripts = nullptr;
  std::optional<TempDir> scripts_dir;
  if (!r.heredoc_files.empty()) {
    TRY(mkdir_p(path_join(store.root(), "build-tmp"), 0700));
    TRY_ASSIGN(auto td, TempDir::create(path_join(store.root(), "build-tmp"), "heredoc"));
    scripts_dir.emplace(std::move(td));
    scripts = &*scripts_dir;
    int n = 0;
    for (const auto& [ctr_path, content] : r.heredoc_files) {
      std::string host = path_join(scripts->path(), std::to_string(n++));
      TRY(atomic_write_file(host, content, 0755));
      engine::MountRequest m;
      m.kind = engine::MountRequest::bind;
      m.source = host;
      m.target = ctr_path;
      m.readonly = true;
      targets.push_back(ctr_path);
      o.mounts.push_back(std::move(m));
    }
  }

  TRY_ASSIGN(engine::Container ct, e.create(img, "", o));
  struct Remove {
    engine::Engine& e;
    std::string id;
    ~Remove() { (void)e.remove(id, true, true); }
  } remove{e, ct.id};
  int code;
  {
    Silence quiet(c.opts->quiet);
    engine::ForegroundOptions fo;
    fo.attach_stdin = false;
    fo.sig_proxy = true;
    TRY_ASSIGN(code, e.run_foreground(ct.id, fo));
  }
  if (code != 0) return command_failed(r.args, code);
  std::string upper = e.paths().upper(ct.id);
  TRY_ASSIGN(auto lowers, engine::prepare_lowers(store, img));
  drop_mount_points(upper, targets, lowers);
  TRY_ASSIGN(bool added, add_upper_layer(c, s, upper, size));
  (void)added;
  return {};
}

// ---- --flat ----

Status flat_run_op(FlatBox& box, const RunSpec& r, const std::vector<std::string>& env, const std::string& user,
                   const std::string& workdir) {
  if (!r.mounts.empty())
    return Error(Errc::unsupported, "RUN --mount is not supported with --flat yet (the stage container's mounts are fixed)");
  engine::ExecRequest req;
  req.args = r.args;
  // #! heredoc scripts: written at the rootfs's top for the run and removed
  // after it. A file created and deleted in the same upper dir leaves no
  // trace in the layer. Created O_EXCL|O_NOFOLLOW under the root's fd, so a
  // link the build planted cannot redirect the write.
  std::vector<std::string> scripts;
  struct Unlink {
    std::vector<std::string>* files;
    ~Unlink() {
      for (const auto& f : *files) ::unlink(f.c_str());
    }
  } unlink_scripts{&scripts};
  for (const auto& [ctr_path, content] : r.heredoc_files) {
    std::string name = ".berth-heredoc-" + std::to_string(::getpid()) + "-" + ctr_path.substr(ctr_path.rfind('/') + 1);
    UniqueFd root(::open(box.merged.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) return sys_error("open " + box.merged);
    UniqueFd fd(::openat(root.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0755));
    if (!fd) return sys_error("create heredoc script /" + name);
    scripts.push_back(box.merged + "/" + name);
    TRY(write_all(fd.get(), content.data(), content.size()));
    ::fchmod(fd.get(), 0755);
    for (auto& a : req.args)
      if (a == ctr_path) a = "/" + name;
  }
  req.env = env;
  req.user = user;
  req.workdir = workdir.empty() ? "/" : workdir;
  int code;
  {
    Silence quiet(box.quiet);
    TRY_ASSIGN(code, box.engine->exec(box.id, req));
  }
  if (code != 0) return command_failed(r.args, code);
  return {};
}

Status flat_execute(StepContext& c, State& s, const std::vector<FlatOp>& ops, int64_t* size) {
  auto& e = *c.engine;
  auto& store = e.store();
  State base = s;
  std::string upper;
  if (base.layers.empty()) {
    // FROM scratch: no container can run; the ops write into a plain overlay.
    TRY_ASSIGN(auto fs, StepRootfs::mount(store, *c.ws, base));
    FlatBox box{&e, "", fs.merged(), c.opts->quiet};
    for (const auto& op : ops) TRY(op(box));
    TRY(fs.unmount());
    TRY_ASSIGN(bool added, add_upper_layer(c, s, fs.upper(), size));
    (void)added;
    return {};
  }
  engine::RunOptions o;
  TRY_ASSIGN(auto img, build_container_image(c, base, &o));
  o.entrypoint = std::vector<std::string>{engine::kInitPath, "--pause"};
  o.init = true;
  o.user = "0:0";
  o.workdir = "/";
  o.network = c.opts->network;
  TRY_ASSIGN(engine::Container ct, e.create(img, "", o));
  struct Remove {
    engine::Engine& e;
    std::string id;
    ~Remove() { (void)e.remove(id, true, true); }
  } remove{e, ct.id};
  TRY(e.start(ct.id));
  FlatBox box{&e, ct.id, e.paths().merged(ct.id), c.opts->quiet};
  for (const auto& op : ops) TRY(op(box));
  TRY_ASSIGN(auto lowers, engine::prepare_lowers(store, img));
  std::vector<std::string> targets;
  drop_mount_points(e.paths().upper(ct.id), targets, lowers);
  TRY_ASSIGN(bool added, add_upper_layer(c, s, e.paths().upper(ct.id), size));
  (void)added;
  return {};
}

Status squash(StepContext& c, State& s) {
  auto& store = c.engine->store();
  TRY_ASSIGN(auto fs, StepRootfs::mount(store, *c.ws, s));
  TRY_ASSIGN(auto stored, engine::store_upper_layer(store, fs.merged(), c.mtime, /*overlay_upper=*/false));
  TRY(c.ws->protect_blob(stored.descriptor.digest));
  s.layers = {stored.descriptor};
  s.cfg.diff_ids = {stored.diff_id};
  return {};
}

}  // namespace berth::build
