// `berth build` (docker/podman build flags) and `berth builder prune`.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "base/fs.h"
#include "build/builder.h"
#include "build/cache.h"
#include "build/context.h"
#include "cli.h"
#include "container_common.h"
#include "engine/gc_roots.h"
#include "engine/options.h"
#include "image_lookup.h"
#include "store/gc.h"

namespace berth::cli {

namespace {

struct BuildFlags {
  std::vector<std::string> tags, build_args, labels, contexts, outputs, secrets;
  std::string file, target, network = "bridge", iidfile, platform, context;
  std::string timestamp;
  bool no_cache = false, flat = false, squash_all = false, quiet = false;
  bool pull = false, rm = true, force_rm = false;
};

Result<std::pair<std::string, std::string>> split_kv(const std::string& s, const char* flag) {
  auto eq = s.find('=');
  if (eq == std::string::npos || eq == 0) return Error(Errc::invalid_argument, std::string(flag) + " " + s + ": expected KEY=VALUE");
  return std::make_pair(s.substr(0, eq), s.substr(eq + 1));
}

// "a=1,b=2" -> {"a=1", "b=2"}: the --secret and --output value lists.
std::vector<std::string> csv_parts(const std::string& s) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    parts.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

std::string absolute(const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  char buf[4096];
  std::string cwd = ::getcwd(buf, sizeof buf) ? buf : ".";
  return p == "." ? cwd : cwd + "/" + p;
}

Result<int> cmd_build(const BuildFlags& f) {
  TRY_ASSIGN(auto ctx, EngineCtx::open());
  build::BuildOptions o;
  std::optional<TempDir> stdin_ctx;
  if (f.context == "-") {
    // A tar of the context on stdin (docker build -).
    TRY(mkdir_p(path_join(ctx->store.root(), "build-tmp"), 0700));
    TRY_ASSIGN(auto td, TempDir::create(path_join(ctx->store.root(), "build-tmp"), "context"));
    stdin_ctx.emplace(std::move(td));
    TRY(build::extract_context_tar(0, stdin_ctx->path()));
    o.context_dir = stdin_ctx->path();
  } else {
    o.context_dir = absolute(f.context);
    if (!path_exists(o.context_dir)) return Error(Errc::not_found, "build context " + f.context + " does not exist");
  }
  if (f.file == "-") {
    std::string text;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(0, buf, sizeof buf)) > 0) {
      text.append(buf, static_cast<size_t>(n));
      if (text.size() > (8u << 20)) return Error(Errc::limit, "Dockerfile on stdin is larger than 8 MiB");
    }
    o.dockerfile_text = std::move(text);
    o.dockerfile_path = "<stdin>";
  } else if (f.file.empty()) {
    o.dockerfile_path = path_join(o.context_dir, "Dockerfile");
    if (!path_exists(o.dockerfile_path) && path_exists(path_join(o.context_dir, "Containerfile")))
      o.dockerfile_path = path_join(o.context_dir, "Containerfile");
  } else {
    o.dockerfile_path = absolute(f.file);
  }
  for (const auto& t : f.tags) {
    // podman's rule: a short name is a local image (localhost/NAME).
    std::string name = t;
    if (name.find('/') == std::string::npos) name = "localhost/" + name;
    auto ref = image::parse_reference(name);
    if (!ref.ok()) return Error(Errc::invalid_argument, "-t " + t + ": " + ref.error().message);
    o.tags.push_back(ref->str());
  }
  for (const auto& a : f.build_args) {
    auto eq = a.find('=');
    if (eq == std::string::npos) {
      // --build-arg NAME: the caller's environment value, if any (docker).
      if (const char* v = std::getenv(a.c_str())) o.build_args[a] = v;
      continue;
    }
    o.build_args[a.substr(0, eq)] = a.substr(eq + 1);
  }
  for (const auto& l : f.labels) {
    auto eq = l.find('=');
    o.labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  for (const auto& c : f.contexts) {
    TRY_ASSIGN(auto kv, split_kv(c, "--build-context"));
    o.build_contexts[kv.first] = absolute(kv.second);
  }
  for (const auto& s : f.secrets) {
    std::string id, src;
    for (const auto& part : csv_parts(s)) {
      if (part.rfind("id=", 0) == 0) id = part.substr(3);
      else if (part.rfind("src=", 0) == 0) src = part.substr(4);
      else if (part.rfind("source=", 0) == 0) src = part.substr(7);
    }
    if (id.empty() || src.empty()) return Error(Errc::invalid_argument, "--secret " + s + ": expected id=ID,src=FILE");
    o.secrets[id] = absolute(src);
  }
  for (const auto& out : f.outputs) {
    build::Output bo;
    for (const auto& part : csv_parts(out)) {
      if (part.rfind("type=", 0) == 0) bo.type = part.substr(5);
      else if (part.rfind("dest=", 0) == 0) bo.dest = absolute(part.substr(5));
    }
    if (bo.type.empty() && !out.empty() && out.find('=') == std::string::npos) {  // -o DIR
      bo.type = "local";
      bo.dest = absolute(out);
    }
    if ((bo.type != "oci" && bo.type != "docker" && bo.type != "local") || bo.dest.empty())
      return Error(Errc::invalid_argument, "--output " + out + ": expected type=oci|docker|local,dest=PATH");
    o.outputs.push_back(bo);
  }
  std::string ts = f.timestamp;
  if (ts.empty())
    if (const char* e = std::getenv("SOURCE_DATE_EPOCH")) ts = e;
  if (!ts.empty()) {
    char* end = nullptr;
    long long v = std::strtoll(ts.c_str(), &end, 10);
    if (*end || v < 0) return Error(Errc::invalid_argument, "--timestamp " + ts + ": seconds since the epoch expected");
    o.timestamp = v;
  }
  if (f.network != "bridge" && f.network != "host" && f.network != "none")
    return Error(Errc::invalid_argument, "--network " + f.network + ": one of bridge, host, none");
  o.network = f.network;
  o.target = f.target;
  o.no_cache = f.no_cache;
  o.flat = f.flat || f.squash_all;
  o.squash_all = f.squash_all;
  o.quiet = f.quiet;
  Store& store = ctx->store;
  o.find_image = [&store](const std::string& name) -> Result<image::Descriptor> {
    TRY_ASSIGN(auto found, find_image(store, name));
    return found.top;
  };
  TRY_ASSIGN(auto r, build::build(ctx->engine, o));
  if (!f.iidfile.empty()) TRY(atomic_write_file(absolute(f.iidfile), r.image_id.str()));
  for (const auto& t : o.tags) ctx->engine.event("image", "tag", r.image_id.str(), {{"name", t}});
  ctx->engine.event("image", "build", r.image_id.str(), {});
  if (!f.quiet)
    for (const auto& t : o.tags) std::fprintf(stderr, "Successfully tagged %s\n", t.c_str());
  std::printf("%s\n", f.quiet ? r.image_id.str().c_str() : r.image_id.hex().c_str());
  return 0;
}

struct PruneFlags {
  bool all = false, force = false;
  std::vector<std::string> filters;
  std::string keep_storage;
};

Result<int> cmd_builder_prune(const PruneFlags& f) {
  TRY_ASSIGN(Store store, Store::open(store_root()));
  TRY_ASSIGN(auto cache, build::Cache::open(store));
  build::Cache::PruneOptions po;
  po.all = f.all && f.filters.empty() && f.keep_storage.empty();
  for (const auto& flt : f.filters) {
    if (flt.rfind("until=", 0) != 0) return Error(Errc::invalid_argument, "--filter " + flt + ": only until=DURATION is supported");
    TRY_ASSIGN(int64_t ns, engine::parse_duration(flt.substr(6), "--filter until"));
    po.older_than_seconds = ns / 1'000'000'000;
  }
  if (!f.keep_storage.empty()) {
    TRY_ASSIGN(po.keep_bytes, engine::parse_bytes(f.keep_storage, "--keep-storage"));
  }
  if (!po.all && po.older_than_seconds < 0 && po.keep_bytes < 0) po.older_than_seconds = 0;  // docker: all unused
  TRY_ASSIGN(auto rep, cache.prune(po));
  GcOptions go;
  go.providers.push_back(engine::container_gc_roots());
  go.providers.push_back(build::cache_gc_roots());
  TRY_ASSIGN(auto gc, collect_garbage(store, go));
  std::printf("Deleted %llu build cache records\nTotal reclaimed space: %s\n",
              static_cast<unsigned long long>(rep.records), human_size(gc.bytes_freed).c_str());
  return 0;
}

}  // namespace

void register_build_verbs(CLI::App& app) {
  auto f = std::make_shared<BuildFlags>();
  auto* c = app.add_subcommand("build", "Build an image from a Dockerfile");
  c->add_option("-t,--tag", f->tags, "Name (and tag) of the image; repeatable")->allow_extra_args(false);
  c->add_option("-f,--file", f->file, "The Dockerfile (default CONTEXT/Dockerfile; - for stdin)");
  c->add_option("--build-arg", f->build_args, "Build-time variable KEY=VALUE")->allow_extra_args(false);
  c->add_option("--target", f->target, "The stage to build");
  c->add_flag("--no-cache", f->no_cache, "Do not use the layer cache");
  c->add_flag("--flat", f->flat, "One layer per stage on top of its base");
  c->add_flag("--squash-all", f->squash_all, "One layer for the whole image, base included");
  c->add_option("--network", f->network, "Network of RUN steps: bridge, host, none");
  c->add_flag("-q,--quiet", f->quiet, "Print only the image ID");
  c->add_option("--iidfile", f->iidfile, "Write the image ID to this file");
  c->add_option("--label", f->labels, "Image label KEY=VALUE")->allow_extra_args(false);
  c->add_option("--timestamp", f->timestamp, "Set every time in the image to this (seconds since the epoch)");
  c->add_option("--build-context", f->contexts, "Extra context NAME=DIR for COPY --from=NAME")->allow_extra_args(false);
  c->add_option("-o,--output", f->outputs, "type=oci|docker|local,dest=PATH")->allow_extra_args(false);
  c->add_option("--secret", f->secrets, "id=ID,src=FILE for RUN --mount=type=secret")->allow_extra_args(false);
  c->add_option("--platform", f->platform, "Accepted when it is the host's platform");
  c->add_flag("--pull", f->pull, "Accepted; berth build never pulls");
  c->add_flag("--rm", f->rm, "Accepted; build containers are always removed");
  c->add_flag("--force-rm", f->force_rm, "Accepted; build containers are always removed");
  c->add_option("context", f->context, "Build context: a directory, or - for a tar on stdin")->required();
  set_action(c, [f]() { return cmd_build(*f); });

  auto pf = std::make_shared<PruneFlags>();
  auto* b = app.add_subcommand("builder", "Manage the build cache");
  b->require_subcommand(1);
  auto* p = b->add_subcommand("prune", "Remove build cache records (then unreferenced layers)");
  p->add_flag("-a,--all", pf->all, "Remove every record");
  p->add_flag("-f,--force", pf->force, "Do not ask (berth never asks)");
  p->add_option("--filter", pf->filters, "until=DURATION: records unused for longer")->allow_extra_args(false);
  p->add_option("--keep-storage", pf->keep_storage, "Keep the most recently used records within SIZE");
  set_action(p, [pf]() { return cmd_builder_prune(*pf); });
}

}  // namespace berth::cli
