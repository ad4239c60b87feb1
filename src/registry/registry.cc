// Registry: opening, request routing, authentication/authorisation, and the
// small read-only endpoints (base, catalog, tags list, token service).
#include "registry/registry.h"

#include <openssl/rand.h>
#include <strings.h>

#include <charconv>
#include <ctime>

#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "registry/internal.h"

namespace berth::registry {

using nlohmann::json;

int64_t now_seconds() { return static_cast<int64_t>(::time(nullptr)); }

Registry::Registry(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Registry::~Registry() = default;
const Config& Registry::config() const { return impl_->cfg; }

Result<std::unique_ptr<Registry>> Registry::open(const Config& cfg) {
  if (cfg.root.empty()) return Error(Errc::invalid_argument, "registry: --root is required");
  TRY(mkdir_p(cfg.root, 0700));
  TRY_ASSIGN(content::Store store, content::Store::open(path_join(cfg.root, "content")));
  auto impl = std::make_unique<Impl>(cfg, std::move(store));
  TRY_ASSIGN(impl->meta, Meta::open(path_join(cfg.root, "meta.db")));
  if (!cfg.htpasswd.empty()) {
    TRY_ASSIGN(impl->htpasswd, Htpasswd::load(cfg.htpasswd));
  }
  if (!cfg.acl.empty()) {
    TRY_ASSIGN(impl->acl, Acl::load(cfg.acl));
  }
  if (!cfg.token_key.empty()) {
    TRY_ASSIGN(impl->token_key, read_file(cfg.token_key, 4096));
    if (impl->token_key.size() < 32)
      return Error(Errc::invalid_input, cfg.token_key + ": token key must be at least 32 bytes");
    if (!impl->htpasswd) return Error(Errc::invalid_argument, "registry: token auth needs --htpasswd for /token logins");
  }
  return std::unique_ptr<Registry>(new Registry(std::move(impl)));
}

unsigned Registry::Impl::allowed(const Identity& id, const std::string& repo) const {
  unsigned a;
  if (acl) a = acl->allowed(id.user, repo);
  else if (auth_enabled()) a = id.user.empty() ? 0 : (kPull | kPush | kDelete);
  else a = kPull | kPush | kDelete;
  if (id.token) {
    auto it = id.claims.access.find(repo);
    a &= it == id.claims.access.end() ? 0 : it->second;
  }
  if (cfg.read_only) a &= kPull;
  return a;
}

std::string Registry::Impl::realm(const Request& req) const {
  if (!cfg.token_realm.empty()) return cfg.token_realm;
  std::string host = req.host.empty() ? cfg.addr : req.host;
  return std::string(req.tls ? "https://" : "http://") + host + "/token";
}

Response Registry::Impl::challenge(const Request& req, const std::string& scope, bool insufficient) const {
  Response r = api_error(401, ApiCode::UNAUTHORIZED, "authentication required",
                         scope.empty() ? std::string_view() : std::string_view(scope));
  if (!token_key.empty()) {
    std::string h = "Bearer realm=\"" + realm(req) + "\",service=\"" + cfg.token_service + "\"";
    if (!scope.empty()) h += ",scope=\"" + scope + "\"";
    if (insufficient) h += ",error=\"insufficient_scope\"";
    r.set("WWW-Authenticate", h);
  } else {
    r.set("WWW-Authenticate", "Basic realm=\"berth-registry\"");
  }
  return r;
}

Dispatch Registry::handle(const Request& req) {
  // The handlers report errors as values; this only stops a stray library
  // exception (std::bad_alloc, a JSON encoder) from crossing the API.
  try {
    return handle_request(req);
  } catch (const std::exception& e) {
    return {api_error(500, ApiCode::UNSUPPORTED, std::string("internal error: ") + e.what()), nullptr};
  }
}

Dispatch Registry::handle_request(const Request& req) {
  Impl& im = *impl_;
  Route route = parse_route(req.path);
  Identity id;
  id.user = req.tls_user;
  std::string_view authz = req.header("authorization");
  if (!authz.empty() && authz.size() > 7 && strncasecmp(authz.data(), "bearer ", 7) == 0 && !im.token_key.empty()) {
    auto c = verify_token(authz.substr(7), im.token_key, im.cfg.token_issuer, im.cfg.token_service, now_seconds());
    if (!c) {
      Response r = im.challenge(req, "", false);
      r.body = api_error(401, ApiCode::UNAUTHORIZED, c.error().message).body;
      return {std::move(r), nullptr};
    }
    id.token = true;
    id.claims = std::move(c).value();
    id.user = id.claims.subject;
  } else if (!authz.empty() && im.htpasswd && strncasecmp(authz.data(), "basic ", 6) == 0) {
    std::string user, pass;
    bool ok = parse_basic_auth(authz, &user, &pass);
    // Clients without credentials (skopeo --no-creds) send "Basic Og==": that is anonymous.
    if (ok && user.empty() && pass.empty()) {
      // anonymous
    } else if (!ok || !im.htpasswd->verify(user, pass)) {
      Response r = im.challenge(req, "", false);
      r.body = api_error(401, ApiCode::UNAUTHORIZED, "invalid username or password").body;
      return {std::move(r), nullptr};
    } else {
      id.user = user;
    }
  }
  // Otherwise credentials the registry has no use for are ignored, as other registries do.

  Dispatch d;
  switch (route.endpoint) {
    case Endpoint::none:
      d.response = api_error(404, ApiCode::UNSUPPORTED, "no such endpoint");
      break;
    case Endpoint::token:
      d.response = im.token(req, id);
      break;
    case Endpoint::base:
      if (im.auth_enabled() && id.user.empty() && !id.token) {
        d.response = im.challenge(req, "", false);
      } else {
        d.response.body = "{}";
        d.response.set("Content-Type", "application/json");
      }
      break;
    case Endpoint::catalog:
      if (req.method != "GET" && req.method != "HEAD") {
        d.response = api_error(405, ApiCode::UNSUPPORTED, "method not allowed on _catalog");
        break;
      }
      d.response = im.catalog(req, id);
      break;
    default:
      d = im.dispatch(req, route, id);
      break;
  }
  if (!d.sink) d.response.user = id.user;
  return d;
}

Dispatch Registry::Impl::dispatch(const Request& req, const Route& route, const Identity& id) {
  if (!valid_repo_name(route.name))
    return {api_error(400, ApiCode::NAME_INVALID, "invalid repository name", route.name.substr(0, 256)), nullptr};
  const std::string& m = req.method;
  unsigned need = (m == "GET" || m == "HEAD") ? kPull : m == "DELETE" ? kDelete : kPush;
  if (cfg.read_only && need != kPull)
    return {api_error(405, ApiCode::UNSUPPORTED, "registry is read-only"), nullptr};
  unsigned have = allowed(id, route.name);
  if (!(have & need)) {
    std::string scope = "repository:" + route.name + ":" + (need == kPull ? "pull" : need == kDelete ? "delete" : "pull,push");
    if (!token_key.empty() || (auth_enabled() && id.user.empty()))
      return {challenge(req, scope, id.token), nullptr};
    return {api_error(403, ApiCode::DENIED, "access to " + route.name + " denied", scope), nullptr};
  }
  switch (route.endpoint) {
    case Endpoint::tags_list:
      if (m != "GET" && m != "HEAD") break;
      return {tags_list(req, route.name), nullptr};
    case Endpoint::manifest:
      return manifest(req, route.name, route.ref);
    case Endpoint::blob:
      return blob(req, route.name, route.ref);
    case Endpoint::upload_start:
      if (m != "POST") break;
      return upload_start(req, route.name, id);
    case Endpoint::upload:
      return upload(req, route.name, route.ref);
    case Endpoint::referrers:
      if (m != "GET" && m != "HEAD") break;
      return {referrers(req, route.name, route.ref), nullptr};
    default:
      break;
  }
  return {api_error(405, ApiCode::UNSUPPORTED, "method " + m.substr(0, 16) + " not allowed here"), nullptr};
}

// "n" for paginated lists: absent -> the cap; malformed -> error.
static bool parse_n(const Request& req, int cap, int* n) {
  *n = cap;
  if (!req.has_q("n")) return true;
  std::string_view s = req.q("n");
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return false;
  *n = std::min(v, cap);  // unbounded n is a DoS (CVE-2023-2253)
  return true;
}

static constexpr int kListCap = 1000;

Response Registry::Impl::catalog(const Request& req, const Identity& id) {
  int n;
  if (!parse_n(req, kListCap, &n)) return api_error(400, ApiCode::UNSUPPORTED, "invalid n", req.q("n"));
  std::string cursor(req.q("last"));
  std::vector<std::string> out;
  // The ACL filters after the query, so page through until n+1 visible names.
  while (static_cast<int>(out.size()) <= n) {
    auto batch = meta->list_repos(cursor, 256);
    if (!batch) return api_error(500, ApiCode::UNSUPPORTED, batch.error().message);
    if (batch->empty()) break;
    for (auto& r : *batch)
      if (allowed(id, r) & kPull) out.push_back(r);
    cursor = batch->back();
  }
  Response r;
  bool more = static_cast<int>(out.size()) > n;
  out.resize(std::min<size_t>(out.size(), static_cast<size_t>(n)));
  if (more && !out.empty())
    r.set("Link", "</v2/_catalog?n=" + std::to_string(n) + "&last=" + percent_encode(out.back()) + ">; rel=\"next\"");
  r.body = json{{"repositories", out}}.dump();
  r.set("Content-Type", "application/json");
  return r;
}

Response Registry::Impl::tags_list(const Request& req, const std::string& repo) {
  if (!meta->repo_exists(repo)) return api_error(404, ApiCode::NAME_UNKNOWN, "repository " + repo + " not known");
  int n;
  if (!parse_n(req, kListCap, &n)) return api_error(400, ApiCode::UNSUPPORTED, "invalid n", req.q("n"));
  auto tags = meta->list_tags(repo, std::string(req.q("last")), n + 1);
  if (!tags) return api_error(500, ApiCode::UNSUPPORTED, tags.error().message);
  Response r;
  bool more = static_cast<int>(tags->size()) > n;
  tags->resize(std::min<size_t>(tags->size(), static_cast<size_t>(n)));
  if (more && !tags->empty())
    r.set("Link", "</v2/" + repo + "/tags/list?n=" + std::to_string(n) + "&last=" + percent_encode(tags->back()) +
                      ">; rel=\"next\"");
  r.body = json{{"name", repo}, {"tags", *tags}}.dump();
  r.set("Content-Type", "application/json");
  return r;
}

static std::string rfc3339(int64_t t) {
  char buf[32];
  time_t tt = static_cast<time_t>(t);
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Response Registry::Impl::token(const Request& req, const Identity& id) {
  if (token_key.empty()) return api_error(404, ApiCode::UNSUPPORTED, "token service not enabled");
  if (req.method != "GET") return api_error(405, ApiCode::UNSUPPORTED, "use GET /token");
  if (req.has_q("service") && req.q("service") != cfg.token_service)
    return api_error(400, ApiCode::UNSUPPORTED, "unknown service", req.q("service"));
  if (id.token) return api_error(400, ApiCode::UNSUPPORTED, "authenticate to /token with a password, not a token");
  TokenClaims c;
  c.issuer = cfg.token_issuer;
  c.subject = id.user;
  c.audience = cfg.token_service;
  c.issued_at = now_seconds();
  c.expires_at = c.issued_at + cfg.token_ttl;
  auto [a, b] = req.query.equal_range("scope");
  for (auto it = a; it != b; ++it) {
    // A scope parameter may hold several space-separated scopes.
    std::string_view all = it->second;
    size_t s = 0;
    while (s < all.size()) {
      size_t e = all.find(' ', s);
      std::string_view sc = all.substr(s, e == std::string_view::npos ? std::string_view::npos : e - s);
      s = e == std::string_view::npos ? all.size() : e + 1;
      auto c1 = sc.find(':'), c2 = sc.rfind(':');
      if (c1 == std::string_view::npos || c1 == c2 || sc.substr(0, c1) != "repository") continue;
      std::string repo(sc.substr(c1 + 1, c2 - c1 - 1));
      if (!valid_repo_name(repo)) continue;
      unsigned grant = parse_actions(sc.substr(c2 + 1)) & allowed(id, repo);
      if (grant) c.access[repo] |= grant;
    }
  }
  std::string tok = sign_token(c, token_key);
  Response r;
  r.body = json{{"token", tok}, {"access_token", tok}, {"expires_in", cfg.token_ttl}, {"issued_at", rfc3339(c.issued_at)}}.dump();
  r.set("Content-Type", "application/json");
  r.set("Cache-Control", "no-store");
  return r;
}

Result<uint64_t> Registry::expire_uploads() {
  Impl& im = *impl_;
  TRY_ASSIGN(auto ids, im.meta->expired_uploads(now_seconds() - im.cfg.upload_expiry));
  uint64_t n = 0;
  for (const auto& id : ids) {
    {
      std::lock_guard lk(im.busy_mu);
      if (im.busy_uploads.count(id)) continue;
    }
    (void)im.store.abort_ingest(upload_ref(id));
    TRY(im.meta->delete_upload(id));
    ++n;
  }
  // Ingest entries of crashed monolithic uploads have no session row.
  TRY(im.store.expire_ingests(im.cfg.upload_expiry));
  return n;
}

}  // namespace berth::registry
