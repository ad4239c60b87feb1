#include "transport/registry_client.h"

#include <fcntl.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "image/manifest.h"
#include "image/media_types.h"
#include "transport/endpoint.h"

namespace berth::transport {

namespace {

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

Errc errc_for_status(long st) {
  switch (st) {
    case 401: return Errc::unauthorized;
    case 403: return Errc::denied;
    case 404: return Errc::not_found;
    case 408: case 504: return Errc::timeout;
    case 413: case 416: return Errc::limit;
    case 429: return Errc::busy;
    default: return st >= 500 ? Errc::network : Errc::invalid_input;
  }
}

// Printable, one line, bounded: server text ends up in our error messages.
std::string sanitize(std::string_view s, size_t max = 200) {
  std::string out;
  for (char c : s.substr(0, max)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  if (s.size() > max) out += "…";
  return out;
}

bool is_transport(const Error& e) { return e.code == Errc::network || e.code == Errc::timeout; }

}  // namespace

std::string pull_scope(const std::string& repo) { return "repository:" + repo + ":pull"; }
std::string push_scope(const std::string& repo) { return "repository:" + repo + ":pull,push"; }

RegistryClient::RegistryClient(std::string domain, RegistryOptions opts, std::shared_ptr<HttpClient> http)
    : domain_(std::move(domain)), opts_(std::move(opts)), http_(std::move(http)) {}
RegistryClient::~RegistryClient() = default;

Result<std::shared_ptr<RegistryClient>> RegistryClient::create(std::string domain, RegistryOptions opts,
                                                               std::shared_ptr<HttpClient> http) {
  if (!http) {
    TRY_ASSIGN(http, HttpClient::create());
  }
  std::shared_ptr<RegistryClient> c(new RegistryClient(std::move(domain), std::move(opts), std::move(http)));
  c->tls_.verify = c->opts_.tls_verify;
  std::string dir = c->opts_.cert_dir.empty() ? default_cert_dir(c->domain_) : c->opts_.cert_dir;
  if (!dir.empty()) {
    TRY_ASSIGN(c->tls_, load_cert_dir(dir, c->tls_));
  }
  return c;
}

Error RegistryClient::http_error(const HttpResponse& r, const std::string& what) const {
  std::string detail;
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("errors") && j["errors"].is_array()) {
    for (auto& e : j["errors"]) {
      if (!e.is_object()) continue;
      std::string code = e.value("code", std::string()), msg = e.value("message", std::string());
      if (!detail.empty()) detail += "; ";
      detail += sanitize(code) + (msg.empty() ? "" : ": " + sanitize(msg));
      if (detail.size() > 300) break;
    }
  }
  if (detail.empty() && !r.body.empty() && r.body.size() < 200) detail = sanitize(r.body);
  std::string m = what + ": registry answered HTTP " + std::to_string(r.status);
  if (!detail.empty()) m += " (" + detail + ")";
  return Error(errc_for_status(r.status), m);
}

void RegistryClient::sleep_backoff(int attempt, const HttpResponse* r) {
  int64_t retry_after = -1;
  if (r) {
    if (auto h = r->header("retry-after")) {
      char* end = nullptr;
      long v = std::strtol(h->c_str(), &end, 10);
      if (end && *end == '\0' && v >= 0) retry_after = v;
    }
  }
  thread_local std::mt19937 rng(std::random_device{}());
  double unit = std::uniform_real_distribution<double>(0, 1)(rng);
  std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms(opts_.retry, attempt, unit, retry_after)));
}

Result<std::optional<Credentials>> RegistryClient::creds() {
  std::lock_guard g(mu_);
  if (!creds_loaded_) {
    if (opts_.credentials) {
      creds_ = opts_.credentials;
    } else {
      TRY_ASSIGN(creds_, find_credentials(domain_, opts_.authfile));
    }
    creds_loaded_ = true;
  }
  return creds_;
}

Status RegistryClient::learn_challenge(const HttpResponse& r) {
  std::optional<Challenge> pick;
  for (auto& h : r.headers_named("www-authenticate")) {
    auto cs = parse_challenges(h);
    if (!cs.ok()) return std::move(cs).error().wrap(domain_);
    for (auto& c : *cs) {
      if (c.scheme == "bearer") pick = c;
      else if (c.scheme == "basic" && !pick) pick = c;
    }
  }
  if (!pick) return http_error(r, domain_ + ": no usable WWW-Authenticate challenge (Bearer or Basic)");
  if (pick->scheme == "bearer") {
    std::string realm = pick->param("realm");
    if (!realm.starts_with("https://") && !realm.starts_with("http://"))
      return Error(Errc::invalid_input, domain_ + ": Bearer challenge has no http(s) realm");
    if (opts_.tls_verify && !realm.starts_with("https://"))
      return Error(Errc::denied, domain_ + ": token realm " + sanitize(realm) +
                                     " is plain HTTP; refusing to send credentials there (use --tls-verify=false)");
  }
  std::lock_guard g(mu_);
  challenge_ = std::move(pick);
  tokens_.clear();
  return {};
}

Status RegistryClient::ping() {
  {
    std::lock_guard g(mu_);
    if (pinged_) return {};
  }
  Error last(Errc::network, domain_ + ": no scheme to try");
  for (int attempt = 1;; attempt++) {
    bool transport_failure = false;
    for (auto& scheme : candidate_schemes(domain_, opts_.tls_verify)) {
      std::string base = scheme + "://" + api_host(domain_);
      HttpRequest req;
      req.url = v2_url(base);
      req.tls = &tls_;
      stats_.requests++;
      auto r = http_->perform(req);
      if (!r.ok()) {
        last = std::move(r).error();
        transport_failure = is_transport(last);
        if (!transport_failure) return last;
        continue;
      }
      if (r->status == 401) {
        TRY(learn_challenge(*r));
      } else if (r->status != 200) {
        // An HTTPS port answers plain HTTP with 400: try the next scheme.
        transport_failure = should_retry(opts_.retry, attempt, {false, r->status});
        last = http_error(*r, "GET " + req.url + (transport_failure ? "" : " (is this a distribution registry?)"));
        continue;
      }
      std::lock_guard g(mu_);
      base_ = base;
      pinged_ = true;
      return {};
    }
    if (!transport_failure || !should_retry(opts_.retry, attempt, {true, 0}))
      return last.wrap("pinging registry " + domain_);
    stats_.retries++;
    sleep_backoff(attempt, nullptr);
  }
}

Result<std::string> RegistryClient::fetch_token(const std::vector<std::string>& scopes) {
  Challenge ch;
  {
    std::lock_guard g(mu_);
    ch = *challenge_;
  }
  TRY_ASSIGN(auto cr, creds());
  HttpRequest req;
  req.url = token_url(ch.param("realm"), ch.param("service"), scopes);
  req.tls = &tls_;
  if (cr) req.headers.push_back("Authorization: Basic " + base64_encode(cr->username + ":" + cr->password));
  std::string what = "token service " + sanitize(ch.param("realm"));
  for (int attempt = 1;; attempt++) {
    stats_.token_fetches++;
    auto r = http_->perform(req);
    if (!r.ok()) {
      if (is_transport(r.error()) && should_retry(opts_.retry, attempt, {true, 0})) {
        sleep_backoff(attempt, nullptr);
        continue;
      }
      return std::move(r).error().wrap(what);
    }
    if (r->status == 200) {
      auto t = parse_token_response(r->body);
      if (!t.ok()) return std::move(t).error().wrap(what);
      std::lock_guard g(mu_);
      tokens_[join(scopes)] = CachedToken{t->token, now_s() + t->expires_in - 10};
      return t->token;
    }
    if (should_retry(opts_.retry, attempt, {false, r->status})) {
      sleep_backoff(attempt, &*r);
      continue;
    }
    Error e = http_error(*r, what);
    if (r->status == 401 || r->status == 403)
      e = Error(Errc::unauthorized, what + ": authentication failed (HTTP " + std::to_string(r->status) + ")" +
                                        (cr ? "; check the username and password" : "; log in first"));
    return e;
  }
}

Result<std::string> RegistryClient::auth_header(const std::vector<std::string>& scopes, bool force_refresh) {
  std::string scheme;
  {
    std::lock_guard g(mu_);
    if (!challenge_) return std::string();
    scheme = challenge_->scheme;
    if (scheme == "bearer" && !force_refresh) {
      auto it = tokens_.find(join(scopes));
      if (it != tokens_.end() && it->second.expires_at > now_s()) return "Bearer " + it->second.token;
    }
  }
  if (scheme == "basic") {
    TRY_ASSIGN(auto cr, creds());
    if (!cr) return std::string();
    return "Basic " + base64_encode(cr->username + ":" + cr->password);
  }
  TRY_ASSIGN(std::string tok, fetch_token(scopes));
  return "Bearer " + tok;
}

Result<HttpResponse> RegistryClient::send(HttpRequest req, const std::vector<std::string>& scopes, bool retry) {
  TRY(ping());
  req.tls = &tls_;
  const std::vector<std::string> base_headers = req.headers;
  bool refreshed = false;
  for (int attempt = 1;; attempt++) {
    req.headers = base_headers;
    TRY_ASSIGN(std::string ah, auth_header(scopes, false));
    if (!ah.empty()) req.headers.push_back("Authorization: " + ah);
    stats_.requests++;
    auto r = http_->perform(req);
    if (!r.ok()) {
      if (retry && is_transport(r.error()) && should_retry(opts_.retry, attempt, {true, 0})) {
        stats_.retries++;
        sleep_backoff(attempt, nullptr);
        continue;
      }
      return std::move(r).error();
    }
    if (r->status == 401 && !refreshed) {
      // First 401: learn (or re-learn) the challenge, drop cached tokens, try once more.
      refreshed = true;
      TRY(learn_challenge(*r));
      attempt--;
      continue;
    }
    if (r->status == 401) {
      TRY_ASSIGN(auto cr, creds());
      return Error(Errc::unauthorized, req.method + " " + req.url + ": unauthorized" +
                                           (cr ? " (the credentials were refused)" : " (log in first)"));
    }
    if (retry && should_retry(opts_.retry, attempt, {false, r->status})) {
      stats_.retries++;
      sleep_backoff(attempt, &*r);
      continue;
    }
    return r;
  }
}

Status RegistryClient::check_credentials() {
  TRY(ping());
  std::optional<Challenge> ch;
  {
    std::lock_guard g(mu_);
    ch = challenge_;
  }
  if (!ch) return {};  // the registry lets anyone in
  if (ch->scheme == "bearer") {
    TRY_ASSIGN(auto cr, creds());
    if (!cr) return Error(Errc::unauthorized, domain_ + ": no credentials given");
    TRY(fetch_token({}));
    return {};
  }
  HttpRequest req;
  req.url = v2_url(base_);
  TRY_ASSIGN(HttpResponse r, send(req, {}));
  if (r.status != 200) return http_error(r, "GET " + req.url);
  return {};
}

Result<FetchedManifest> RegistryClient::get_manifest(const std::string& repo, const std::string& ref) {
  TRY(ping());
  HttpRequest req;
  req.url = manifest_url(base_, repo, ref);
  req.headers = {"Accept: " + std::string(image::media::kOciManifest) + ", " + std::string(image::media::kOciIndex) +
                 ", " + std::string(image::media::kDockerManifest) + ", " +
                 std::string(image::media::kDockerManifestList)};
  req.max_body = image::kMaxManifestSize;
  std::string what = "manifest " + domain_ + "/" + repo + (ref.find(':') != std::string::npos ? "@" : ":") + ref;
  auto rr = send(req, {pull_scope(repo)});
  if (!rr.ok()) {
    Error e = std::move(rr).error();
    if (e.code == Errc::limit) e.message = what + ": larger than the 4 MiB manifest limit";
    return e.wrap("pulling");
  }
  HttpResponse& r = *rr;
  if (r.status != 200) return http_error(r, what);
  FetchedManifest m;
  m.bytes = std::move(r.body);
  std::string ct = r.header("content-type").value_or("");
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  m.media_type = ct;
  if (ct == image::media::kDockerSchema1 || ct == image::media::kDockerSchema1Signed)
    return Error(Errc::unsupported, what + ": Docker schema 1 manifests are not supported");
  auto want = Digest::parse(ref);
  if (want.ok()) {
    m.digest = Digest::of(m.bytes, want->alg());
    if (!(m.digest == *want))
      return Error(Errc::digest_mismatch, what + ": the registry returned content whose digest is " + m.digest.str());
  } else {
    m.digest = Digest::of(m.bytes);
    if (auto h = r.header("docker-content-digest")) {
      auto hd = Digest::parse(*h);
      if (hd.ok() && hd->alg() == DigestAlg::sha256 && !(*hd == m.digest))
        return Error(Errc::digest_mismatch, what + ": Docker-Content-Digest says " + hd->str() +
                                                " but the bytes hash to " + m.digest.str());
    }
  }
  return m;
}

Result<Digest> RegistryClient::put_manifest(const std::string& repo, const std::string& ref, const std::string& bytes,
                                            const std::string& media_type) {
  TRY(ping());
  HttpRequest req;
  req.method = "PUT";
  req.url = manifest_url(base_, repo, ref);
  req.headers = {"Content-Type: " + media_type};
  req.body = bytes;
  TRY_ASSIGN(HttpResponse r, send(req, {push_scope(repo)}));
  std::string what = "pushing manifest " + domain_ + "/" + repo + (ref.find(':') != std::string::npos ? "@" : ":") + ref;
  if (r.status != 201 && r.status != 200) return http_error(r, what);
  Digest d = Digest::of(bytes);
  if (auto h = r.header("docker-content-digest")) {
    auto hd = Digest::parse(*h);
    if (hd.ok() && hd->alg() == d.alg() && !(*hd == d))
      return Error(Errc::digest_mismatch, what + ": registry stored it as " + hd->str() + ", expected " + d.str());
  }
  return d;
}

Result<bool> RegistryClient::has_blob(const std::string& repo, const Digest& d) {
  TRY(ping());
  HttpRequest req;
  req.method = "HEAD";
  req.url = blob_url(base_, repo, d);
  TRY_ASSIGN(HttpResponse r, send(req, {pull_scope(repo)}));
  if (r.status == 200) return true;
  if (r.status == 404) return false;
  return http_error(r, "HEAD blob " + d.str() + " in " + domain_ + "/" + repo);
}

}  // namespace berth::transport
