// Blob endpoints: GET/HEAD/DELETE /v2/<name>/blobs/<digest> and the upload
// protocol (POST monolithic / session / mount, PATCH, PUT, GET status, DELETE).
#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <charconv>

#include "registry/internal.h"

namespace berth::registry {

namespace {

std::string random_id() {
  unsigned char b[16];
  RAND_bytes(b, sizeof b);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) s += hex[c >> 4], s += hex[c & 15];
  return s;
}

std::string range_header(uint64_t offset) { return "0-" + std::to_string(offset == 0 ? 0 : offset - 1); }

std::string upload_location(const std::string& repo, const std::string& id) {
  return "/v2/" + repo + "/blobs/uploads/" + id;
}

Response created(const std::string& repo, const Digest& d) {
  Response r;
  r.status = 201;
  r.set("Location", blob_location(repo, d));
  r.set("Docker-Content-Digest", d.str());
  r.set("Content-Length", "0");
  return r;
}

Response commit_error(const Error& e) {
  if (e.code == Errc::digest_mismatch) return api_error(400, ApiCode::DIGEST_INVALID, e.message);
  if (e.code == Errc::size_mismatch) return api_error(400, ApiCode::SIZE_INVALID, e.message);
  if (e.code == Errc::limit) return api_error(413, ApiCode::SIZE_INVALID, e.message);
  return api_error(500, ApiCode::BLOB_UPLOAD_INVALID, e.str());
}

// Marks an upload session busy for the lifetime of one request.
class BusyGuard {
 public:
  BusyGuard(Registry::Impl* im, std::string id) : im_(im), id_(std::move(id)) {
    std::lock_guard lk(im_->busy_mu);
    ok_ = im_->busy_uploads.insert(id_).second;
  }
  ~BusyGuard() {
    if (!ok_) return;
    std::lock_guard lk(im_->busy_mu);
    im_->busy_uploads.erase(id_);
  }
  bool ok() const { return ok_; }

 private:
  Registry::Impl* im_;
  std::string id_;
  bool ok_ = false;
};

// POST ?digest=: the whole blob in one request.
class MonolithicSink : public BodySink {
 public:
  MonolithicSink(Registry::Impl* im, std::string repo, Digest d, std::optional<uint64_t> len, content::Writer w)
      : im_(im), repo_(std::move(repo)), d_(std::move(d)), len_(len), w_(std::move(w)) {}
  Status write(const char* p, size_t n) override { return w_.write(p, n); }
  Response finish() override {
    auto got = w_.commit(d_, len_);
    if (!got) return commit_error(got.error());
    if (auto s = im_->link_blob(repo_, d_); !s) return api_error(500, ApiCode::BLOB_UPLOAD_INVALID, s.error().str());
    return created(repo_, d_);
  }
  Response fail(const Error& e) override {
    w_.abort();
    return api_error(400, ApiCode::BLOB_UPLOAD_INVALID, e.str());
  }

 private:
  Registry::Impl* im_;
  std::string repo_;
  Digest d_;
  std::optional<uint64_t> len_;
  content::Writer w_;
};

// The blob is already in the store (pushed to some repository before): the
// bytes are hashed but not written. Linking still requires that they hash to
// the digest, so knowing a digest never grants access to someone else's blob.
class VerifySink : public BodySink {
 public:
  VerifySink(Registry::Impl* im, std::string repo, Digest d, std::optional<uint64_t> len, std::string session)
      : im_(im), repo_(std::move(repo)), d_(std::move(d)), len_(len), session_(std::move(session)), h_(d_.alg()) {}
  ~VerifySink() override { end_session(); }
  Status write(const char* p, size_t n) override {
    h_.update(p, n);
    return Status{};
  }
  Response finish() override {
    end_session();
    uint64_t got_size = h_.bytes();
    Digest got = h_.finish();
    if (!(got == d_)) return api_error(400, ApiCode::DIGEST_INVALID, "upload hashes to " + got.str() + ", not " + d_.str());
    if (len_ && *len_ != got_size) return api_error(400, ApiCode::SIZE_INVALID, "body is not Content-Length bytes");
    if (auto s = im_->link_blob(repo_, d_); !s) return api_error(500, ApiCode::BLOB_UPLOAD_INVALID, s.error().str());
    return created(repo_, d_);
  }
  Response fail(const Error& e) override { return api_error(400, ApiCode::BLOB_UPLOAD_INVALID, e.str()); }

 private:
  void end_session() {
    if (session_.empty()) return;
    (void)im_->store.abort_ingest(upload_ref(session_));
    (void)im_->meta->delete_upload(session_);
    session_.clear();
  }
  Registry::Impl* im_;
  std::string repo_;
  Digest d_;
  std::optional<uint64_t> len_;
  std::string session_;
  Hasher h_;
};

// PATCH (a chunk) and PUT (optional last chunk, then verify and publish).
class SessionSink : public BodySink {
 public:
  SessionSink(Registry::Impl* im, std::string repo, std::string id, content::Writer w,
              std::unique_ptr<BusyGuard> guard, std::optional<Digest> final_digest)
      : im_(im), repo_(std::move(repo)), id_(std::move(id)), w_(std::move(w)), guard_(std::move(guard)),
        final_(std::move(final_digest)) {}
  Status write(const char* p, size_t n) override { return w_.write(p, n); }
  Response finish() override {
    if (!final_) {
      (void)im_->meta->touch_upload(id_, now_seconds());
      Response r;
      r.status = 202;
      r.set("Location", upload_location(repo_, id_));
      r.set("Range", range_header(w_.offset()));
      r.set("Docker-Upload-UUID", id_);
      r.set("Content-Length", "0");
      return r;
    }
    const Digest& want = *final_;
    Result<Digest> got = Error(Errc::internal, "unset");
    if (want.alg() == DigestAlg::sha256) {
      got = w_.commit(want);
    } else {
      // Sessions hash with sha256; a sha512 upload is re-read once under its own algorithm.
      got = w_.commit();
      if (got) got = rehash(*got, want);
    }
    (void)im_->meta->delete_upload(id_);
    if (!got) return commit_error(got.error());
    if (auto s = im_->link_blob(repo_, want); !s) return api_error(500, ApiCode::BLOB_UPLOAD_INVALID, s.error().str());
    return created(repo_, want);
  }
  Response fail(const Error& e) override {
    // The bytes that arrived stay in the session; GET on it reports the offset to resume from.
    return api_error(400, ApiCode::BLOB_UPLOAD_INVALID, e.str());
  }

 private:
  Result<Digest> rehash(const Digest& have, const Digest& want) {
    TRY_ASSIGN(UniqueFd fd, im_->store.open_blob(have));
    TRY_ASSIGN(content::Writer w, im_->store.writer("", want.alg()));
    std::string buf(1 << 20, '\0');
    for (;;) {
      TRY_ASSIGN(size_t n, read_full(fd.get(), buf.data(), buf.size()));
      if (n == 0) break;
      TRY(w.write(buf.data(), n));
    }
    return w.commit(want);
  }
  static Result<size_t> read_full(int fd, char* p, size_t n) {
    ssize_t r;
    do r = ::read(fd, p, n);
    while (r < 0 && errno == EINTR);
    if (r < 0) return sys_error("read blob");
    return static_cast<size_t>(r);
  }

  Registry::Impl* im_;
  std::string repo_, id_;
  content::Writer w_;
  std::unique_ptr<BusyGuard> guard_;
  std::optional<Digest> final_;
};

// "bytes=a-b", "bytes=a-", "bytes=-n" against size; false = unsatisfiable or malformed.
bool parse_range(std::string_view h, uint64_t size, uint64_t* start, uint64_t* len) {
  if (h.substr(0, 6) != "bytes=") return false;
  h.remove_prefix(6);
  if (h.find(',') != std::string_view::npos) return false;
  auto dash = h.find('-');
  if (dash == std::string_view::npos) return false;
  auto num = [](std::string_view s, uint64_t* v) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
    return !s.empty() && ec == std::errc() && p == s.data() + s.size();
  };
  std::string_view a = h.substr(0, dash), b = h.substr(dash + 1);
  uint64_t x = 0, y = 0;
  if (a.empty()) {
    if (!num(b, &y) || y == 0 || size == 0) return false;
    y = std::min(y, size);
    *start = size - y;
    *len = y;
    return true;
  }
  if (!num(a, &x) || x >= size) return false;
  if (b.empty()) y = size - 1;
  else if (!num(b, &y) || y < x) return false;
  y = std::min(y, size - 1);
  *start = x;
  *len = y - x + 1;
  return true;
}

}  // namespace

Status Registry::Impl::link_blob(const std::string& repo, const Digest& d) {
  // A fresh mtime keeps GC's grace period away from a blob that was just
  // (re)pushed; the existence check inside the transaction closes the race.
  std::string p = store.blob_path(d);
  ::utimensat(AT_FDCWD, p.c_str(), nullptr, 0);
  return meta->link_blob(repo, d, [&] { return store.has(d); });
}

Dispatch Registry::Impl::blob(const Request& req, const std::string& repo, const std::string& ref) {
  auto d = Digest::parse(ref);
  if (!d) return {api_error(400, ApiCode::DIGEST_INVALID, d.error().message), nullptr};
  const std::string& m = req.method;
  if (m == "DELETE") {
    if (auto s = meta->unlink_blob(repo, *d); !s) {
      if (s.error().code == Errc::not_found) return {api_error(404, ApiCode::BLOB_UNKNOWN, s.error().message), nullptr};
      return {api_error(500, ApiCode::UNSUPPORTED, s.error().message), nullptr};
    }
    Response r;
    r.status = 202;
    r.set("Content-Length", "0");
    return {std::move(r), nullptr};
  }
  if (m != "GET" && m != "HEAD") return {api_error(405, ApiCode::UNSUPPORTED, "method not allowed on a blob"), nullptr};
  // Manifests are blobs too: clients may fetch them through this endpoint.
  if (!meta->has_blob(repo, *d) && !meta->get_manifest(repo, *d))
    return {api_error(404, ApiCode::BLOB_UNKNOWN, "blob " + d->str() + " is not in " + repo), nullptr};
  auto fd = store.open_blob(*d);
  if (!fd) return {api_error(404, ApiCode::BLOB_UNKNOWN, fd.error().message), nullptr};
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return {api_error(500, ApiCode::UNSUPPORTED, "stat blob"), nullptr};
  uint64_t size = static_cast<uint64_t>(st.st_size);
  Response r;
  r.set("Content-Type", "application/octet-stream");
  r.set("Docker-Content-Digest", d->str());
  r.set("ETag", "\"" + d->str() + "\"");
  r.set("Accept-Ranges", "bytes");
  uint64_t start = 0, len = size;
  std::string_view range = req.header("range");
  if (!range.empty()) {
    if (!parse_range(range, size, &start, &len)) {
      Response e = api_error(416, ApiCode::RANGE_INVALID, "range not satisfiable", range.substr(0, 64));
      e.set("Content-Range", "bytes */" + std::to_string(size));
      return {std::move(e), nullptr};
    }
    r.status = 206;
    r.set("Content-Range", "bytes " + std::to_string(start) + "-" + std::to_string(start + len - 1) + "/" +
                               std::to_string(size));
  }
  if (m == "HEAD") {
    r.head = true;
    r.head_length = len;
    return {std::move(r), nullptr};
  }
  r.file = std::move(*fd);
  r.file_offset = start;
  r.file_length = len;
  return {std::move(r), nullptr};
}

Dispatch Registry::Impl::upload_start(const Request& req, const std::string& repo, const Identity& id) {
  if (req.has_q("mount")) {
    auto d = Digest::parse(req.q("mount"));
    std::string from(req.q("from"));
    if (d && valid_repo_name(from) && (allowed(id, from) & kPull) && meta->has_blob(from, *d) && store.has(*d)) {
      if (link_blob(repo, *d)) return {created(repo, *d), nullptr};
    }
    // Not mountable: fall back to an ordinary upload session (spec: 202).
  } else if (req.has_q("digest")) {
    auto d = Digest::parse(req.q("digest"));
    if (!d) return {api_error(400, ApiCode::DIGEST_INVALID, d.error().message), nullptr};
    if (store.has(*d)) return {Response{}, std::make_unique<VerifySink>(this, repo, *d, req.content_length, "")};
    auto w = store.writer("", d->alg());
    if (!w) return {api_error(500, ApiCode::BLOB_UPLOAD_INVALID, w.error().str()), nullptr};
    return {Response{}, std::make_unique<MonolithicSink>(this, repo, *d, req.content_length, std::move(*w))};
  }
  std::string uid = random_id();
  auto w = store.writer(upload_ref(uid), DigestAlg::sha256);
  if (!w) return {api_error(500, ApiCode::BLOB_UPLOAD_INVALID, w.error().str()), nullptr};
  if (auto s = meta->create_upload(uid, repo, now_seconds(), cfg.max_uploads); !s) {
    w->abort();
    if (s.error().code == Errc::limit) {
      Response r = api_error(429, ApiCode::TOOMANYREQUESTS, s.error().message);
      r.set("Retry-After", "60");
      return {std::move(r), nullptr};
    }
    return {api_error(500, ApiCode::BLOB_UPLOAD_INVALID, s.error().str()), nullptr};
  }
  Response r;
  r.status = 202;
  r.set("Location", upload_location(repo, uid));
  r.set("Range", "0-0");
  r.set("Docker-Upload-UUID", uid);
  r.set("Content-Length", "0");
  return {std::move(r), nullptr};
}

Dispatch Registry::Impl::upload(const Request& req, const std::string& repo, const std::string& id) {
  auto up = meta->get_upload(id);
  if (!up || up->repo != repo)
    return {api_error(404, ApiCode::BLOB_UPLOAD_UNKNOWN, "upload " + id.substr(0, 64) + " is unknown"), nullptr};
  const std::string& m = req.method;
  auto guard = std::make_unique<BusyGuard>(this, id);
  if (!guard->ok())
    return {api_error(409, ApiCode::BLOB_UPLOAD_INVALID, "upload " + id + " has another request in flight"), nullptr};
  if (m == "DELETE") {
    (void)store.abort_ingest(upload_ref(id));
    (void)meta->delete_upload(id);
    Response r;
    r.status = 204;
    return {std::move(r), nullptr};
  }
  auto w = store.resume(upload_ref(id));
  if (!w) {
    (void)meta->delete_upload(id);
    return {api_error(404, ApiCode::BLOB_UPLOAD_UNKNOWN, "upload " + id + ": " + w.error().message), nullptr};
  }
  uint64_t offset = w->offset();
  if (m == "GET" || m == "HEAD") {
    Response r;
    r.status = 204;
    r.set("Location", upload_location(repo, id));
    r.set("Range", range_header(offset));
    r.set("Docker-Upload-UUID", id);
    return {std::move(r), nullptr};
  }
  if (m != "PATCH" && m != "PUT") return {api_error(405, ApiCode::UNSUPPORTED, "method not allowed on an upload"), nullptr};
  std::string_view cr = req.header("content-range");
  if (!cr.empty()) {
    uint64_t start, end;
    if (!parse_content_range(cr, &start, &end) || start != offset) {
      Response r = api_error(416, ApiCode::BLOB_UPLOAD_INVALID,
                             "chunk must start at offset " + std::to_string(offset), cr.substr(0, 64));
      r.set("Location", upload_location(repo, id));
      r.set("Range", range_header(offset));
      return {std::move(r), nullptr};
    }
    if (req.content_length && *req.content_length != end - start + 1)
      return {api_error(400, ApiCode::SIZE_INVALID, "Content-Length does not match Content-Range"), nullptr};
  }
  std::optional<Digest> final_digest;
  if (m == "PUT") {
    auto d = Digest::parse(req.q("digest"));
    if (!d) return {api_error(400, ApiCode::DIGEST_INVALID, "PUT needs ?digest=: " + d.error().message), nullptr};
    final_digest = *d;
    // The whole blob in the PUT, and the store has it already: verify, don't rewrite.
    if (offset == 0 && store.has(*d)) {
      w->abort();
      return {Response{}, std::make_unique<VerifySink>(this, repo, *d, req.content_length, id)};
    }
  }
  return {Response{}, std::make_unique<SessionSink>(this, repo, id, std::move(*w), std::move(guard), final_digest)};
}

}  // namespace berth::registry
