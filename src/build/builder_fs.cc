// The filesystem steps of a Dockerfile: RUN and COPY/ADD — their inputs,
// their cache keys, and the step functions of steps.cc that carry them out.
#include <algorithm>

#include "base/fs.h"
#include "build/builder_impl.h"

namespace berth::build::detail {

Status Builder::do_run(StageCtx& sc, const Instruction& ins) {
  State& s = sc.state;
  auto& cfg = s.cfg.config;
  auto look = sc.vars.lookup();
  std::vector<std::string> shell = cfg.shell.empty() ? std::vector<std::string>{"/bin/sh", "-c"} : cfg.shell;
  RunSpec r;
  std::string script;  // what the variables it references are looked for in
  if (ins.json) {
    r.args = ins.args;
    script = join(ins.args);
  } else {
    std::string text = ins.args.empty() ? "" : ins.args[0];
    std::string trimmed = text;
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back()))) trimmed.pop_back();
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front()))) trimmed.erase(0, 1);
    if (ins.heredocs.size() == 1 && trimmed.rfind("<<", 0) == 0 && trimmed.find(' ') == std::string::npos) {
      // `RUN <<EOF`: the heredoc is the script (BuildKit); with a #! line it
      // is run as a file so its interpreter is used.
      const auto& h = ins.heredocs[0];
      script = h.content;
      if (h.content.rfind("#!", 0) == 0) {
        std::string path = "/dev/pipes/" + h.name;
        r.heredoc_files[path] = h.content;
        r.args = {path};
      } else {
        r.args = shell;
        r.args.push_back(h.content);
      }
    } else {
      // Anything else: the shell sees the heredocs as written.
      script = text;
      for (const auto& h : ins.heredocs) script += "\n" + h.content + h.name;
      r.args = shell;
      r.args.push_back(script);
    }
  }
  r.env = sc.vars.arg_env();
  for (const auto& [k, v] : o_.build_args)
    if (is_proxy_arg(k) && !image::env_get(cfg.env, k) && !sc.vars.args.count(k)) {
      r.env.push_back(k + "=" + v);
      used_args_.insert(k);
    }
  std::string canonical = "RUN " + (ins.json ? json_array(r.args) : join(r.args));
  for (const auto& f : ins.flags) {
    if (f.name == "network") {
      if (f.value != "none" && f.value != "host" && f.value != "default")
        return Error(Errc::invalid_argument, "RUN --network=" + f.value + ": one of none, host, default");
      r.network = f.value == "default" ? "" : f.value;
    } else if (f.name == "security") {
      if (f.value != "sandbox") return Error(Errc::unsupported, "RUN --security=" + f.value + " is not supported");
    }
  }
  canonical += " [network=" + (r.network.empty() ? o_.network : r.network) + "]";
  std::map<std::string, std::string> stage_dirs;
  for (const auto* f : ins.all_flags("mount")) {
    for (const auto& v : dockerfile::referenced_vars(f->value, df_.escape)) used_args_.insert(v);
    TRY_ASSIGN(std::string m, dockerfile::expand_word(f->value, look, df_.escape));
    r.mounts.push_back(m);
    canonical += " --mount=" + m;
    // Inputs of bind mounts are part of the key: their content for the
    // context, the source stage's key otherwise.
    // The same reading of the value as build_mount's, so the key covers what is mounted.
    auto kv = parse_kv_csv(m);
    std::string type = kv.count("type") ? kv["type"] : "bind";
    std::string from = kv.count("from") ? kv["from"] : "";
    std::string src = kv.count("source") ? kv["source"] : kv.count("src") ? kv["src"] : ".";
    if (type != "bind") continue;
    if (from.empty()) {
      TRY_ASSIGN(auto paths, context_->match(src));
      TRY_ASSIGN(Digest d, context_->checksum(paths, path_join(e_.store().root(), "build-files")));
      canonical += "#" + d.str();
    } else {
      TRY_ASSIGN(auto sk, copy_source(from));
      stage_dirs[from] = sk.first->root();
      if (sk.second.rfind("context:", 0) == 0) {
        TRY_ASSIGN(auto paths, sk.first->match(src));
        TRY_ASSIGN(Digest d, sk.first->checksum(paths, path_join(e_.store().root(), "build-files")));
        canonical += "#" + d.str();
      } else {
        canonical += "#" + sk.second;
      }
    }
  }
  // Every ARG in scope is in the command's environment, so each one's value
  // is part of the key (BuildKit's rule; keying only on the names the text
  // mentions would serve stale results to scripts that read $ARG
  // themselves). ARGs not declared in the stage (or declared later) are not
  // in scope and change nothing. ENV values are in the parent key already.
  for (const auto& v : dockerfile::referenced_vars(script, df_.escape)) used_args_.insert(v);
  for (const auto& [k, v] : sc.vars.args)
    if (!image::env_get(cfg.env, k)) canonical += " " + k + "=" + v;
  std::vector<std::string> env = cfg.env;
  for (const auto& kv : r.env) env.push_back(kv);
  FlatOp flat = [r, env, user = cfg.user, wd = cfg.working_dir](FlatBox& box) {
    return flat_run_op(box, r, env, user, wd);
  };
  return layer_step(
      sc, ins, canonical,
      [&](State& st, int64_t* size) {
        StepContext c{&e_, &ws_, &o_, o_.timestamp};
        return run_step(c, st, r, stage_dirs, size);
      },
      std::move(flat));
}

// Where COPY --from / RUN --mount from= read: a named build context, a stage,
// or an image. The key part says which, without mounting anything: a cache
// hit must not cost a mount.
Result<std::string> Builder::source_key(const std::string& from, State* st, const Source** named) {
  *named = nullptr;
  if (auto nc = named_contexts_.find(from); nc != named_contexts_.end()) {
    *named = &nc->second;
    return "context:" + from;
  }
  auto si = stage_index(from);
  if (si.ok()) {
    TRY_ASSIGN(*st, stage_state(*si));
    return "stage:" + st->key;
  }
  TRY_ASSIGN(*st, base_state(from));
  return "image:" + st->key;
}

Result<const Source*> Builder::mount_source(const std::string& keypart, const State& st) {
  if (auto it = from_sources_.find(keypart); it != from_sources_.end()) return it->second;
  TRY_ASSIGN(auto m, MountedSource::mount(e_.store(), ws_, st));
  mounted_.push_back(std::make_unique<MountedSource>(std::move(m)));
  const Source* src = &mounted_.back()->source();
  from_sources_[keypart] = src;
  return src;
}

Result<std::pair<const Source*, std::string>> Builder::copy_source(const std::string& from) {
  State st;
  const Source* named = nullptr;
  TRY_ASSIGN(std::string keypart, source_key(from, &st, &named));
  if (named) return std::make_pair(named, keypart);
  TRY_ASSIGN(const Source* src, mount_source(keypart, st));
  return std::make_pair(src, keypart);
}

Status Builder::do_copy(StageCtx& sc, const Instruction& ins) {
  auto look = sc.vars.lookup();
  auto ex = [&](const std::string& w) -> Result<std::string> {
    for (const auto& v : dockerfile::referenced_vars(w, df_.escape)) used_args_.insert(v);
    return dockerfile::expand_word(w, look, df_.escape);
  };
  bool add = ins.kind == Kind::add;
  CopySpec cp;
  cp.add = add;
  std::string canonical = add ? "ADD" : "COPY";
  std::string from;
  for (const auto& f : ins.flags) {
    if (f.name == "from") {
      TRY_ASSIGN(from, ex(f.value));
      canonical += " --from=" + from;
    } else if (f.name == "chown") {
      TRY_ASSIGN(cp.chown, ex(f.value));
      canonical += " --chown=" + cp.chown;
    } else if (f.name == "chmod") {
      TRY_ASSIGN(std::string m, ex(f.value));
      char* end = nullptr;
      unsigned long v = std::strtoul(m.c_str(), &end, 8);
      if (m.empty() || *end || v > 07777)
        return Error(Errc::invalid_argument, "--chmod=" + m + ": an octal mode is required (e.g. 0755)");
      cp.chmod = static_cast<mode_t>(v);
      canonical += " --chmod=" + m;
    } else if (f.name == "parents" || f.name == "exclude" || f.name == "keep-git-dir" || f.name == "checksum") {
      return Error(Errc::unsupported, "--" + f.name + " is not supported");
    }
  }
  std::vector<std::string> words;
  for (const auto& w : ins.args) {
    if (w.rfind("<<", 0) == 0) continue;  // heredoc sources
    std::string v = w;
    if (!ins.json) {
      TRY_ASSIGN(v, ex(w));
    }
    words.push_back(v);
  }
  if (words.empty()) return Error(Errc::invalid_argument, canonical + ": a destination is required");
  cp.dest = words.back();
  words.pop_back();
  const Source* src = &*context_;
  std::string keypart = "context";
  if (!from.empty()) {
    State st;
    TRY_ASSIGN(keypart, source_key(from, &st, &src));
    if (!src) {
      // A stage or an image: mounted and matched only if the step runs.
      cp.lazy_src = [this, keypart, st]() { return mount_source(keypart, st); };
      cp.patterns = words;
    }
  }
  cp.src = src;
  std::vector<std::string> urls;
  for (const auto& w : words) {
    if (!src) break;
    if (add && (w.rfind("http://", 0) == 0 || w.rfind("https://", 0) == 0 || w.rfind("git@", 0) == 0)) {
      cp.paths.push_back(w);
      urls.push_back(w);
      continue;
    }
    TRY_ASSIGN(auto p, src->match(w));
    cp.paths.insert(cp.paths.end(), p.begin(), p.end());
  }
  for (const auto& w : words) canonical += " " + w;
  canonical += " " + cp.dest;
  for (const auto& h : ins.heredocs) {
    dockerfile::Heredoc hd = h;
    if (h.expand) {
      TRY_ASSIGN(hd.content, ex(h.content));
    }
    canonical += " <<" + h.name + "#" + Digest::of(hd.content).str();
    cp.heredocs.push_back(std::move(hd));
  }
  std::vector<std::string> local;
  for (const auto& p : cp.paths)
    if (std::find(urls.begin(), urls.end(), p) == urls.end()) local.push_back(p);
  if (keypart == "context" || keypart.rfind("context:", 0) == 0) {
    TRY_ASSIGN(Digest d, src->checksum(local, path_join(e_.store().root(), "build-files")));
    canonical += " #" + d.str();
  } else {
    canonical += " #" + keypart;
  }
  canonical += " [workdir=" + sc.state.cfg.config.working_dir + "]";
  FlatOp flat = [cp, wd = sc.state.cfg.config.working_dir](FlatBox& box) {
    return copy_to_rootfs(box.merged, cp, wd);
  };
  return layer_step(
      sc, ins, canonical,
      [&](State& st, int64_t* size) {
        StepContext c{&e_, &ws_, &o_, o_.timestamp};
        return copy_step(c, st, cp, size);
      },
      std::move(flat));
}

}  // namespace berth::build::detail
