// Image verbs: images, inspect, tag, rmi, image prune / gc. Docker shapes.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "build/cache.h"
#include "engine/gc_roots.h"
#include "image/config.h"
#include "image_lookup.h"
#include "store/gc.h"

namespace berth::cli {

using nlohmann::json;

namespace {

int64_t parse_created(const std::string& s) {
  struct tm tm {};
  if (s.size() < 19 || !strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

struct ImageRow {
  std::string repo, tag, id, digest, created_str;
  int64_t created = 0;
  uint64_t size = 0;
  std::vector<std::string> names;
};

Result<std::vector<ImageRow>> image_rows(Store& store) {
  TRY_ASSIGN(auto all, store.db().list_images());
  std::vector<ImageRow> rows;
  for (auto& i : all) {
    ImageRow r;
    auto ref = image::parse_reference(i.name);
    if (is_untagged_name(i.name)) {
      r.repo = "<none>";
      r.tag = "<none>";
    } else if (ref.ok()) {
      r.repo = ref->familiar_name();
      r.tag = ref->tag.empty() ? "<none>" : ref->tag;
    } else {
      r.repo = i.name;
      r.tag = "<none>";
    }
    r.digest = i.target.digest.str();
    auto res = image::resolve(store.content(), to_descriptor(i.target));
    if (res.ok()) {
      r.id = res->manifest.config.digest.hex();
      r.size = res->manifest.config.size;
      for (auto& l : res->manifest.layers) r.size += l.size;
      r.created_str = res->config.created;
      r.created = parse_created(res->config.created);
    } else {
      r.id = "<unreadable: " + res.error().str() + ">";
    }
    rows.push_back(std::move(r));
  }
  for (auto& r : rows)
    for (auto& o : rows)
      if (o.id == r.id && o.repo != "<none>") r.names.push_back(o.repo + ":" + o.tag);
  std::stable_sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.created > b.created; });
  return rows;
}

struct ImagesOpts {
  bool quiet = false, no_trunc = false, digests = false;
  std::string format;
};

Result<int> cmd_images(const ImagesOpts& o) {
  TRY_ASSIGN(Store store, Store::open(store_root()));
  TRY_ASSIGN(auto rows, image_rows(store));
  if (o.format == "json") {
    json out = json::array();
    for (auto& r : rows)
      out.push_back({{"Id", r.id},
                     {"Names", r.names},
                     {"Repository", r.repo},
                     {"Tag", r.tag},
                     {"Digest", r.digest},
                     {"Created", r.created},
                     {"CreatedAt", r.created_str},
                     {"Size", r.size}});
    std::puts(out.dump(4).c_str());
    return 0;
  }
  if (!o.format.empty() && o.format != "table")
    return Error(Errc::invalid_argument, "--format " + o.format + ": only \"table\" and \"json\" are supported");
  if (o.quiet) {
    std::set<std::string> seen;
    for (auto& r : rows)
      if (seen.insert(r.id).second) std::puts((o.no_trunc ? "sha256:" + r.id : short_id(r.id)).c_str());
    return 0;
  }
  std::vector<std::string> header = {"REPOSITORY", "TAG"};
  if (o.digests) header.push_back("DIGEST");
  for (auto h : {"IMAGE ID", "CREATED", "SIZE"}) header.push_back(h);
  std::vector<std::vector<std::string>> table;
  for (auto& r : rows) {
    std::vector<std::string> row = {r.repo, r.tag};
    if (o.digests) row.push_back(r.digest);
    row.push_back(o.no_trunc ? "sha256:" + r.id : short_id(r.id));
    row.push_back(time_ago(r.created));
    row.push_back(human_size(r.size));
    table.push_back(std::move(row));
  }
  print_table(header, table);
  return 0;
}

json config_json(const image::RunConfig& c) {
  json j = json::object();
  if (!c.user.empty()) j["User"] = c.user;
  if (!c.exposed_ports.empty()) {
    j["ExposedPorts"] = json::object();
    for (auto& p : c.exposed_ports) j["ExposedPorts"][p] = json::object();
  }
  if (!c.env.empty()) j["Env"] = c.env;
  if (c.entrypoint) j["Entrypoint"] = *c.entrypoint;
  if (c.cmd) j["Cmd"] = *c.cmd;
  if (!c.volumes.empty()) {
    j["Volumes"] = json::object();
    for (auto& v : c.volumes) j["Volumes"][v] = json::object();
  }
  if (!c.working_dir.empty()) j["WorkingDir"] = c.working_dir;
  if (!c.labels.empty()) j["Labels"] = c.labels;
  if (!c.stop_signal.empty()) j["StopSignal"] = c.stop_signal;
  if (!c.on_build.empty()) j["OnBuild"] = c.on_build;
  if (!c.shell.empty()) j["Shell"] = c.shell;
  if (c.healthcheck) {
    j["Healthcheck"] = {{"Test", c.healthcheck->test}, {"Interval", c.healthcheck->interval},
                        {"Timeout", c.healthcheck->timeout}, {"StartPeriod", c.healthcheck->start_period},
                        {"Retries", c.healthcheck->retries}};
  }
  return j;
}

Result<int> cmd_inspect(const std::vector<std::string>& what, const std::string& format, bool containers_first) {
  TRY_ASSIGN(Store store, Store::open(store_root()));
  json out = json::array();
  int rc = 0;
  for (auto& w : what) {
    if (containers_first) {
      json cj;
      if (try_inspect_container(w, cj)) {
        out.push_back(std::move(cj));
        continue;
      }
    }
    auto f = find_image(store, w);
    if (!f.ok()) {
      std::fprintf(stderr, "Error: %s\n", f.error().str().c_str());
      rc = 125;
      continue;
    }
    TRY_ASSIGN(auto res, image::resolve(store.content(), f->top));
    json tags = json::array(), digests = json::array();
    for (auto& n : f->names) {
      if (is_untagged_name(n.name)) continue;
      tags.push_back(n.name);
      auto ref = image::parse_reference(n.name);
      if (ref.ok()) digests.push_back(ref->name() + "@" + n.target.digest.str());
    }
    uint64_t size = 0;
    json layers = json::array();
    for (auto& l : res.manifest.layers) size += l.size;
    for (auto& d : res.config.diff_ids) layers.push_back(d.str());
    json hist = json::array();
    for (auto& h : res.config.history) {
      json e = {{"created", h.created}, {"created_by", h.created_by}};
      if (!h.comment.empty()) e["comment"] = h.comment;
      if (h.empty_layer) e["empty_layer"] = true;
      hist.push_back(e);
    }
    out.push_back({{"Id", res.manifest.config.digest.str()},
                   {"Digest", f->top.digest.str()},
                   {"RepoTags", tags},
                   {"RepoDigests", digests},
                   {"Created", res.config.created},
                   {"Author", res.config.author},
                   {"Architecture", res.config.architecture},
                   {"Variant", res.config.variant},
                   {"Os", res.config.os},
                   {"Config", config_json(res.config.config)},
                   {"RootFS", {{"Type", "layers"}, {"Layers", layers}}},
                   {"Size", size},
                   {"ManifestMediaType", res.manifest_descriptor.media_type},
                   {"History", hist}});
  }
  if (!format.empty() && format != "json") {
    for (auto& o : out) {
      TRY_ASSIGN(std::string line, render_template(format, o));
      std::puts(line.c_str());
    }
    return rc;
  }
  std::puts(out.dump(4).c_str());
  return rc;
}

Result<int> cmd_tag(const std::string& src, const std::vector<std::string>& dsts) {
  TRY_ASSIGN(Store store, Store::open(store_root()));
  TRY_ASSIGN(auto f, find_image(store, src));
  for (auto& d : dsts) {
    TRY_ASSIGN(auto ref, image::parse_reference(d));
    if (ref.digest) return Error(Errc::invalid_argument, "tag " + d + ": a tag cannot contain a digest");
    metadata::Image img;
    img.name = ref.str();
    img.target = f.record.target;
    TRY(store.db().put_image(img));
  }
  // Named now: the "<none>" placeholder record goes.
  (void)store.db().delete_image(untagged_name(f.record.target.digest));
  return 0;
}

// Untag, then let GC free what no name reaches any more (docker rmi frees
// layers at once; leaving them for a later gc would surprise users).
Result<int> cmd_rmi(const std::vector<std::string>& what, bool force) {
  TRY_ASSIGN(Store store, Store::open(store_root()));
  int rc = 0;
  for (auto& w : what) {
    auto f = find_image(store, w);
    if (!f.ok()) {
      std::fprintf(stderr, "Error: %s\n", f.error().str().c_str());
      rc = 1;
      continue;
    }
    std::vector<metadata::Image> untag;
    if (f->by_name) untag.push_back(f->record);
    else if (f->names.size() > 1 && !force)
      return Error(Errc::busy, "image " + w + " is referenced in multiple repositories (use -f)");
    else untag = f->names;
    for (auto& n : untag) {
      TRY(store.db().delete_image(n.name));
      if (is_untagged_name(n.name)) continue;
      auto ref = image::parse_reference(n.name);
      std::printf("Untagged: %s\n", ref.ok() ? ref->familiar().c_str() : n.name.c_str());
    }
    auto left = store.db().images_by_target(f->record.target.digest);
    if (left.ok() && left->empty()) {
      auto id = image_id(store, f->top);
      std::printf("Deleted: %s\n", id.ok() ? id->str().c_str() : f->top.digest.str().c_str());
    }
  }
  GcOptions go;
  go.wait = false;
  go.providers.push_back(engine::container_gc_roots());
  go.providers.push_back(build::cache_gc_roots());
  (void)collect_garbage(store, go);
  return rc;
}

Result<int> cmd_gc(bool dry_run) {
  TRY_ASSIGN(Store store, Store::open(store_root()));
  GcOptions go;
  go.dry_run = dry_run;
  go.providers.push_back(engine::container_gc_roots());
  go.providers.push_back(build::cache_gc_roots());
  TRY_ASSIGN(auto rep, collect_garbage(store, go));
  for (auto& d : rep.removed_blobs) std::printf("%s %s\n", dry_run ? "Would delete" : "Deleted", d.str().c_str());
  for (auto& d : rep.removed_snapshots)
    std::printf("%s snapshot %s\n", dry_run ? "Would delete" : "Deleted", d.str().c_str());
  std::printf("Total reclaimed space: %s\n", human_size(rep.bytes_freed).c_str());
  return 0;
}

void add_images(CLI::App* parent, const char* name) {
  auto o = std::make_shared<ImagesOpts>();
  auto* c = parent->add_subcommand(name, "List images in the store");
  c->add_flag("-q,--quiet", o->quiet, "Only show image IDs");
  c->add_flag("--no-trunc", o->no_trunc, "Don't truncate IDs");
  c->add_flag("--digests", o->digests, "Show digests");
  c->add_flag("-a,--all")->description("Accepted for compatibility (berth keeps no intermediate images)");
  c->add_option("--format", o->format, "table or json");
  set_action(c, [o] { return cmd_images(*o); });
}

void add_inspect(CLI::App* parent, const char* name) {
  auto what = std::make_shared<std::vector<std::string>>();
  auto fmt = std::make_shared<std::string>();
  auto* c = parent->add_subcommand(name, "Show an image's configuration as JSON");
  c->add_option("image", *what, "Image name or ID")->required();
  c->add_option("-f,--format", *fmt, "json (default) or a Go-template subset like {{.Id}}");
  c->add_option("--type")->description("Accepted for compatibility (image)");
  const bool top = parent->get_parent() == nullptr;
  set_action(c, [what, fmt, top] { return cmd_inspect(*what, *fmt, top); });
}

void add_tag(CLI::App* parent, const char* name) {
  auto src = std::make_shared<std::string>();
  auto dst = std::make_shared<std::vector<std::string>>();
  auto* c = parent->add_subcommand(name, "Give an image another name");
  c->add_option("source", *src, "Image name or ID")->required();
  c->add_option("target", *dst, "New name(s)")->required();
  set_action(c, [src, dst] { return cmd_tag(*src, *dst); });
}

void add_rmi(CLI::App* parent, const char* name) {
  auto what = std::make_shared<std::vector<std::string>>();
  auto force = std::make_shared<bool>(false);
  auto* c = parent->add_subcommand(name, "Remove images");
  c->add_option("image", *what, "Image name or ID")->required();
  c->add_flag("-f,--force", *force, "Remove every name of an image given by ID");
  set_action(c, [what, force] { return cmd_rmi(*what, *force); });
}

void add_prune(CLI::App* parent, const char* name, const char* help) {
  auto dry = std::make_shared<bool>(false);
  auto* c = parent->add_subcommand(name, help);
  c->add_flag("--dry-run", *dry, "Only report what would be removed");
  c->add_flag("-a,--all,-f,--force")->description("Accepted for compatibility");
  set_action(c, [dry] { return cmd_gc(*dry); });
}

}  // namespace

void register_archive_verbs(CLI::App* parent, bool short_names);

void register_image_verbs(CLI::App& app) {
  add_images(&app, "images");
  add_inspect(&app, "inspect");
  add_tag(&app, "tag");
  add_rmi(&app, "rmi");
  add_prune(&app, "gc", "Remove blobs and snapshots no image, container or lease references");
  register_archive_verbs(&app, false);
  auto* img = app.add_subcommand("image", "Manage images");
  img->require_subcommand(1);
  add_images(img, "ls");
  add_inspect(img, "inspect");
  add_tag(img, "tag");
  add_rmi(img, "rm");
  add_prune(img, "prune", "Remove unreferenced image data");
  register_archive_verbs(img, true);
}

}  // namespace berth::cli
