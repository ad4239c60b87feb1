// copy_image(): source -> staging content store -> destination.
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>

#include "base/fs.h"
#include "image/archive.h"
#include "transport/copy_internal.h"

namespace berth::transport {

using namespace detail;

namespace {

// The content store everything passes through.
struct Staging {
  std::unique_ptr<TempDir> tmp;
  std::optional<content::Store> own;
  content::Store* cs = nullptr;
};

Status temp_staging(Staging& s) {
  const char* t = std::getenv("TMPDIR");
  TRY_ASSIGN(TempDir td, TempDir::create(t && *t ? t : "/var/tmp", "berth-copy"));
  TRY_ASSIGN(content::Store cs, content::Store::open(td.path()));
  s.tmp = std::make_unique<TempDir>(std::move(td));
  s.own.emplace(std::move(cs));
  s.cs = &*s.own;
  return {};
}

std::string tag_or_digest(const image::Reference& r) { return r.tag.empty() ? r.digest->str() : r.tag; }

Status write_to_registry(RegistryClient& c, const image::Reference& dst, content::Store& cs, const Plan& plan,
                         const std::string& mount_from, const CopyOptions& o) {
  const std::string repo = dst.path;
  std::vector<std::function<Status()>> tasks;
  std::set<Digest> queued;
  for (auto& pm : plan.manifests) {
    std::vector<image::Descriptor> blobs{pm.manifest.config};
    blobs.insert(blobs.end(), pm.manifest.layers.begin(), pm.manifest.layers.end());
    for (auto& b : blobs) {
      if (!queued.insert(b.digest).second) continue;
      tasks.push_back([&c, &cs, &o, repo, b, mount_from]() -> Status {
        if (o.progress) o.progress->blob_start(b, "Copying blob");
        TRY_ASSIGN(BlobPushResult r, c.push_blob(repo, b.digest, b.size, cs.blob_path(b.digest), mount_from,
                                                 [&](uint64_t n) {
                                                   if (o.progress) o.progress->blob_progress(b, n);
                                                 }));
        if (o.progress)
          o.progress->blob_done(b, r == BlobPushResult::existed ? "skipped: already exists"
                                   : r == BlobPushResult::mounted ? "mounted"
                                                                  : "done");
        return {};
      });
    }
  }
  TRY(run_parallel(o.jobs, tasks));
  // Children first (by digest), so the registry can check the index's references.
  if (plan.index) {
    for (auto& pm : plan.manifests) {
      TRY_ASSIGN(std::string bytes, cs.read_blob(pm.desc.digest, image::kMaxManifestSize));
      TRY(c.put_manifest(repo, pm.desc.digest.str(), bytes, pm.desc.media_type));
    }
  }
  if (o.progress) o.progress->message("Writing manifest to image destination");
  TRY_ASSIGN(std::string bytes, cs.read_blob(plan.top.digest, image::kMaxManifestSize));
  if (dst.digest && dst.tag.empty() && !(*dst.digest == plan.top.digest))
    return Error(Errc::digest_mismatch, "destination " + dst.str() + " names a digest, but the manifest is " +
                                            plan.top.digest.str());
  TRY(c.put_manifest(repo, tag_or_digest(dst), bytes, plan.top.media_type));
  return {};
}

// A repository on the destination registry that already has this image's
// blobs: the registry source itself, or another local name of the image.
std::string mount_source(const Plan& plan, const image::Reference& dst, Store* local) {
  if (!plan.src_domain.empty()) return plan.src_domain == dst.domain && plan.src_repo != dst.path ? plan.src_repo : "";
  if (!local) return "";
  auto names = local->db().images_by_target(plan.top.digest);
  if (!names.ok()) return "";
  for (auto& img : *names) {
    auto r = image::parse_reference(img.name);
    if (r.ok() && r->domain == dst.domain && r->path != dst.path) return r->path;
  }
  return "";
}

}  // namespace

Result<CopyResult> copy_image(const ImageName& src, const ImageName& dst, const CopyOptions& o) {
  const bool src_local = src.kind == Kind::local, dst_local = dst.kind == Kind::local;
  if ((src_local || src.kind == Kind::docker) && !src.ref)
    return Error(Errc::invalid_argument, "source " + src.str() + ": no reference");
  if (dst.kind == Kind::docker && !dst.ref)
    return Error(Errc::invalid_argument, "destination " + dst.str() + ": no reference");

  std::optional<Store> local;
  std::optional<WriteSession> session;
  Staging staging;
  if (src_local || dst_local) {
    if (o.store_root.empty()) return Error(Errc::invalid_argument, "copy: no local store root given");
    TRY_ASSIGN(Store s, Store::open(o.store_root));
    local.emplace(std::move(s));
    staging.cs = &local->content();
    // Writers hold the store lock shared and a lease (store/store.h); pushes
    // may write compressed layers, so they take a session too.
    TRY_ASSIGN(WriteSession ws, WriteSession::begin(*local));
    session.emplace(std::move(ws));
  } else {
    TRY(temp_staging(staging));
  }
  content::Store& cs = *staging.cs;
  auto protect = [&](const Digest& d) -> Status {
    if (session) return session->protect_blob(d);
    return {};
  };

  std::shared_ptr<HttpClient> http;
  auto client_for = [&](const std::string& domain, const RegistryOptions& ro) -> Result<std::shared_ptr<RegistryClient>> {
    if (!http) {
      TRY_ASSIGN(http, HttpClient::create());
    }
    return RegistryClient::create(domain, ro, http);
  };

  // 1. Source -> staging.
  Plan plan;
  switch (src.kind) {
    case Kind::docker: {
      TRY_ASSIGN(auto c, client_for(src.ref->domain, o.src_registry));
      TRY(plan_from_registry(*c, *src.ref, cs, o, plan, protect));
      break;
    }
    case Kind::local: {
      auto img = local->db().get_image(src.ref->str());
      if (!img.ok()) {
        if (img.error().code == Errc::not_found)
          return Error(Errc::not_found, "image " + src.ref->familiar() + " is not in the local store");
        return std::move(img).error();
      }
      image::Descriptor top;
      top.digest = img->target.digest;
      top.media_type = img->target.media_type;
      top.size = static_cast<uint64_t>(img->target.size);
      plan.src_ref = src.ref;
      TRY(plan_from_store(cs, top, o, plan));
      break;
    }
    case Kind::oci_dir:
    case Kind::oci_archive:
    case Kind::docker_archive: {
      std::optional<image::Reference> name;
      TRY_ASSIGN(image::Descriptor top, load_archive(cs, src, &name));
      plan.src_ref = name;
      TRY(plan_from_store(cs, top, o, plan));
      for (auto& d : plan.all_blobs()) TRY(protect(d));
      break;
    }
  }

  // 2. Staging -> destination.
  CopyResult res;
  switch (dst.kind) {
    case Kind::docker: {
      if (o.compression) {
        TRY(compress_layers(cs, plan, *o.compression, o.progress));
        for (auto& d : plan.all_blobs()) TRY(protect(d));
      }
      TRY_ASSIGN(auto c, client_for(dst.ref->domain, o.dst_registry));
      TRY(write_to_registry(*c, *dst.ref, cs, plan, mount_source(plan, *dst.ref, local ? &*local : nullptr), o));
      res.dest_name = dst.ref->str();
      break;
    }
    case Kind::local: {
      // No name given: the source's own (pull from an archive or layout).
      std::optional<image::Reference> name = dst.ref ? dst.ref : plan.src_ref;
      if (!name) return Error(Errc::invalid_argument, src.str() + " carries no image name; give the destination one");
      metadata::Image img;
      img.name = name->str();
      img.target.digest = plan.top.digest;
      img.target.media_type = plan.top.media_type;
      img.target.size = static_cast<int64_t>(plan.top.size);
      if (o.progress) o.progress->message("Storing signatures");  // podman's line; berth keeps none
      TRY(session->commit(std::vector<metadata::Image>{img}));
      session.reset();
      res.dest_name = img.name;
      break;
    }
    case Kind::oci_dir:
    case Kind::oci_archive:
    case Kind::docker_archive: {
      image::SaveItem item;
      item.descriptor = plan.top;
      if (dst.kind == Kind::docker_archive) {
        item.reference = dst.ref ? dst.ref : plan.src_ref;
        if (item.reference && item.reference->tag.empty()) item.reference.reset();
      } else {
        image::Reference r;
        if (plan.src_ref) r = *plan.src_ref;
        else r = *image::parse_reference("localhost/image");
        r.digest.reset();
        r.tag = dst.tag.empty() ? (r.tag.empty() ? "latest" : r.tag) : dst.tag;
        if (!image::valid_tag(r.tag))
          return Error(Errc::invalid_argument, dst.str() + ": \"" + r.tag + "\" is not usable as a tag");
        item.reference = r;
      }
      image::SaveOptions so;
      so.platform = o.platform;
      auto fmt = dst.kind == Kind::oci_dir       ? image::ArchiveFormat::oci_dir
                 : dst.kind == Kind::oci_archive ? image::ArchiveFormat::oci_archive
                                                 : image::ArchiveFormat::docker_archive;
      if (o.progress) o.progress->message("Writing " + dst.str());
      TRY(image::save(cs, {item}, fmt, dst.path, so));
      res.dest_name = dst.str();
      break;
    }
  }
  res.top = plan.top;
  res.manifest = plan.manifests.empty() ? plan.top : plan.manifests.front().desc;
  if (!plan.manifests.empty()) res.config = plan.manifests.front().manifest.config.digest;
  return res;
}

}  // namespace berth::transport
