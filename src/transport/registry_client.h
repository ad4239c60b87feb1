// berth/transport: a client for one registry (distribution-spec v1.1 pull
// and push endpoints), with authentication, retries and verified transfers.
//
// Promises:
//  - Auth: anonymous first; on 401 the WWW-Authenticate challenge decides:
//    Basic sends the credentials, Bearer fetches a token from the realm for
//    exactly the scopes the request needs (credentials as Basic auth on the
//    token request, anonymous when there are none) and caches it per scope
//    set until shortly before it expires.
//  - Idempotent requests (GET, HEAD, PUT manifest, upload steps that can be
//    re-asked) are retried on 5xx/429/connection errors with bounded
//    exponential backoff (retry.h).
//  - Blob downloads stream into a named content-store ingest ("pull-<digest>"),
//    so a broken connection resumes with Range from the bytes already written
//    (in this process or a later one); every byte is hashed, more bytes than
//    the descriptor's size abort the transfer, and only a blob whose digest and
//    size match becomes visible (content/store.h).
//  - Manifests are limited to 4 MiB; a manifest requested by digest must hash
//    to that digest; schema 1 manifests are refused by name.
//  - Blob uploads: HEAD skips blobs the repository has, a cross-repository
//    mount is tried when a source repository on the same registry is known,
//    small blobs go in one PUT, large ones in PATCH chunks; a failed chunk
//    asks the server where the upload stands and continues from there.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "content/store.h"
#include "digest/digest.h"
#include "transport/auth.h"
#include "transport/http.h"
#include "transport/retry.h"

namespace berth::transport {

struct RegistryOptions {
  bool tls_verify = true;
  std::string cert_dir;  // "" = /etc/containers/certs.d/HOST, /etc/docker/certs.d/HOST
  std::string authfile;  // "" = auth_file_search_path()
  std::optional<Credentials> credentials;  // explicit credentials win over the auth file
  RetryPolicy retry;
  uint64_t monolithic_max = 32ull << 20;  // blobs up to this size are uploaded in one PUT
  uint64_t chunk_size = 16ull << 20;      // PATCH chunk size above that
};

using ProgressFn = std::function<void(uint64_t bytes_done)>;

struct FetchedManifest {
  std::string bytes;
  std::string media_type;  // from Content-Type (parameters stripped)
  Digest digest;           // of bytes
};

enum class BlobPushResult { uploaded, existed, mounted };

class RegistryClient {
 public:
  // `domain` is a reference's domain ("docker.io", "localhost:5000").
  static Result<std::shared_ptr<RegistryClient>> create(std::string domain, RegistryOptions opts,
                                                        std::shared_ptr<HttpClient> http = nullptr);
  ~RegistryClient();

  const std::string& domain() const { return domain_; }
  // "scheme://host[:port]" once ping() chose a scheme.
  const std::string& base_url() const { return base_; }

  // GET /v2/: picks the scheme, learns the auth challenge. Called lazily by
  // every other method.
  Status ping();
  // Verifies the credentials (login): /v2/ with Basic, or a token fetch.
  Status check_credentials();

  Result<FetchedManifest> get_manifest(const std::string& repo, const std::string& tag_or_digest);
  Result<Digest> put_manifest(const std::string& repo, const std::string& tag_or_digest, const std::string& bytes,
                              const std::string& media_type);
  Result<bool> has_blob(const std::string& repo, const Digest& d);
  // Ensures `store` holds the verified blob (no transfer when it already does).
  Status fetch_blob(const std::string& repo, const Digest& d, uint64_t size, content::Store& store,
                    const ProgressFn& progress = {});
  // Uploads the blob at path (its size and digest already known and verified
  // by the caller). mount_from: another repository on this registry that has it.
  Result<BlobPushResult> push_blob(const std::string& repo, const Digest& d, uint64_t size, const std::string& path,
                                   const std::string& mount_from = "", const ProgressFn& progress = {});

  struct Stats {
    std::atomic<uint64_t> requests{0}, retries{0}, token_fetches{0}, resumed{0};
  };
  const Stats& stats() const { return stats_; }

 private:
  RegistryClient(std::string domain, RegistryOptions opts, std::shared_ptr<HttpClient> http);
  // Sends with auth and (when `retry`) the retry loop. A 401 refreshes auth once.
  Result<HttpResponse> send(HttpRequest req, const std::vector<std::string>& scopes, bool retry = true);
  Result<std::string> auth_header(const std::vector<std::string>& scopes, bool force_refresh);
  Status learn_challenge(const HttpResponse& r);
  Result<std::string> fetch_token(const std::vector<std::string>& scopes);
  Error http_error(const HttpResponse& r, const std::string& what) const;
  Result<std::optional<Credentials>> creds();
  void sleep_backoff(int attempt, const HttpResponse* r);

  Status upload_monolithic(const std::string& repo, const std::string& location, const Digest& d, uint64_t size,
                           int fd, const ProgressFn& progress);
  Status upload_chunked(const std::string& repo, std::string location, const Digest& d, uint64_t size, int fd,
                        const ProgressFn& progress);

  std::string domain_;
  RegistryOptions opts_;
  std::shared_ptr<HttpClient> http_;
  TlsOptions tls_;

  std::mutex mu_;
  bool pinged_ = false;
  std::string base_;
  std::optional<Challenge> challenge_;  // "bearer" or "basic"; none = anonymous works
  struct CachedToken {
    std::string token;
    int64_t expires_at = 0;  // steady-clock seconds
  };
  std::map<std::string, CachedToken> tokens_;  // key: scopes joined by ' '
  bool creds_loaded_ = false;
  std::optional<Credentials> creds_;
  Stats stats_;
};

// Scope strings for the token service.
std::string pull_scope(const std::string& repo);
std::string push_scope(const std::string& repo);  // "repository:REPO:pull,push"

}  // namespace berth::transport
