// ADD's extras: local archives extracted (with the engine's tar reader and
// directory sink, the same confinement `berth cp` has) and http(s) sources
// fetched with libcurl (loaded on first use by transport/curl_api.h).
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cstring>
#include <ctime>
#include <memory>

#include "base/fs.h"
#include "build/context_walk.h"
#include "build/copy_writer.h"
#include "engine/copy_io.h"
#include "transport/curl_api.h"

namespace berth::build::detail {

namespace {

constexpr long kConnectTimeoutSecs = 5;
constexpr long kStallSecs = 30;                 // abort when under 1 byte/s for this long
constexpr uint64_t kMaxDownload = 16ull << 30;  // one ADD <url>

Result<UniqueFd> reopen(int pathfd, const std::string& shown) {
  UniqueFd fd(::open(proc_fd_path(pathfd).c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) return sys_error("ADD " + shown + ": open");
  return fd;
}

void configure_reader(struct archive* a) {
  archive_read_support_format_tar(a);
  // Built-in decompressors only (filter_all may run external programs).
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_bzip2(a);
  archive_read_support_filter_xz(a);
  archive_read_support_filter_zstd(a);
}

}  // namespace

bool is_url(const std::string& s) {
  return s.starts_with("http://") || s.starts_with("https://") || s.starts_with("git@") || s.starts_with("git://");
}

Result<bool> is_archive(int pathfd, const std::string& shown) {
  TRY_ASSIGN(UniqueFd fd, reopen(pathfd, shown));
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  if (!a) return Error(Errc::internal, "ADD " + shown + ": archive_read_new failed");
  configure_reader(a.get());
  if (archive_read_open_fd(a.get(), fd.get(), 1 << 16) != ARCHIVE_OK) return false;
  struct archive_entry* ae;
  // Docker: an archive is what a tar reader gets a first header from; an
  // empty tar, or a compressed file that is not a tar, is copied as it is.
  return archive_read_next_header(a.get(), &ae) == ARCHIVE_OK;
}

Status extract_archive(int pathfd, const std::string& shown, const std::string& rel_dir, const std::string& rootfs,
                       const CopyOptions& o) {
  TRY_ASSIGN(UniqueFd fd, reopen(pathfd, shown));
  TRY_ASSIGN(auto root, layer::detail::Root::open(rootfs));
  // Owners from the archive, unless --chown (BuildKit applies it to
  // unpacked files too); the archive's modes are kept (--chmod is not applied).
  engine::copy_detail::Owners owners;
  if (o.uid || o.gid) {
    owners.mode = engine::copy_detail::Owners::Mode::fixed;
    owners.uid = o.uid.value_or(0);
    owners.gid = o.gid.value_or(0);
  }
  engine::copy_detail::DirSink sink(std::move(root), rel_dir, owners, "/");
  sink.create_parents = true;
  auto st = engine::copy_detail::read_tar(fd.get(), sink);
  if (!st) return std::move(st).error().wrap("ADD " + shown);
  return Status{};
}

namespace {

struct Download {
  int fd = -1;
  uint64_t bytes = 0;
  Status status;
};

size_t on_data(char* p, size_t size, size_t n, void* user) {
  auto* d = static_cast<Download*>(user);
  size_t len = size * n;
  if (d->bytes + len > kMaxDownload) {
    d->status = Error(Errc::limit, "larger than " + std::to_string(kMaxDownload >> 30) + " GiB");
    return 0;
  }
  auto st = write_all(d->fd, p, len);
  if (!st) {
    d->status = std::move(st).error();
    return 0;
  }
  d->bytes += len;
  return len;
}

// The file name Docker gives a download: the URL path's last component.
std::string url_file_name(const std::string& url) {
  std::string s = url.substr(url.find("://") + 3);
  auto cut = s.find_first_of("?#");
  if (cut != std::string::npos) s.resize(cut);
  auto slash = s.find('/');
  if (slash == std::string::npos) return "";
  s = s.substr(slash);
  while (!s.empty() && s.back() == '/') s.pop_back();
  std::string leaf = s.substr(s.rfind('/') + 1);
  return leaf == "." || leaf == ".." ? "" : leaf;
}

}  // namespace

Status add_url(const std::string& url, Writer& w, const std::string& rel, bool dest_is_dir) {
  auto fail = [&](Errc c, const std::string& why) { return Error(c, "ADD " + url + ": " + why); };
  if (!url.starts_with("http://") && !url.starts_with("https://"))
    return fail(Errc::unsupported, "git sources are not supported");
  std::string target = rel;
  if (dest_is_dir) {
    std::string name = url_file_name(url);
    if (name.empty()) return fail(Errc::invalid_argument, "cannot determine a file name from the URL; give one in the destination");
    target = join_path(rel, name);
  }
  auto api = transport::curl_api();
  if (!api.ok()) return fail(api.error().code, api.error().message);
  const transport::CurlApi& cu = **api;
  // Unnamed: a failed download leaves nothing behind.
  UniqueFd tmp(::open("/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!tmp) tmp.reset(::memfd_create("berth-add", MFD_CLOEXEC));
  if (!tmp) return fail(Errc::io, std::string("temporary file: ") + std::strerror(errno));
  std::unique_ptr<CURL, void (*)(CURL*)> c(cu.easy_init(), cu.easy_cleanup);
  if (!c) return fail(Errc::internal, "curl_easy_init failed");
  Download d;
  d.fd = tmp.get();
  char errbuf[CURL_ERROR_SIZE] = {};
  cu.easy_setopt(c.get(), CURLOPT_URL, url.c_str());
  cu.easy_setopt(c.get(), CURLOPT_PROTOCOLS_STR, "http,https");
  cu.easy_setopt(c.get(), CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  cu.easy_setopt(c.get(), CURLOPT_FOLLOWLOCATION, 1L);
  cu.easy_setopt(c.get(), CURLOPT_MAXREDIRS, 10L);
  cu.easy_setopt(c.get(), CURLOPT_CONNECTTIMEOUT, kConnectTimeoutSecs);
  cu.easy_setopt(c.get(), CURLOPT_LOW_SPEED_LIMIT, 1L);
  cu.easy_setopt(c.get(), CURLOPT_LOW_SPEED_TIME, kStallSecs);
  cu.easy_setopt(c.get(), CURLOPT_FAILONERROR, 1L);
  cu.easy_setopt(c.get(), CURLOPT_FILETIME, 1L);
  cu.easy_setopt(c.get(), CURLOPT_NOSIGNAL, 1L);
  cu.easy_setopt(c.get(), CURLOPT_USERAGENT, "berth");
  cu.easy_setopt(c.get(), CURLOPT_ERRORBUFFER, errbuf);
  cu.easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, on_data);
  cu.easy_setopt(c.get(), CURLOPT_WRITEDATA, &d);
  CURLcode rc = cu.easy_perform(c.get());
  if (!d.status) return fail(d.status.error().code, d.status.error().str());
  if (rc != CURLE_OK) return fail(Errc::network, errbuf[0] ? errbuf : cu.easy_strerror(rc));
  curl_off_t filetime = -1;
  cu.easy_getinfo(c.get(), CURLINFO_FILETIME_T, &filetime);
  Item it;
  it.st.st_mode = S_IFREG | 0600;  // Docker's mode for downloads
  it.st.st_size = static_cast<off_t>(d.bytes);
  if (filetime >= 0) {
    it.st.st_mtim.tv_sec = static_cast<time_t>(filetime);
  } else {
    ::clock_gettime(CLOCK_REALTIME, &it.st.st_mtim);
  }
  it.fd = tmp.get();
  auto st = w.put(target, it);
  if (!st) return std::move(st).error().wrap("ADD " + url);
  return Status{};
}

}  // namespace berth::build::detail
