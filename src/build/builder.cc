// `berth build`: stages in dependency order, each instruction either folded
// into the config or run as a cached filesystem step (build/internal.h).
#include "build/builder.h"

#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include <algorithm>
#include <cstdio>

#include "base/fs.h"
#include "build/builder_impl.h"
#include "engine/options.h"
#include "image/archive.h"
#include "image/change.h"
#include "image/manifest.h"
#include "image/media_types.h"
#include "snapshot/snapshot.h"

namespace berth::build {

namespace detail {

Result<int> Builder::stage_index(const std::string& ref) const {
  std::string l = lower(ref);
  for (size_t i = 0; i < df_.stages.size(); i++)
    if (!df_.stages[i].name.empty() && df_.stages[i].name == l) return static_cast<int>(i);
  if (!ref.empty() && std::all_of(ref.begin(), ref.end(), ::isdigit)) {
    size_t n = std::stoul(ref.substr(0, 6));
    if (n < df_.stages.size()) return static_cast<int>(n);
  }
  return Error(Errc::not_found, "no stage named " + ref);
}

Result<State> Builder::stage_state(int idx) {
  if (auto it = done_.find(idx); it != done_.end()) return it->second;
  if (building_.count(idx)) return Error(Errc::invalid_argument, "stage " + std::to_string(idx) + " depends on itself");
  building_.insert(idx);
  TRY_ASSIGN(State s, build_stage(idx));
  building_.erase(idx);
  done_[idx] = s;
  return s;
}

Result<State> Builder::base_state(const std::string& name) {
  State s;
  if (name == "scratch") {
    s.scratch = true;
    const auto& p = image::host_platform();
    s.cfg.architecture = p.architecture;
    s.cfg.os = p.os;
    s.cfg.variant = p.variant;
    s.key = sha256_key("FROM scratch");
    return s;
  }
  if (!o_.find_image) return Error(Errc::not_found, "FROM " + name + ": no image lookup configured");
  auto d = o_.find_image(name);
  if (!d.ok()) {
    Error err = std::move(d).error();
    if (err.code == Errc::not_found)
      err.message = "base image " + name + " is not in the store (berth build does not pull: `berth pull` or `berth load` it first)";
    return err;
  }
  TRY_ASSIGN(auto img, image::resolve(e_.store().content(), *d));
  TRY(ws_.protect_blob(img.manifest_descriptor.digest));
  s.cfg = img.config;
  s.cfg.raw.clear();
  s.layers = img.manifest.layers;
  s.key = sha256_key("FROM " + img.manifest_descriptor.digest.str());
  return s;
}

Result<State> Builder::build_stage(int idx) {
  const auto& st = df_.stages[idx];
  Vars meta;
  meta.args = meta_;
  TRY_ASSIGN(std::string base, dockerfile::expand_word(st.from.args.empty() ? "" : st.from.args[0], meta.lookup(), df_.escape));
  for (const auto& v : dockerfile::referenced_vars(st.from.args.empty() ? "" : st.from.args[0], df_.escape))
    used_args_.insert(v);
  StageCtx sc;
  auto si = stage_index(base);
  if (si.ok() && *si < idx) {
    TRY_ASSIGN(sc.state, stage_state(*si));
  } else {
    auto bs = base_state(base);
    if (!bs.ok()) return at(st.from, file_, std::move(bs).error());
    sc.state = std::move(*bs);
  }
  std::string label = "[" + std::to_string(idx + 1) + "/" + std::to_string(df_.stages.size()) + "] ";
  int n = static_cast<int>(st.body.size()) + 1;
  progress(label + "STEP 1/" + std::to_string(n) + ": " + st.from.original);
  sc.vars.env = &sc.state.cfg.config.env;
  // ONBUILD triggers of the base run first, then are not inherited.
  auto triggers = std::move(sc.state.cfg.config.on_build);
  sc.state.cfg.config.on_build.clear();
  for (const auto& t : triggers) {
    auto ins = dockerfile::parse_instruction(t, df_.escape);
    if (!ins.ok()) return at(st.from, file_, std::move(ins).error().wrap("ONBUILD trigger " + t));
    progress(label + "ONBUILD " + t);
    auto r = dispatch(sc, *ins, idx);
    if (!r.ok()) return at(st.from, file_, std::move(r).error().wrap("ONBUILD trigger"));
  }
  for (size_t i = 0; i < st.body.size(); i++) {
    const auto& ins = st.body[i];
    progress_step(label + "STEP " + std::to_string(i + 2) + "/" + std::to_string(n) + ": " + ins.original,
                  ins.kind == Kind::run);
    auto r = dispatch(sc, ins, idx);
    if (!r.ok()) return at(ins, file_, std::move(r).error());
  }
  TRY(flat_finish(sc));
  return sc.state;
}

// A cache hit: the record's manifest gives the layers after the step.
bool Builder::use_cached(State& s, const std::string& key, image::History h) {
  auto rec = cache_.get(key);
  if (!rec.ok() || !*rec) return false;
  const Digest md = (*rec)->manifest;
  auto doc = e_.store().content().read_blob(md);
  if (!doc.ok()) return false;  // a record whose manifest is gone: rebuild it
  auto m = image::parse_manifest(*doc);
  if (!m.ok() || m->layers.size() < s.layers.size()) return false;
  auto cfg = image::read_config(e_.store().content(), m->config);
  if (!cfg.ok() || cfg->diff_ids.size() != m->layers.size()) return false;
  if (!ws_.protect_blob(md).ok()) return false;
  h.empty_layer = m->layers.size() == s.layers.size();
  s.layers = m->layers;
  s.cfg.diff_ids = cfg->diff_ids;
  s.cfg.history.push_back(h);
  s.key = key;
  hit_keys_.push_back(key);
  cached_++;
  progress_done((tty_ ? "CACHED " : "Using cache ") + key.substr(7, 12), true);  // podman's words in logs
  return true;
}

// A filesystem step: look the key up, else run it and record the result.
// With --flat the step is only queued (flat_finish runs the stage's queue).
Status Builder::layer_step(StageCtx& sc, const Instruction& ins, const std::string& canonical,
                           const std::function<Status(State&, int64_t*)>& exec, FlatOp flat) {
  State& s = sc.state;
  std::string key = sha256_key(s.key + "\n" + canonical);
  steps_++;
  image::History h;
  h.created = history_time();
  h.created_by = canonical;
  if (o_.flat) {
    h.empty_layer = true;
    s.cfg.history.push_back(h);
    sc.last_fs_history = s.cfg.history.size();
    s.key = key;
    sc.pending.push_back(std::move(flat));
    return {};
  }
  if (!o_.no_cache && use_cached(s, key, h)) return {};
  auto t0 = std::chrono::steady_clock::now();
  size_t before = s.layers.size();
  int64_t size = 0;
  TRY(exec(s, &size));
  h.empty_layer = s.layers.size() == before;
  s.cfg.history.push_back(h);
  s.key = key;
  return record(s, key, canonical, size, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

Status Builder::record(State& s, const std::string& key, const std::string& canonical, int64_t size, double seconds) {
  TRY_ASSIGN(auto img, store_state(e_.store(), ws_, s));
  CacheRecord rec;
  rec.key = key;
  rec.manifest = img.manifest_descriptor.digest;
  rec.instruction = canonical.substr(0, 512);
  rec.size = size;
  TRY(cache_.put(rec));
  char took[32];
  std::snprintf(took, sizeof took, "%.2fs", seconds);
  progress_done(std::string("done ") + took + " " + key.substr(7, 12), false);
  return {};
}

// --flat: every queued step of the stage in one container, one layer.
Status Builder::flat_finish(StageCtx& sc) {
  if (sc.pending.empty()) return {};
  State& s = sc.state;
  std::string key = sha256_key("flat\n" + s.key);
  auto ops = std::move(sc.pending);
  sc.pending.clear();
  // The stage's one layer is described by its last filesystem step.
  size_t hi = sc.last_fs_history ? sc.last_fs_history - 1 : 0;
  image::History h = s.cfg.history.at(hi);
  auto saved_history = s.cfg.history;
  size_t before = s.layers.size();
  if (!o_.no_cache && use_cached(s, key, h)) {
    s.cfg.history = std::move(saved_history);  // use_cached appended one entry; the step's own is kept
    s.cfg.history[hi].empty_layer = s.layers.size() == before;
    return {};
  }
  progress("flat: running the stage's " + std::to_string(ops.size()) + " filesystem steps in one container");
  auto t0 = std::chrono::steady_clock::now();
  int64_t size = 0;
  StepContext c{&e_, &ws_, &o_, o_.timestamp};
  TRY(flat_execute(c, s, ops, &size));
  s.cfg.history[hi].empty_layer = s.layers.size() == before;
  return record(s, key, "flat: " + s.cfg.history[hi].created_by, size,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

Status Builder::dispatch(StageCtx& sc, const Instruction& ins, int idx) {
  State& s = sc.state;
  auto& cfg = s.cfg.config;
  auto look = sc.vars.lookup();
  auto ex = [&](const std::string& w) -> Result<std::string> {
    for (const auto& v : dockerfile::referenced_vars(w, df_.escape)) used_args_.insert(v);
    return dockerfile::expand_word(w, look, df_.escape);
  };
  std::string canonical;
  auto meta_step = [&](const std::string& c) {
    s.key = sha256_key(s.key + "\n" + c);
    image::History h;
    h.created = history_time();
    h.created_by = c;
    h.empty_layer = true;
    s.cfg.history.push_back(h);
  };
  switch (ins.kind) {
    case Kind::env:
    case Kind::label: {
      std::string c = ins.kind == Kind::env ? "ENV" : "LABEL";
      // Every pair is expanded with the values from before the instruction
      // (`ENV A=1 B=${A}2` gives B=2 when A was unset: Docker's reference).
      std::vector<std::pair<std::string, std::string>> kvs;
      for (const auto& kv : ins.pairs) {
        TRY_ASSIGN(std::string k, ex(kv.key));
        TRY_ASSIGN(std::string v, ex(kv.value.value_or("")));
        kvs.emplace_back(std::move(k), std::move(v));
      }
      for (const auto& [k, v] : kvs) {
        if (ins.kind == Kind::env) image::env_set(cfg.env, k, v);
        else cfg.labels[k] = v;
        c += " " + k + "=" + v;
      }
      meta_step(c);
      return {};
    }
    case Kind::arg: {
      std::string c = "ARG";
      for (const auto& kv : ins.pairs) {
        std::string name = kv.key;
        std::optional<std::string> val;
        if (auto it = o_.build_args.find(name); it != o_.build_args.end()) {
          val = it->second;
          used_args_.insert(name);
        } else if (kv.value) {
          TRY_ASSIGN(std::string v, ex(*kv.value));
          val = v;
        } else if (auto m = meta_.find(name); m != meta_.end()) {
          val = m->second;
        }
        if (val) sc.vars.args[name] = *val;
        c += " " + name;
      }
      meta_step(c);
      return {};
    }
    case Kind::cmd:
    case Kind::entrypoint: {
      std::vector<std::string> v = ins.args;
      if (!ins.json) {
        v = cfg.shell.empty() ? std::vector<std::string>{"/bin/sh", "-c"} : cfg.shell;
        v.push_back(ins.args.empty() ? "" : ins.args[0]);
      }
      if (ins.kind == Kind::cmd) {
        cfg.cmd = v;
        sc.cmd_set = true;
        meta_step("CMD " + json_array(v));
      } else {
        cfg.entrypoint = v;
        if (!sc.cmd_set) cfg.cmd.reset();
        meta_step("ENTRYPOINT " + json_array(v));
      }
      return {};
    }
    case Kind::shell:
      cfg.shell = ins.args;
      meta_step("SHELL " + json_array(ins.args));
      return {};
    case Kind::workdir: {
      TRY_ASSIGN(std::string w, ex(ins.args.empty() ? "" : ins.args[0]));
      std::string dir = clean_abs(cfg.working_dir.empty() ? "/" : cfg.working_dir, w);
      cfg.working_dir = dir;
      return layer_step(
          sc, ins, "WORKDIR " + dir,
          [&](State& st, int64_t* size) {
            StepContext c{&e_, &ws_, &o_, o_.timestamp};
            return workdir_step(c, st, dir, size);
          },
          [dir](FlatBox& box) { return make_workdir(box.merged, dir); });
    }
    case Kind::user: {
      TRY_ASSIGN(std::string u, ex(ins.args.empty() ? "" : ins.args[0]));
      cfg.user = u;
      meta_step("USER " + u);
      return {};
    }
    case Kind::expose: {
      std::string c = "EXPOSE";
      for (const auto& w : ins.args) {
        TRY_ASSIGN(std::string p, ex(w));
        c += " " + p;
      }
      std::vector<std::string> ch = {c};
      image::RunConfig tmp = cfg;
      tmp.env.clear();  // already expanded: nothing left for apply_changes to substitute
      TRY(image::apply_changes(tmp, ch));
      cfg.exposed_ports = tmp.exposed_ports;
      meta_step(c);
      return {};
    }
    case Kind::volume: {
      std::string c = "VOLUME";
      for (const auto& w : ins.args) {
        std::string v = w;
        if (!ins.json) {
          TRY_ASSIGN(v, ex(w));
        }
        if (v.empty()) return Error(Errc::invalid_argument, "VOLUME specified can not be an empty string");
        if (std::find(cfg.volumes.begin(), cfg.volumes.end(), v) == cfg.volumes.end()) cfg.volumes.push_back(v);
        c += " " + v;
      }
      std::sort(cfg.volumes.begin(), cfg.volumes.end());
      meta_step(c);
      return {};
    }
    case Kind::stopsignal: {
      TRY_ASSIGN(std::string sig, ex(ins.args.empty() ? "" : ins.args[0]));
      TRY(engine::parse_signal(sig, "STOPSIGNAL").ok() ? Status{} : Status(Error(Errc::invalid_argument, "STOPSIGNAL " + sig + ": not a signal")));
      cfg.stop_signal = sig;
      meta_step("STOPSIGNAL " + sig);
      return {};
    }
    case Kind::healthcheck: {
      image::Healthcheck hc;
      if (ins.healthcheck_none) {
        hc.test = {"NONE"};
      } else {
        if (ins.json) {
          hc.test = {"CMD"};
          hc.test.insert(hc.test.end(), ins.args.begin(), ins.args.end());
        } else {
          hc.test = {"CMD-SHELL", ins.args.empty() ? "" : ins.args[0]};
        }
        for (const auto& f : ins.flags) {
          if (f.name == "retries") {
            try {
              hc.retries = std::stoll(f.value);
            } catch (...) {
              return Error(Errc::invalid_argument, "HEALTHCHECK --retries=" + f.value + ": not a number");
            }
            continue;
          }
          TRY_ASSIGN(int64_t ns, engine::parse_duration(f.value, "--" + f.name));
          if (f.name == "interval") hc.interval = ns;
          else if (f.name == "timeout") hc.timeout = ns;
          else if (f.name == "start-period") hc.start_period = ns;
          else if (f.name == "start-interval") hc.start_interval = ns;
        }
      }
      cfg.healthcheck = hc;
      meta_step("HEALTHCHECK " + json_array(hc.test));
      return {};
    }
    case Kind::onbuild:
      cfg.on_build.push_back(ins.args.empty() ? "" : ins.args[0]);
      meta_step("ONBUILD " + cfg.on_build.back());
      return {};
    case Kind::maintainer: {
      TRY_ASSIGN(std::string m, ex(ins.args.empty() ? "" : ins.args[0]));
      s.cfg.author = m;
      meta_step("MAINTAINER " + m);
      return {};
    }
    case Kind::run:
      return do_run(sc, ins);
    case Kind::copy:
    case Kind::add:
      return do_copy(sc, ins);
    case Kind::from:
      return Error(Errc::internal, "FROM inside a stage");
  }
  (void)idx;
  return {};
}


Result<BuildResult> Builder::finish(State s) {
  auto& store = e_.store();
  for (const auto& [k, v] : o_.labels) s.cfg.config.labels[k] = v;
  // A build where every step hit the cache gives the image of last time
  // (same ID, as docker's builders do), keyed by everything that shapes it.
  std::string fkey = sha256_key("image\n" + s.key + "\n" + nlohmann::json(o_.labels).dump() +
                                (o_.squash_all ? "\nsquash" : "") +
                                (o_.timestamp ? "\nts=" + std::to_string(*o_.timestamp) : ""));
  image::ResolvedImage img;
  bool reused = false;
  if (!o_.no_cache && cached_ == steps_) {
    auto rec = cache_.get(fkey);
    if (rec.ok() && *rec) {
      auto bytes = store.content().read_blob((*rec)->manifest);
      if (bytes.ok()) {
        image::Descriptor d{std::string(image::media::kOciManifest), (*rec)->manifest,
                            static_cast<uint64_t>(bytes->size())};
        auto r = image::resolve(store.content(), d);
        if (r.ok() && ws_.protect_blob(d.digest).ok()) {
          img = std::move(*r);
          s.layers = img.manifest.layers;
          reused = true;
          hit_keys_.push_back(fkey);
        }
      }
    }
  }
  if (!reused) {
    s.cfg.created = history_time();
    if (o_.squash_all && !s.layers.empty()) {
      StepContext c{&e_, &ws_, &o_, o_.timestamp};
      TRY(squash(c, s));
      for (auto& h : s.cfg.history) h.empty_layer = true;
      image::History h;
      h.created = s.cfg.created;
      h.created_by = "berth build --squash-all";
      s.cfg.history.push_back(h);
    }
    TRY_ASSIGN(img, store_state(store, ws_, s));
    CacheRecord rec;
    rec.key = fkey;
    rec.manifest = img.manifest_descriptor.digest;
    rec.instruction = "image";
    TRY(cache_.put(rec));
  }
  for (const auto& l : s.layers) TRY(ws_.protect_blob(l.digest));
  std::vector<metadata::Image> names;
  metadata::Target target{img.manifest_descriptor.digest, std::string(image::media::kOciManifest),
                          static_cast<int64_t>(img.manifest_descriptor.size)};
  for (const auto& t : o_.tags) names.push_back({t, target, 0, 0});
  if (names.empty()) names.push_back({"<none>@" + img.manifest_descriptor.digest.str(), target, 0, 0});
  TRY(cache_.touch(hit_keys_));
  TRY(ws_.commit(names));
  for (const auto& out : o_.outputs) {
    if (out.type == "local") {
      std::vector<snapshot::Layer> ls;
      const auto& layers = img.manifest.layers;
      for (size_t i = 0; i < layers.size(); i++) ls.push_back({layers[i].digest, img.config.diff_ids[i]});
      TRY(snapshot::unpack_flat(ls, snapshot::blobs_of(store.content()), out.dest));
      continue;
    }
    image::SaveItem item;
    if (!o_.tags.empty()) {
      auto ref = image::parse_reference(o_.tags[0]);
      if (ref.ok()) item.reference = *ref;
    }
    item.descriptor = img.manifest_descriptor;
    auto fmt = out.type == "oci" ? image::ArchiveFormat::oci_archive : image::ArchiveFormat::docker_archive;
    TRY(image::save(store.content(), {item}, fmt, out.dest));
  }
  end_pending();
  BuildResult r;
  r.image_id = img.config.digest;
  r.manifest = img.manifest_descriptor.digest;
  r.steps = steps_;
  r.cached = cached_;
  return r;
}

Result<BuildResult> Builder::run() {
  tty_ = ::isatty(2) != 0;
  file_ = o_.dockerfile_path.empty() ? "Dockerfile" : o_.dockerfile_path;
  IgnoreMatcher ignore;
  std::string ign = path_join(o_.context_dir, ".dockerignore");
  if (path_exists(ign)) {
    TRY_ASSIGN(std::string text, read_file(ign, 1 << 20));
    TRY_ASSIGN(ignore, IgnoreMatcher::parse(text, ign));
  }
  TRY_ASSIGN(Source ctx, Source::dir(o_.context_dir, std::move(ignore)));
  context_.emplace(std::move(ctx));
  for (const auto& [name, dir] : o_.build_contexts) {
    TRY_ASSIGN(Source nc, Source::dir(dir));
    named_contexts_.emplace(name, std::move(nc));
  }
  // BuildKit's automatic platform args (visible once declared with ARG).
  const auto& p = image::host_platform();
  std::string plat = p.os + "/" + p.architecture + (p.variant.empty() ? "" : "/" + p.variant);
  for (const char* pre : {"TARGET", "BUILD"}) {
    meta_[std::string(pre) + "PLATFORM"] = plat;
    meta_[std::string(pre) + "OS"] = p.os;
    meta_[std::string(pre) + "ARCH"] = p.architecture;
    meta_[std::string(pre) + "VARIANT"] = p.variant;
  }
  for (const auto& ins : df_.meta_args)
    for (const auto& kv : ins.pairs) {
      if (auto it = o_.build_args.find(kv.key); it != o_.build_args.end()) {
        meta_[kv.key] = it->second;
        used_args_.insert(kv.key);
      } else if (kv.value) {
        Vars v;
        v.args = meta_;
        auto val = dockerfile::expand_word(*kv.value, v.lookup(), df_.escape);
        if (!val.ok()) return at(ins, file_, std::move(val).error());
        meta_[kv.key] = *val;
      }
    }
  int target = static_cast<int>(df_.stages.size()) - 1;
  if (!o_.target.empty()) {
    auto t = stage_index(o_.target);
    if (!t.ok()) return Error(Errc::not_found, "target stage " + o_.target + " could not be found");
    target = *t;
  }
  TRY_ASSIGN(State s, stage_state(target));
  std::vector<std::string> unused;
  for (const auto& [k, v] : o_.build_args)
    if (!used_args_.count(k) && !is_proxy_arg(k)) unused.push_back(k);
  if (!unused.empty()) progress("[Warning] one or more build args were not consumed: " + join(unused, ", "));
  return finish(std::move(s));
}

}  // namespace detail

Result<BuildResult> build(engine::Engine& e, const BuildOptions& o) {
  std::string text;
  if (o.dockerfile_text) {
    text = *o.dockerfile_text;
  } else {
    auto t = read_file(o.dockerfile_path, dockerfile::kMaxDockerfile + 1);
    if (!t.ok()) return std::move(t).error().wrap("reading Dockerfile");
    text = std::move(*t);
  }
  TRY_ASSIGN(auto df, dockerfile::parse(text, o.dockerfile_path.empty() ? "Dockerfile" : o.dockerfile_path));
  TRY_ASSIGN(Cache cache, Cache::open(e.store()));
  TRY_ASSIGN(auto ws, WriteSession::begin(e.store()));
  detail::Builder b(e, o, std::move(df), std::move(cache), std::move(ws));
  return b.run();
}

}  // namespace berth::build
