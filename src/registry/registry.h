// berth/registry: an OCI distribution-spec v1.1 registry, minus the network.
//
// Registry::handle() implements every endpoint (pull, push, mounts, tags,
// catalog, referrers, deletes, the token service) on a Request and returns a
// Response or a BodySink for the request body (api.h). The HTTP transport
// lives in server.h. Storage layout under Config::root:
//   content/   the content store (content/store.h): every blob and manifest once
//   meta.db    SQLite: repositories, blob links, manifests, tags, uploads (meta.h)
// Promises: a blob or manifest is served only from a repository it was
// pushed or mounted into; uploads are verified before publication; every
// request is authorised (auth.h) before it touches storage.
#pragma once

#include <memory>

#include "base/error.h"
#include "registry/api.h"
#include "registry/config.h"
#include "registry/meta.h"

namespace berth::registry {

class Registry {
 public:
  static Result<std::unique_ptr<Registry>> open(const Config& cfg);
  ~Registry();

  Dispatch handle(const Request& req);

  // Drops upload sessions idle for longer than Config::upload_expiry.
  Result<uint64_t> expire_uploads();
  // Online garbage collection: untagged manifests and unreferenced blobs
  // older than `grace_seconds` are removed; pushes may continue meanwhile.
  Result<GcStats> gc(int64_t grace_seconds);

  const Config& config() const;
  struct Impl;

 private:
  explicit Registry(std::unique_ptr<Impl> impl);
  Dispatch handle_request(const Request& req);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::registry
