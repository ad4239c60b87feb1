#include "transport/http.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>

#include "base/fs.h"
#include "transport/curl_api.h"

namespace berth::transport {

namespace {

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// The system CA bundle, read once: CURLOPT_CAINFO_BLOB replaces it, so extra
// CAs are appended to it rather than trusted instead of it.
const std::string& system_ca_bundle() {
  static const std::string pem = [] {
    for (const char* p : {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"}) {
      auto r = read_file(p, 16 << 20);
      if (r.ok()) return *r;
    }
    return std::string();
  }();
  return pem;
}

struct Transfer {
  const CurlApi* api = nullptr;
  const HttpRequest* req = nullptr;
  HttpResponse* resp = nullptr;
  CURL* easy = nullptr;
  Status sink_status;
  bool body_started = false;
  bool body_too_large = false;
  uint64_t sent = 0;
};

size_t on_header(char* data, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {  // a new response (after 100-continue or a redirect)
    t->resp->headers.clear();
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  if (t->resp->headers.size() < 200)
    t->resp->headers.emplace_back(lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
  return size * n;
}

size_t on_write(char* data, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  size_t len = size * n;
  long code = 0;
  t->api->easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
  if (code >= 200 && code < 300 && t->req->sink) {
    Status s;
    if (!t->body_started) {
      t->body_started = true;
      if (t->req->on_body_start) s = t->req->on_body_start(code);
    }
    if (s.ok()) s = t->req->sink(data, len);
    if (!s.ok()) {
      t->sink_status = std::move(s);
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    return len;
  }
  if (t->resp->body.size() + len > t->req->max_body) {
    t->body_too_large = true;
    return 0;
  }
  t->resp->body.append(data, len);
  return len;
}

size_t on_read(char* buf, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  const HttpRequest& r = *t->req;
  size_t want = size * n;
  if (r.body_fd < 0) {
    size_t left = r.body.size() - t->sent;
    size_t k = std::min(want, left);
    std::memcpy(buf, r.body.data() + t->sent, k);
    t->sent += k;
    return k;
  }
  uint64_t left = r.body_length - t->sent;
  size_t k = static_cast<size_t>(std::min<uint64_t>(want, left));
  if (k == 0) return 0;
  ssize_t got;
  do got = ::pread(r.body_fd, buf, k, static_cast<off_t>(r.body_offset + t->sent));
  while (got < 0 && errno == EINTR);
  if (got <= 0) {
    t->sink_status = got < 0 ? Status(sys_error("reading upload body")) :
                               Status(Error(Errc::io, "reading upload body: file shorter than expected"));
    return CURL_READFUNC_ABORT;
  }
  t->sent += static_cast<uint64_t>(got);
  return static_cast<size_t>(got);
}

int seek_cb(void* ud, curl_off_t off, int origin) {
  // libcurl rewinds the body when it must resend it (auth negotiation, a
  // redirect); support absolute seeks only.
  auto* t = static_cast<Transfer*>(ud);
  if (origin != SEEK_SET || off < 0) return CURL_SEEKFUNC_CANTSEEK;
  t->sent = static_cast<uint64_t>(off);
  return CURL_SEEKFUNC_OK;
}

}  // namespace

struct HttpClient::Impl {
  const CurlApi* api = nullptr;
  std::string user_agent;
  CURLSH* share = nullptr;
  std::mutex locks[CURL_LOCK_DATA_LAST];
  std::mutex pool_mu;
  std::vector<CURL*> pool;

  static void lock(CURL*, curl_lock_data d, curl_lock_access, void* ud) {
    static_cast<Impl*>(ud)->locks[d].lock();
  }
  static void unlock(CURL*, curl_lock_data d, void* ud) { static_cast<Impl*>(ud)->locks[d].unlock(); }

  CURL* take() {
    {
      std::lock_guard g(pool_mu);
      if (!pool.empty()) {
        CURL* e = pool.back();
        pool.pop_back();
        return e;
      }
    }
    return api->easy_init();
  }
  void give(CURL* e) {
    std::lock_guard g(pool_mu);
    pool.push_back(e);
  }
  ~Impl() {
    for (CURL* e : pool) api->easy_cleanup(e);
    if (share) api->share_cleanup(share);
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

Result<std::shared_ptr<HttpClient>> HttpClient::create(std::string user_agent) {
  // The first client loads libcurl (curl_api.h says why it is not linked).
  TRY_ASSIGN(const CurlApi* api, curl_api());
  auto impl = std::make_unique<Impl>();
  impl->api = api;
  impl->user_agent = std::move(user_agent);
  impl->share = api->share_init();
  if (!impl->share) return Error(Errc::internal, "curl_share_init failed");
  api->share_setopt(impl->share, CURLSHOPT_LOCKFUNC, &Impl::lock);
  api->share_setopt(impl->share, CURLSHOPT_UNLOCKFUNC, &Impl::unlock);
  api->share_setopt(impl->share, CURLSHOPT_USERDATA, impl.get());
  api->share_setopt(impl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  api->share_setopt(impl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  api->share_setopt(impl->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  return std::shared_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

Result<HttpResponse> HttpClient::perform(const HttpRequest& req) {
  const CurlApi& cu = *impl_->api;
  CURL* e = impl_->take();
  if (!e) return Error(Errc::internal, "curl_easy_init failed");
  struct Give {
    Impl* i;
    CURL* e;
    ~Give() { i->give(e); }
  } give{impl_.get(), e};
  cu.easy_reset(e);

  HttpResponse resp;
  Transfer t;
  t.req = &req;
  t.resp = &resp;
  t.easy = e;
  t.api = &cu;

  cu.easy_setopt(e, CURLOPT_SHARE, impl_->share);
  cu.easy_setopt(e, CURLOPT_URL, req.url.c_str());
  cu.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  cu.easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));  // libcurl reads a long
  cu.easy_setopt(e, CURLOPT_USERAGENT, impl_->user_agent.c_str());
  cu.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  cu.easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  cu.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
  // A stalled transfer (under 1 byte/s for 2 minutes) is abandoned; large
  // blobs on slow links are fine, which a total timeout would not allow.
  cu.easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  cu.easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 120L);
  cu.easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  cu.easy_setopt(e, CURLOPT_HEADERDATA, &t);
  cu.easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  cu.easy_setopt(e, CURLOPT_WRITEDATA, &t);
  cu.easy_setopt(e, CURLOPT_BUFFERSIZE, 512L << 10);  // fewer, larger writes into the content store

  bool get_like = req.method == "GET" || req.method == "HEAD";
  if (get_like) {
    cu.easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    cu.easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
  }
  if (req.method == "HEAD") {
    cu.easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (!get_like) {
    uint64_t len = req.body_fd >= 0 ? req.body_length : req.body.size();
    cu.easy_setopt(e, CURLOPT_UPLOAD, 1L);
    // The default 64 KiB upload buffer costs a read callback and a send per
    // 64 KiB; 2 MiB (libcurl's maximum) halves the CPU time of a layer push.
    cu.easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 2L << 20);
    cu.easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    cu.easy_setopt(e, CURLOPT_READDATA, &t);
    cu.easy_setopt(e, CURLOPT_SEEKFUNCTION, seek_cb);
    cu.easy_setopt(e, CURLOPT_SEEKDATA, &t);
    cu.easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(len));
    if (req.method != "PUT") cu.easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }

  struct curl_slist* hdrs = nullptr;
  struct Free {
    const CurlApi& cu;
    curl_slist** h;
    ~Free() { cu.slist_free_all(*h); }
  } free_hdrs{cu, &hdrs};
  for (auto& h : req.headers) hdrs = cu.slist_append(hdrs, h.c_str());
  // No "Expect: 100-continue" round trip before each chunk.
  hdrs = cu.slist_append(hdrs, "Expect:");
  cu.easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);

  std::string ca_blob;
  if (req.tls) {
    cu.easy_setopt(e, CURLOPT_SSL_VERIFYPEER, req.tls->verify ? 1L : 0L);
    cu.easy_setopt(e, CURLOPT_SSL_VERIFYHOST, req.tls->verify ? 2L : 0L);
    if (!req.tls->extra_ca_pem.empty()) {
      ca_blob = system_ca_bundle() + "\n" + req.tls->extra_ca_pem;
      curl_blob b{ca_blob.data(), ca_blob.size(), CURL_BLOB_COPY};
      cu.easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
    }
    if (!req.tls->client_cert.empty()) {
      cu.easy_setopt(e, CURLOPT_SSLCERT, req.tls->client_cert.c_str());
      cu.easy_setopt(e, CURLOPT_SSLKEY, req.tls->client_key.c_str());
    }
  }

  CURLcode rc = cu.easy_perform(e);
  char* eff = nullptr;
  cu.easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &eff);
  if (eff) resp.final_url = eff;
  cu.easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp.status);
  if (!t.sink_status.ok()) return std::move(t.sink_status).error();
  if (t.body_too_large)
    return Error(Errc::limit, req.method + " " + req.url + ": response body over the limit of " +
                                  std::to_string(req.max_body) + " bytes");
  if (rc != CURLE_OK) {
    Errc c = rc == CURLE_OPERATION_TIMEDOUT ? Errc::timeout : Errc::network;
    return Error(c, req.method + " " + req.url + ": " + cu.easy_strerror(rc));
  }
  return resp;
}

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  std::string n = lower(name);
  for (auto& [k, v] : headers)
    if (k == n) return v;
  return std::nullopt;
}

std::vector<std::string> HttpResponse::headers_named(std::string_view name) const {
  std::string n = lower(name);
  std::vector<std::string> out;
  for (auto& [k, v] : headers)
    if (k == n) out.push_back(v);
  return out;
}

std::string resolve_url(std::string_view base, std::string_view loc) {
  if (loc.find("://") != std::string_view::npos) return std::string(loc);
  auto scheme_end = base.find("://");
  if (scheme_end == std::string_view::npos) return std::string(loc);
  auto host_end = base.find('/', scheme_end + 3);
  std::string_view origin = base.substr(0, host_end);
  if (loc.starts_with("//")) return std::string(base.substr(0, scheme_end + 1)) + std::string(loc);
  if (loc.starts_with("/")) return std::string(origin) + std::string(loc);
  // Relative path: replace the last segment of the base path (query dropped).
  std::string_view path = host_end == std::string_view::npos ? "/" : base.substr(host_end);
  path = path.substr(0, path.find('?'));
  auto slash = path.rfind('/');
  return std::string(origin) + std::string(path.substr(0, slash + 1)) + std::string(loc);
}

std::string url_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string add_query(std::string_view url, std::string_view key, std::string_view value) {
  std::string out(url);
  out += url.find('?') == std::string_view::npos ? '?' : '&';
  out += url_encode(key);
  out += '=';
  out += url_encode(value);
  return out;
}

}  // namespace berth::transport
