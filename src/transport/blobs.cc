// RegistryClient: blob download (resumable, verified) and upload (mount,
// monolithic, chunked with resume).
#include <fcntl.h>

#include "transport/endpoint.h"
#include "transport/registry_client.h"

namespace berth::transport {

namespace {
bool is_transport(const Error& e) { return e.code == Errc::network || e.code == Errc::timeout; }
}  // namespace

Status RegistryClient::fetch_blob(const std::string& repo, const Digest& d, uint64_t size, content::Store& store,
                                  const ProgressFn& progress) {
  if (store.has(d)) {
    if (progress) progress(size);
    return {};
  }
  TRY(ping());
  const std::string what = "blob " + d.str() + " from " + domain_ + "/" + repo;
  // A named ingest survives a killed process: the next pull resumes it.
  const std::string ref = "pull-" + d.str();
  auto open_writer = [&]() -> Result<content::Writer> {
    auto w = store.resume(ref);
    if (w.ok() || w.error().code != Errc::not_found) {
      if (w.ok()) return w;
      // Held by another puller (busy) or unreadable: download on our own; the first to commit wins.
      return store.writer("", d.alg());
    }
    w = store.writer(ref, d.alg());
    if (!w.ok() && (w.error().code == Errc::busy || w.error().code == Errc::already_exists))
      return store.writer("", d.alg());
    return w;
  };
  TRY_ASSIGN(content::Writer writer, open_writer());
  if (writer.offset() > size) {
    writer.abort();
    TRY_ASSIGN(writer, store.writer("", d.alg()));
  }
  if (writer.offset() > 0) stats_.resumed++;

  for (int attempt = 1;; attempt++) {
    const uint64_t start = writer.offset();
    if (start == size) break;
    HttpRequest req;
    req.url = blob_url(base_, repo, d);
    if (start > 0) req.headers.push_back("Range: bytes=" + std::to_string(start) + "-");
    req.on_body_start = [&](long status) -> Status {
      if (start > 0 && status != 206) {  // the server ignored Range: start over
        writer.abort();
        TRY_ASSIGN(writer, store.writer("", d.alg()));
      }
      return {};
    };
    req.sink = [&](const char* p, size_t n) -> Status {
      if (writer.offset() + n > size)
        return Error(Errc::size_mismatch, what + ": the registry sent more than the " + std::to_string(size) +
                                              " bytes the manifest declares");
      TRY(writer.write(p, n));
      if (progress) progress(writer.offset());
      return {};
    };
    auto r = send(req, {pull_scope(repo)}, /*retry=*/false);
    if (!r.ok()) {
      Error e = std::move(r).error();
      if (is_transport(e) && should_retry(opts_.retry, attempt, {true, 0})) {
        stats_.resumed++;
        TRY(writer.flush());
        sleep_backoff(attempt, nullptr);
        continue;
      }
      if (e.code == Errc::size_mismatch) writer.abort();
      return e.wrap("pulling");
    }
    if (r->status == 200 || r->status == 206) {
      if (writer.offset() == size) break;
      // A clean end of body before `size` bytes: ask for the rest.
      if (should_retry(opts_.retry, attempt, {true, 0})) {
        stats_.resumed++;
        continue;
      }
      return Error(Errc::size_mismatch, "pulling " + what + ": the registry sent " + std::to_string(writer.offset()) +
                                            " of " + std::to_string(size) + " bytes");
    }
    if (r->status == 416 && start > 0) {  // our partial bytes are not a prefix the server can serve
      writer.abort();
      TRY_ASSIGN(writer, store.writer("", d.alg()));
      continue;
    }
    if (should_retry(opts_.retry, attempt, {false, r->status})) {
      stats_.retries++;
      sleep_backoff(attempt, &*r);
      continue;
    }
    return http_error(*r, "pulling " + what);
  }
  auto c = writer.commit(d, size);
  if (!c.ok()) {
    Error e = std::move(c).error();
    if (e.code == Errc::digest_mismatch)
      return Error(Errc::digest_mismatch, "pulling " + what + ": content does not match its digest (" + e.message +
                                              "); the registry's copy is corrupt or was tampered with");
    return e.wrap("pulling " + what);
  }
  return {};
}

Status RegistryClient::upload_monolithic(const std::string& repo, const std::string& location, const Digest& d,
                                         uint64_t size, int fd, const ProgressFn& progress) {
  HttpRequest req;
  req.method = "PUT";
  req.url = add_query(location, "digest", d.str());
  req.headers = {"Content-Type: application/octet-stream"};
  req.body_fd = fd;
  req.body_offset = 0;
  req.body_length = size;
  TRY_ASSIGN(HttpResponse r, send(req, {push_scope(repo)}, /*retry=*/false));
  if (r.status != 201) return http_error(r, "uploading blob " + d.str() + " to " + domain_ + "/" + repo);
  if (progress) progress(size);
  return {};
}

Status RegistryClient::upload_chunked(const std::string& repo, std::string location, const Digest& d, uint64_t size,
                                      int fd, const ProgressFn& progress) {
  const std::string what = "uploading blob " + d.str() + " to " + domain_ + "/" + repo;
  uint64_t offset = 0;
  int attempt = 1;
  auto recover = [&](const HttpResponse* bad) -> Status {
    // Ask where the upload stands (distribution-spec "Get upload status") and continue from there.
    if (!should_retry(opts_.retry, attempt, {true, 0})) return Error(Errc::network, what + ": giving up after retries");
    sleep_backoff(attempt, bad);
    attempt++;
    stats_.resumed++;
    HttpRequest st;
    st.url = location;
    TRY_ASSIGN(HttpResponse r, send(st, {push_scope(repo)}));
    if (r.status != 204) return http_error(r, what + ": upload status");
    if (auto loc = r.header("location")) location = resolve_url(location, *loc);
    auto range = r.header("range");
    offset = range ? parse_upload_range(*range).value_or(0) : 0;
    return {};
  };
  while (offset < size) {
    uint64_t n = std::min(opts_.chunk_size, size - offset);
    HttpRequest req;
    req.method = "PATCH";
    req.url = location;
    req.headers = {"Content-Type: application/octet-stream",
                   "Content-Range: " + std::to_string(offset) + "-" + std::to_string(offset + n - 1)};
    req.body_fd = fd;
    req.body_offset = offset;
    req.body_length = n;
    auto r = send(req, {push_scope(repo)}, /*retry=*/false);
    if (!r.ok()) {
      if (!is_transport(r.error())) return std::move(r).error().wrap(what);
      TRY(recover(nullptr));
      continue;
    }
    if (r->status == 202) {
      if (auto loc = r->header("location")) location = resolve_url(location, *loc);
      auto range = r->header("range");
      uint64_t next = range ? parse_upload_range(*range).value_or(offset + n) : offset + n;
      if (next <= offset || next > size)
        return Error(Errc::invalid_input, what + ": registry reported an impossible upload range \"" +
                                              range.value_or("") + "\"");
      offset = next;
      if (progress) progress(offset);
      continue;
    }
    if (should_retry(opts_.retry, attempt, {false, r->status}) || r->status == 416) {
      TRY(recover(&*r));
      continue;
    }
    return http_error(*r, what);
  }
  HttpRequest fin;
  fin.method = "PUT";
  fin.url = add_query(location, "digest", d.str());
  fin.headers = {"Content-Type: application/octet-stream"};
  TRY_ASSIGN(HttpResponse r, send(fin, {push_scope(repo)}));
  if (r.status != 201) return http_error(r, what + ": completing upload");
  return {};
}

Result<BlobPushResult> RegistryClient::push_blob(const std::string& repo, const Digest& d, uint64_t size,
                                                 const std::string& path, const std::string& mount_from,
                                                 const ProgressFn& progress) {
  TRY(ping());
  const std::string what = "uploading blob " + d.str() + " to " + domain_ + "/" + repo;
  TRY_ASSIGN(bool exists, has_blob(repo, d));
  if (exists) {
    if (progress) progress(size);
    return BlobPushResult::existed;
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return sys_error(what + ": open " + path);

  for (int attempt = 1;; attempt++) {
    std::string location;
    if (!mount_from.empty() && mount_from != repo) {
      HttpRequest req;
      req.method = "POST";
      req.url = mount_url(base_, repo, d, mount_from);
      TRY_ASSIGN(HttpResponse r, send(req, {push_scope(repo), pull_scope(mount_from)}));
      if (r.status == 201) {
        if (progress) progress(size);
        return BlobPushResult::mounted;
      }
      if (r.status != 202) return http_error(r, what + ": mount from " + mount_from);
      auto loc = r.header("location");
      if (!loc) return Error(Errc::invalid_input, what + ": upload session without a Location header");
      location = resolve_url(req.url, *loc);
    } else {
      HttpRequest req;
      req.method = "POST";
      req.url = upload_start_url(base_, repo);
      TRY_ASSIGN(HttpResponse r, send(req, {push_scope(repo)}));
      if (r.status != 202) return http_error(r, what + ": starting upload");
      auto loc = r.header("location");
      if (!loc) return Error(Errc::invalid_input, what + ": upload session without a Location header");
      location = resolve_url(req.url, *loc);
    }
    Status s = size <= opts_.monolithic_max ? upload_monolithic(repo, location, d, size, fd.get(), progress)
                                            : upload_chunked(repo, location, d, size, fd.get(), progress);
    if (s.ok()) return BlobPushResult::uploaded;
    // A monolithic PUT that broke is redone from a fresh session.
    if (is_transport(s.error()) && size <= opts_.monolithic_max && should_retry(opts_.retry, attempt, {true, 0})) {
      stats_.retries++;
      sleep_backoff(attempt, nullptr);
      continue;
    }
    return std::move(s).error();
  }
}

}  // namespace berth::transport
