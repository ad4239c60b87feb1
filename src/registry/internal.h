// berth/registry private: state shared by the handler files. Not installed.
#pragma once

#include <mutex>
#include <set>
#include <string>

#include "content/store.h"
#include "registry/auth.h"
#include "registry/jwt.h"
#include "registry/names.h"
#include "registry/registry.h"

namespace berth::registry {

struct Identity {
  std::string user;  // "" anonymous
  bool token = false;
  TokenClaims claims;  // when token
};

struct Registry::Impl {
  Config cfg;
  content::Store store;
  std::unique_ptr<Meta> meta;
  std::unique_ptr<Htpasswd> htpasswd;
  std::unique_ptr<Acl> acl;
  std::string token_key;

  std::mutex busy_mu;
  std::set<std::string> busy_uploads;  // sessions with a request in flight

  Impl(Config c, content::Store s) : cfg(std::move(c)), store(std::move(s)) {}

  bool auth_enabled() const { return htpasswd || !token_key.empty() || !cfg.tls_client_ca.empty(); }
  // Actions `id` may perform on `repo` (ACL, token scope and read-only applied).
  unsigned allowed(const Identity& id, const std::string& repo) const;
  Response challenge(const Request& req, const std::string& scope, bool insufficient) const;
  std::string realm(const Request& req) const;

  Dispatch dispatch(const Request& req, const Route& route, const Identity& id);

  // registry.cc
  Response catalog(const Request& req, const Identity& id);
  Response tags_list(const Request& req, const std::string& repo);
  Response token(const Request& req, const Identity& id);

  // blobs.cc
  Dispatch blob(const Request& req, const std::string& repo, const std::string& ref);
  Dispatch upload_start(const Request& req, const std::string& repo, const Identity& id);
  Dispatch upload(const Request& req, const std::string& repo, const std::string& uuid);
  Status link_blob(const std::string& repo, const Digest& d);

  // manifests.cc
  Dispatch manifest(const Request& req, const std::string& repo, const std::string& ref);
  Response referrers(const Request& req, const std::string& repo, const std::string& ref);
};

// Upload ids are random hex; the store ref namespaces them.
inline std::string upload_ref(const std::string& id) { return "upload-" + id; }
inline std::string blob_location(const std::string& repo, const Digest& d) {
  return "/v2/" + repo + "/blobs/" + d.str();
}
int64_t now_seconds();

}  // namespace berth::registry
