// Manifest endpoints: GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>
// and the referrers API.
#include <fcntl.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "registry/internal.h"

namespace berth::registry {

namespace {

bool is_digest_ref(const std::string& ref) { return ref.find(':') != std::string::npos; }

// Buffers the (bounded) manifest, then validates and records it in finish().
class ManifestSink : public BodySink {
 public:
  ManifestSink(Registry::Impl* im, std::string repo, std::string tag, std::optional<Digest> want,
               std::string content_type)
      : im_(im), repo_(std::move(repo)), tag_(std::move(tag)), want_(std::move(want)), ct_(std::move(content_type)) {}

  Status write(const char* p, size_t n) override {
    if (body_.size() + n > im_->cfg.manifest_limit)
      return Error(Errc::limit, "manifest exceeds " + std::to_string(im_->cfg.manifest_limit) + " bytes");
    body_.append(p, n);
    return Status{};
  }

  Response finish() override {
    auto info = parse_manifest(body_, ct_);
    if (!info) return api_error(400, ApiCode::MANIFEST_INVALID, info.error().message);
    Digest d = Digest::of(body_, want_ ? want_->alg() : DigestAlg::sha256);
    if (want_ && !(d == *want_))
      return api_error(400, ApiCode::DIGEST_INVALID, "manifest digest is " + d.str() + ", not " + want_->str());
    auto put = im_->store.put(body_, d);
    if (!put) return api_error(500, ApiCode::MANIFEST_INVALID, put.error().str());
    // A fresh mtime keeps GC's grace period away from a manifest that was just (re)pushed.
    std::string p = im_->store.blob_path(d);
    ::utimensat(AT_FDCWD, p.c_str(), nullptr, 0);
    auto s = im_->meta->put_manifest(repo_, d, body_.size(), *info, tag_, [&] { return im_->store.has(d); });
    if (!s) {
      if (s.error().code == Errc::not_found)
        return api_error(400, ApiCode::MANIFEST_BLOB_UNKNOWN, s.error().message);
      return api_error(500, ApiCode::MANIFEST_INVALID, s.error().str());
    }
    Response r;
    r.status = 201;
    r.set("Location", "/v2/" + repo_ + "/manifests/" + d.str());
    r.set("Docker-Content-Digest", d.str());
    if (info->subject) r.set("OCI-Subject", info->subject->str());
    r.set("Content-Length", "0");
    return r;
  }

  Response fail(const Error& e) override {
    if (e.code == Errc::limit) return api_error(413, ApiCode::MANIFEST_INVALID, e.message);
    return api_error(400, ApiCode::MANIFEST_INVALID, e.str());
  }

 private:
  Registry::Impl* im_;
  std::string repo_, tag_;
  std::optional<Digest> want_;
  std::string ct_;
  std::string body_;
};

}  // namespace

Dispatch Registry::Impl::manifest(const Request& req, const std::string& repo, const std::string& ref) {
  const std::string& m = req.method;
  std::optional<Digest> digest;
  if (is_digest_ref(ref)) {
    auto d = Digest::parse(ref);
    if (!d) return {api_error(400, ApiCode::DIGEST_INVALID, d.error().message), nullptr};
    digest = *d;
  } else if (!valid_tag(ref)) {
    return {api_error(m == "PUT" ? 400 : 404, m == "PUT" ? ApiCode::MANIFEST_INVALID : ApiCode::MANIFEST_UNKNOWN,
                      "invalid tag", ref.substr(0, 160)),
            nullptr};
  }

  if (m == "PUT") {
    if (req.content_length && *req.content_length > cfg.manifest_limit)
      return {api_error(413, ApiCode::MANIFEST_INVALID,
                        "manifest exceeds " + std::to_string(cfg.manifest_limit) + " bytes"),
              nullptr};
    return {Response{}, std::make_unique<ManifestSink>(this, repo, digest ? "" : ref, digest,
                                                       std::string(req.header("content-type")))};
  }

  auto unknown = [&](const std::string& why) -> Dispatch {
    if (!meta->repo_exists(repo)) return {api_error(404, ApiCode::NAME_UNKNOWN, "repository " + repo + " not known"), nullptr};
    return {api_error(404, ApiCode::MANIFEST_UNKNOWN, why), nullptr};
  };

  if (m == "DELETE") {
    Status s = digest ? meta->delete_manifest(repo, *digest) : meta->delete_tag(repo, ref);
    if (!s) {
      if (s.error().code == Errc::not_found) return unknown(s.error().message);
      return {api_error(500, ApiCode::UNSUPPORTED, s.error().message), nullptr};
    }
    Response r;
    r.status = 202;
    r.set("Content-Length", "0");
    return {std::move(r), nullptr};
  }
  if (m != "GET" && m != "HEAD") return {api_error(405, ApiCode::UNSUPPORTED, "method not allowed on a manifest"), nullptr};

  if (!digest) {
    auto d = meta->resolve_tag(repo, ref);
    if (!d) return unknown(d.error().message);
    digest = *d;
  }
  auto row = meta->get_manifest(repo, *digest);
  if (!row) return unknown(row.error().message);
  auto fd = store.open_blob(*digest);
  if (!fd) return {api_error(404, ApiCode::MANIFEST_UNKNOWN, fd.error().message), nullptr};
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return {api_error(500, ApiCode::UNSUPPORTED, "stat manifest"), nullptr};
  Response r;
  r.set("Content-Type", row->media_type);
  r.set("Docker-Content-Digest", digest->str());
  r.set("ETag", "\"" + digest->str() + "\"");
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (m == "HEAD") {
    r.head = true;
    r.head_length = size;
  } else {
    r.file = std::move(*fd);
    r.file_length = size;
  }
  return {std::move(r), nullptr};
}

Response Registry::Impl::referrers(const Request& req, const std::string& repo, const std::string& ref) {
  auto d = Digest::parse(ref);
  if (!d) return api_error(400, ApiCode::DIGEST_INVALID, d.error().message);
  auto list = meta->referrers(repo, *d);
  if (!list) return api_error(500, ApiCode::UNSUPPORTED, list.error().message);
  bool filter = req.has_q("artifactType");
  std::string want(req.q("artifactType"));
  nlohmann::json manifests = nlohmann::json::array();
  for (const auto& r : *list) {
    if (filter && r.artifact_type != want) continue;
    nlohmann::json desc = {{"mediaType", r.media_type}, {"digest", r.digest.str()}, {"size", r.size}};
    if (!r.artifact_type.empty()) desc["artifactType"] = r.artifact_type;
    auto ann = nlohmann::json::parse(r.annotations_json, nullptr, false);
    if (ann.is_object() && !ann.empty()) desc["annotations"] = ann;
    manifests.push_back(std::move(desc));
  }
  Response out;
  out.body = nlohmann::json{{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", manifests}}.dump();
  out.set("Content-Type", std::string(kOciIndex));
  if (filter) out.set("OCI-Filters-Applied", "artifactType");
  return out;
}

}  // namespace berth::registry
