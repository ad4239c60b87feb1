// berth create: a container record, its rootfs (overlay over shared
// snapshots), volumes and the OCI bundle. Either all of it or nothing.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/trace.h"
#include "base/fd.h"
#include "base/fs.h"
#include "engine/ahead.h"
#include "engine/engine.h"
#include "engine/netsetup.h"
#include "engine/options.h"
#include "engine/rootfs.h"
#include "engine/spec_gen.h"
#include "engine/volumes.h"

namespace berth::engine {

using nlohmann::json;

namespace {

// Undoes a half-made container on any error path.
struct CreateGuard {
  Engine* e;
  std::string id;
  std::vector<std::string> anon_volumes;
  Volumes* vols = nullptr;
  bool armed = true;
  ~CreateGuard() {
    if (!armed) return;
    (void)unmount_rootfs(e->paths().merged(id));
    (void)remove_all(e->paths().dir(id));
    if (vols)
      for (const auto& v : anon_volumes) (void)vols->remove(v, true);
  }
};

// Mount points (the /etc files berth binds in, /proc, /sys, /dev) that the
// image lacks are created in a read-only layer between the image and the
// upper dir. Without it the runtime creates them in the upper dir and
// `berth commit` would put empty /etc/hosts files and stray mount points
// into the new image. The layer holds only empty files and directories, so
// it depends on nothing but which entries are missing: one shared layer per
// such set, made once under init-layers/ (a fresh one per container cost
// five inodes and two mkdir -p walks on every run). Returns its path, or ""
// when the image has them all. `merged` is the image's tree (a read-only
// view); `layers` is Paths::init_layers().
Result<std::string> init_layer_for(const std::string& merged, const std::string& layers) {
  struct Entry {
    const char* path;
    bool is_dir;
  };
  static constexpr Entry kEntries[] = {{"proc", true}, {"sys", true}, {"dev", true}, {"etc", true},
                                       {"etc/hosts", false}, {"etc/hostname", false}, {"etc/resolv.conf", false}};
  unsigned mask = 0;
  struct stat st;
  // An /etc that is a symlink (or anything but a directory) is the image's
  // business: never look through it (it may point at the host's /etc from
  // here) nor shadow it with a directory.
  bool etc_ok = ::lstat((merged + "/etc").c_str(), &st) != 0 || S_ISDIR(st.st_mode);
  for (size_t i = 0; i < std::size(kEntries); i++) {
    if (!etc_ok && std::string_view(kEntries[i].path).starts_with("etc")) continue;
    // Anything already there (a symlink included) is the image's business.
    if (::lstat((merged + "/" + kEntries[i].path).c_str(), &st) != 0) mask |= 1u << i;
  }
  if (mask == 0) return std::string();
  std::string layer = layers + "/" + std::to_string(mask);
  if (path_exists(layer)) return layer;
  // Built aside and renamed into place, so a reader never sees half a layer;
  // a concurrent `berth create` making the same one wins or loses the rename.
  TRY(mkdir_p(layers, 0755));
  std::string tmp = layers + "/" + unique_name(".tmp");
  auto build = [&]() -> Status {
    TRY(mkdir_p(tmp, 0755));
    for (size_t i = 0; i < std::size(kEntries); i++) {
      if (!(mask & (1u << i))) continue;
      std::string p = tmp + "/" + kEntries[i].path;
      if (kEntries[i].is_dir) {
        TRY(mkdir_p(p, 0755));
        continue;
      }
      TRY(mkdir_p(dirname_of(p), 0755));  // etc/, when the image has no /etc
      UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
      if (!fd) return sys_error("create mount point " + p);
    }
    return Status{};
  };
  if (auto st = build(); !st.ok()) {
    (void)remove_all(tmp);
    return std::move(st).error();
  }
  if (::rename(tmp.c_str(), layer.c_str()) != 0) {
    int err = errno;
    (void)remove_all(tmp);
    if ((err != EEXIST && err != ENOTEMPTY) || !path_exists(layer)) return sys_error("rename " + tmp + " to " + layer, err);
  }
  return layer;
}

std::string init_binary() {
  if (const char* p = std::getenv("BERTH_INIT"); p && *p) return p;
  return dirname_of(berth_exe()) + "/berth-init";
}

}  // namespace

Result<Volumes> open_volumes(Engine& e) {
  TRY_ASSIGN(auto v, Volumes::open(e.store()));
  Containers* cs = &e.containers();
  v.set_users([cs](const std::string& name) -> Result<std::vector<std::string>> {
    std::vector<std::string> ids;
    TRY_ASSIGN(auto all, cs->list());
    for (const auto& c : all)
      for (const auto& m : c.config.value("volumes", json::array()))
        if (m.value("name", "") == name) ids.push_back(c.id);
    return ids;
  });
  return v;
}

Engine::Engine(Engine&&) noexcept = default;
Engine::~Engine() = default;

Result<Container> Engine::create(const image::ResolvedImage& img, const std::string& image_ref, const RunOptions& o,
                                 std::unique_ptr<Ahead> ahead) {
  TRY(check_run_options(o));
  Container c;
  c.id = ahead ? ahead->id() : new_container_id();
  c.name = o.name;
  if (c.name.empty()) {
    for (int i = 0; i < 20; i++) {
      c.name = random_container_name();
      if (!containers_.lookup(c.name).ok()) break;
    }
  } else if (!valid_container_name(c.name)) {
    return Error(Errc::invalid_argument, "invalid container name \"" + c.name +
                                             "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  } else if (auto other = containers_.lookup(c.name); other.ok() && other->name == c.name) {
    return Error(Errc::already_exists, "the container name \"/" + c.name + "\" is already in use by container " +
                                           other->id + ": remove (or rename) that container to reuse the name");
  }
  c.image = image_ref;
  c.image_id = img.manifest.config.digest.str();
  c.manifest = img.manifest_descriptor.digest.str();
  c.created_ns = now_ns();

  // GC waits while we unpack and until the row (a GC root) exists.
  TRY_ASSIGN(auto lock, store_->lock_shared());
  TRY_ASSIGN(auto lowers, prepare_lowers(*store_, img));
  trace_mark("create: lowers ready");
  TRY(mkdir_p(paths_.containers(), 0700));
  TRY(mkdir_p(paths_.dir(c.id), 0700));
  CreateGuard guard{this, c.id};
  std::string merged = paths_.merged(c.id);
  const bool transient = o.rm || o.transient_rootfs;
  {
    // What the image has where the init layer may add mount points: seen
    // through a read-only overlay (no upper dir: unmounting it syncs
    // nothing), or the only layer itself.
    std::string view = lowers.size() == 1 ? lowers[0] : merged;
    if (lowers.size() > 1) TRY(mount_rootfs(lowers, "", "", merged));
    auto init = init_layer_for(view, paths_.init_layers());
    if (lowers.size() > 1) TRY(unmount_rootfs(merged));
    if (!init.ok()) return std::move(init).error();
    if (!init->empty()) lowers.insert(lowers.begin(), *init);
  }
  trace_mark("create: init layer");
  TRY(mount_rootfs(lowers, paths_.upper(c.id), paths_.work(c.id), merged, transient));
  trace_mark("create: overlay mounted");

  TRY_ASSIGN(Volumes vols, open_volumes(*this));
  guard.vols = &vols;
  std::vector<ResolvedMount> mounts;
  json vol_uses = json::array(), mount_info = json::array();
  auto use_volume = [&](const MountRequest& m, bool anonymous) -> Status {
    TRY_ASSIGN(Volume v, vols.create(anonymous ? "" : m.source, {}, anonymous));
    if (anonymous) guard.anon_volumes.push_back(v.name);
    if (v.created) event("volume", "create", v.name, {{"driver", "local"}});
    if (!m.no_copy) TRY(vols.populate_from(v, merged, m.target));
    mounts.push_back(resolve_mount(m, v.mountpoint));
    vol_uses.push_back({{"name", v.name}, {"target", m.target}, {"anonymous", anonymous}});
    mount_info.push_back({{"Type", "volume"}, {"Name", v.name}, {"Source", v.mountpoint}, {"Destination", m.target},
                          {"Driver", "local"}, {"RW", !m.readonly}});
    return Status{};
  };
  std::vector<std::string> targets;
  for (const auto& m : o.mounts) {
    targets.push_back(m.target);
    switch (m.kind) {
      case MountRequest::bind:
        if (m.create_source && !path_exists(m.source)) TRY(mkdir_p(m.source, 0755));
        if (!path_exists(m.source))
          return Error(Errc::not_found, "invalid mount config: bind source path does not exist: " + m.source);
        mounts.push_back(resolve_mount(m));
        mount_info.push_back({{"Type", "bind"}, {"Source", m.source}, {"Destination", m.target}, {"RW", !m.readonly}});
        break;
      case MountRequest::volume: TRY(use_volume(m, false)); break;
      case MountRequest::anonymous: TRY(use_volume(m, true)); break;
      case MountRequest::tmpfs:
        mounts.push_back(resolve_mount(m));
        mount_info.push_back({{"Type", "tmpfs"}, {"Destination", m.target}, {"RW", !m.readonly}});
        break;
    }
  }
  // The image's VOLUMEs get anonymous volumes unless the user mounted there.
  for (const auto& v : img.config.config.volumes) {
    if (std::find(targets.begin(), targets.end(), v) != targets.end()) continue;
    MountRequest m;
    m.kind = MountRequest::anonymous;
    m.target = v;
    TRY(use_volume(m, true));
  }

  std::string hostname = container_hostname(o, c.id);
  json cfg = json::object();
  cfg["opts"] = to_json(o);
  cfg["lowers"] = lowers;
  cfg["volumes"] = vol_uses;
  cfg["mounts"] = mount_info;
  cfg["tty"] = o.tty;
  cfg["interactive"] = o.interactive;
  cfg["rm"] = o.rm;
  cfg["transient"] = transient;
  cfg["network"] = o.network;
  cfg["publish"] = o.publish;
  cfg["publish_all"] = o.publish_all;
  cfg["exposed"] = img.config.config.exposed_ports;
  cfg["dns"] = o.dns;
  cfg["dns_search"] = o.dns_search;
  cfg["dns_option"] = o.dns_option;
  cfg["add_host"] = o.add_host;
  cfg["hostname"] = hostname;
  cfg["user"] = o.user.empty() ? img.config.config.user : o.user;
  cfg["workdir"] = o.workdir.empty() ? img.config.config.working_dir : o.workdir;
  if (!o.cmd.empty()) cfg["cmd_override"] = o.cmd;
  if (o.entrypoint) cfg["entrypoint_override"] = *o.entrypoint;
  cfg["env_added"] = o.env;
  json labels = json::object();
  for (const auto& [k, v] : img.config.config.labels) labels[k] = v;
  for (const auto& [k, v] : o.labels) labels[k] = v;
  cfg["labels"] = labels;
  cfg["restart"] = {{"policy", restart_policy_name(o.restart.policy)}, {"max_retries", o.restart.max_retries}};
  int stop_sig = SIGTERM;
  std::string stop_name = !o.stop_signal.empty() ? o.stop_signal : img.config.config.stop_signal;
  if (!stop_name.empty()) {
    TRY_ASSIGN(stop_sig, parse_signal(stop_name, "--stop-signal"));
  }
  cfg["stop_signal"] = stop_sig;
  cfg["stop_signal_name"] = stop_name.empty() ? "SIGTERM" : stop_name;
  cfg["stop_timeout"] = o.stop_timeout.value_or(10);
  if (auto h = merge_healthcheck(img.config.config.healthcheck, o.health); h && !h->test.empty() && h->test[0] != "NONE")
    cfg["health"] = {{"test", h->test}, {"interval", h->interval}, {"timeout", h->timeout},
                     {"start_period", h->start_period}, {"retries", h->retries}};
  c.config = cfg;

  trace_mark("create: volumes, config");
  TRY(write_network_files(*this, c, ""));
  trace_mark("create: network files");
  SpecInputs in;
  in.image = img.config.config;
  in.options = o;
  in.rootfs = merged;
  in.id = c.id;
  in.cgroups_path = container_cgroups_path(c.id);
  // none: the runtime makes the namespace (and brings lo up, as runc does);
  // bridge and slirp join the one the engine prepares.
  if (o.network != "host" && o.network != "none") in.netns_path = paths_.netns(c.id);
  in.mounts = std::move(mounts);
  std::string dir = paths_.dir(c.id);
  in.files = {{dir + "/hosts", "/etc/hosts"}, {dir + "/resolv.conf", "/etc/resolv.conf"},
              {dir + "/hostname", "/etc/hostname"}};
  if (o.init) {
    in.init_path = init_binary();
    if (!path_exists(in.init_path))
      return Error(Errc::not_found, "--init: the init binary " + in.init_path + " is missing (set BERTH_INIT)");
  }
  TRY_ASSIGN(json spec, make_spec(in));
  trace_mark("create: spec made");
  // Compact: the runtime parses it at every start, nobody edits it by hand.
  if (o.rm && o.run_here) unwritten_specs_[c.id] = spec.dump();
  else TRY(write_ephemeral(paths_.bundle(c.id) + "/config.json", spec.dump(), 0600));
  trace_mark("create: spec written");
  c.config["args"] = spec["process"]["args"];
  c.config["env"] = spec["process"]["env"];
  c.config["entrypoint"] = o.entrypoint ? json(*o.entrypoint)
                           : img.config.config.entrypoint ? json(*img.config.config.entrypoint) : json(nullptr);
  c.config["cmd"] = !o.cmd.empty() ? json(o.cmd)
                    : (img.config.config.cmd && !o.entrypoint) ? json(*img.config.config.cmd) : json(nullptr);
  auto inserted = containers_.insert(c);
  // A generated name that a parallel berth took after our lookup: pick again.
  for (int i = 0; !inserted.ok() && inserted.error().code == Errc::already_exists && o.name.empty() && i < 20; i++) {
    c.name = random_container_name();
    inserted = containers_.insert(c);
  }
  TRY(std::move(inserted));
  trace_mark("create: row inserted");
  guard.armed = false;
  if (ahead) ahead_[c.id] = std::move(ahead);
  container_event(c, "create");
  trace_mark("create: event");
  return c;
}

Status Engine::remove_anonymous_volumes(const Container& c) {
  std::vector<std::string> anon;
  for (const auto& v : c.config.value("volumes", json::array()))
    if (v.value("anonymous", false)) anon.push_back(v.value("name", ""));
  if (anon.empty()) return Status{};
  TRY_ASSIGN(Volumes vols, open_volumes(*this));
  // The container row may still exist (rm removes it afterwards): don't let
  // "in use by this container" stop us.
  vols.set_users([](const std::string&) -> Result<std::vector<std::string>> { return std::vector<std::string>{}; });
  for (const auto& n : anon) {
    auto r = vols.remove(n, true);
    if (r.ok()) event("volume", "destroy", n, {{"driver", "local"}});
    else if (r.error().code != Errc::not_found) return std::move(r).error();
  }
  return Status{};
}

}  // namespace berth::engine
