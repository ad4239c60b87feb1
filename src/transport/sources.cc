// copy_image() sources: a registry, the local store, an archive or layout.
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "image/archive.h"
#include "image/resolve.h"
#include "transport/copy_internal.h"

namespace berth::transport::detail {

std::vector<Digest> Plan::all_blobs() const {
  std::vector<Digest> out;
  std::set<Digest> seen;
  auto add = [&](const Digest& d) {
    if (seen.insert(d).second) out.push_back(d);
  };
  add(top.digest);
  for (auto& pm : manifests) {
    add(pm.desc.digest);
    add(pm.manifest.config.digest);
    for (auto& l : pm.manifest.layers) add(l.digest);
  }
  return out;
}

Status run_parallel(int jobs, std::vector<std::function<Status()>>& tasks) {
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::optional<Error> first;
  auto worker = [&] {
    while (!stop.load()) {
      size_t i = next++;
      if (i >= tasks.size()) return;
      Status s = tasks[i]();
      if (!s.ok()) {
        std::lock_guard g(mu);
        if (!first) first = s.error();
        stop = true;
      }
    }
  };
  size_t n = std::min<size_t>(static_cast<size_t>(std::max(jobs, 1)), tasks.size());
  std::vector<std::thread> threads;
  for (size_t i = 1; i < n; i++) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (first) return *first;
  return {};
}

namespace {

// Parses a registry's answer; the Content-Type must agree with the document.
Result<std::pair<image::Descriptor, image::Document>> parse_fetched(const FetchedManifest& fm) {
  image::Descriptor d;
  d.digest = fm.digest;
  d.size = fm.bytes.size();
  d.media_type = fm.media_type;
  if (image::media::is_manifest(fm.media_type) || image::media::is_index(fm.media_type)) {
    TRY_ASSIGN(image::Document doc, image::parse_document(fm.bytes, &d));
    return std::pair{d, std::move(doc)};
  }
  // Some registries answer application/json: the document itself decides.
  TRY_ASSIGN(image::Document doc, image::parse_document(fm.bytes));
  d.media_type = std::visit([](auto& x) { return image::media_type_of(x); }, doc);
  return std::pair{d, std::move(doc)};
}

Status fetch_child(RegistryClient& c, const std::string& repo, const image::Descriptor& child, content::Store& cs,
                   Plan& plan, const std::function<Status(const Digest&)>& protect) {
  if (!image::media::is_manifest(child.media_type))
    return Error(Errc::unsupported, "index entry " + child.digest.str() + ": media type \"" + child.media_type +
                                        "\" is not an image manifest");
  TRY_ASSIGN(FetchedManifest fm, c.get_manifest(repo, child.digest.str()));
  TRY_ASSIGN(image::Manifest m, image::parse_manifest(fm.bytes, &child));
  TRY(protect(child.digest));
  TRY(cs.put(fm.bytes, child.digest));
  plan.manifests.push_back({child, std::move(m)});
  return {};
}

}  // namespace

Status plan_from_registry(RegistryClient& c, const image::Reference& ref, content::Store& cs, const CopyOptions& o,
                          Plan& plan, const std::function<Status(const Digest&)>& protect) {
  const std::string repo = ref.path;
  plan.src_domain = ref.domain;
  plan.src_repo = repo;
  plan.src_ref = ref;
  TRY_ASSIGN(FetchedManifest fm, c.get_manifest(repo, ref.digest ? ref.digest->str() : ref.tag));
  TRY_ASSIGN(auto parsed, parse_fetched(fm));
  auto& [desc, doc] = parsed;
  if (auto* ix = std::get_if<image::Index>(&doc)) {
    if (o.all_platforms) {
      TRY(protect(desc.digest));
      TRY(cs.put(fm.bytes, desc.digest));
      plan.top = desc;
      plan.index = *ix;
      for (auto& child : ix->manifests) TRY(fetch_child(c, repo, child, cs, plan, protect));
    } else {
      TRY_ASSIGN(image::Descriptor child, image::select_platform(*ix, o.platform));
      TRY(fetch_child(c, repo, child, cs, plan, protect));
      plan.top = plan.manifests.back().desc;
    }
  } else {
    TRY(protect(desc.digest));
    TRY(cs.put(fm.bytes, desc.digest));
    plan.top = desc;
    plan.manifests.push_back({desc, std::move(std::get<image::Manifest>(doc))});
  }
  for (auto& d : plan.all_blobs()) TRY(protect(d));

  // Configs and layers, in parallel, each verified into the staging store.
  std::vector<std::function<Status()>> tasks;
  std::set<Digest> queued;
  for (auto& pm : plan.manifests) {
    std::vector<image::Descriptor> blobs{pm.manifest.config};
    blobs.insert(blobs.end(), pm.manifest.layers.begin(), pm.manifest.layers.end());
    for (auto& b : blobs) {
      if (!queued.insert(b.digest).second) continue;
      tasks.push_back([&c, &cs, &o, repo, b]() -> Status {
        if (o.progress) o.progress->blob_start(b, "Copying blob");
        bool had = cs.has(b.digest);
        TRY(c.fetch_blob(repo, b.digest, b.size, cs, [&](uint64_t n) {
          if (o.progress) o.progress->blob_progress(b, n);
        }));
        if (o.progress) o.progress->blob_done(b, had ? "skipped: already exists" : "done");
        return {};
      });
    }
  }
  return run_parallel(o.jobs, tasks);
}

Status plan_from_store(const content::Store& cs, const image::Descriptor& top, const CopyOptions& o, Plan& plan) {
  TRY_ASSIGN(image::Document doc, image::read_document(cs, top));
  if (auto* ix = std::get_if<image::Index>(&doc)) {
    if (o.all_platforms) {
      plan.top = top;
      plan.index = *ix;
      for (auto& child : ix->manifests) {
        if (!cs.has(child.digest))
          return Error(Errc::not_found, "index " + top.digest.str() + ": manifest " + child.digest.str() + " (" +
                                            (child.platform ? child.platform->str() : std::string("no platform")) +
                                            ") is not in the store; copy one platform instead");
        TRY_ASSIGN(image::Document cd, image::read_document(cs, child));
        if (!std::holds_alternative<image::Manifest>(cd))
          return Error(Errc::unsupported, "index " + top.digest.str() + ": nested index " + child.digest.str());
        plan.manifests.push_back({child, std::move(std::get<image::Manifest>(cd))});
      }
    } else {
      TRY_ASSIGN(image::ResolvedImage r, image::resolve(cs, top, o.platform));
      plan.top = r.manifest_descriptor;
      plan.manifests.push_back({r.manifest_descriptor, std::move(r.manifest)});
    }
  } else {
    plan.top = top;
    plan.manifests.push_back({top, std::move(std::get<image::Manifest>(doc))});
  }
  for (auto& pm : plan.manifests) {
    std::vector<image::Descriptor> blobs{pm.manifest.config};
    blobs.insert(blobs.end(), pm.manifest.layers.begin(), pm.manifest.layers.end());
    for (auto& b : blobs)
      if (!cs.has(b.digest))
        return Error(Errc::not_found, "manifest " + pm.desc.digest.str() + ": blob " + b.digest.str() +
                                          " is missing from the store");
  }
  return {};
}

Result<image::Descriptor> load_archive(content::Store& cs, const ImageName& src, std::optional<image::Reference>* name) {
  const std::string what = src.str();
  TRY_ASSIGN(image::LoadResult lr, image::load(cs, src.path));
  if (lr.images.empty()) return Error(Errc::not_found, what + ": the archive holds no image");
  const image::LoadedImage* pick = nullptr;
  if (src.kind == Kind::docker_archive && src.ref) {
    for (auto& li : lr.images)
      if (li.reference && li.reference->str() == src.ref->str()) pick = &li;
  } else if (!src.tag.empty()) {
    for (auto& li : lr.images)
      if (li.ref_name == src.tag || (li.reference && (li.reference->tag == src.tag || li.reference->str() == src.tag)))
        pick = &li;
  } else if (lr.images.size() == 1) {
    pick = &lr.images[0];
  } else {
    return Error(Errc::invalid_argument, what + ": the archive holds " + std::to_string(lr.images.size()) +
                                             " images; name one (" + kind_name(src.kind) + ":PATH:TAG)");
  }
  if (!pick) return Error(Errc::not_found, what + ": no such image in the archive");
  if (name) {
    *name = pick->reference;
    // A bare ref.name ("latest") names no repository: localhost/NAME, as podman does.
    if (!*name && !pick->ref_name.empty()) {
      auto r = image::parse_reference("localhost/" + pick->ref_name);
      if (r.ok()) *name = *r;
    }
  }
  return pick->descriptor;
}

}  // namespace berth::transport::detail
