// import: a rootfs tarball becomes a one-layer image.
//
// The tarball is stored as given (tar, tar+gzip or tar+zstd, detected by
// magic): one read pass hashes the bytes into the content store and, through
// a decompressor, computes the diff_id. No recompression: importing a 1 GiB
// .tar.gz costs one read and one gunzip.
#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>
#include <vector>

#include "base/fs.h"
#include "image/archive.h"
#include "image/change.h"
#include "image/compress.h"
#include "image/manifest.h"
#include "image/media_types.h"

namespace berth::image {

namespace {

// A tar header block: checksum over the 512 bytes with the checksum field
// taken as spaces (POSIX ustar; also true of v7 and GNU headers).
bool tar_header_ok(const unsigned char* b) {
  bool zero = true;
  for (int i = 0; i < 512 && zero; i++) zero = b[i] == 0;
  if (zero) return true;  // an empty archive is two zero blocks
  unsigned long stored = 0;
  int i = 148;
  while (i < 156 && (b[i] == ' ' || b[i] == 0)) i++;
  for (; i < 156 && b[i] >= '0' && b[i] <= '7'; i++) stored = stored * 8 + (b[i] - '0');
  unsigned long sum = 0;
  for (int k = 0; k < 512; k++) sum += (k >= 148 && k < 156) ? ' ' : b[k];
  return sum == stored;
}

}  // namespace

Result<Imported> import_rootfs(content::Store& store, const std::string& path, const ImportOptions& opt) {
  std::string what = "import " + path;
  RunConfig rc;
  if (auto st = apply_changes(rc, opt.changes); !st.ok()) return std::move(st).error().wrap(what);
  std::string created = opt.created.empty() ? now_rfc3339() : opt.created;
  if (!valid_timestamp(created))
    return Error(Errc::invalid_argument, what + ": created \"" + created.substr(0, 64) + "\" is not RFC 3339");

  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return sys_error(what + ": open");
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return sys_error(what + ": stat");
  if (S_ISDIR(st.st_mode)) return Error(Errc::invalid_argument, what + ": is a directory, not a tarball");
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);

  std::vector<char> buf(1 << 20);
  TRY_ASSIGN(size_t n, read_full(fd.get(), buf.data(), buf.size()));
  if (n == 0) return Error(Errc::invalid_input, what + ": empty file");
  auto sn = detail::sniff(std::string_view(buf.data(), n));
  media::Compression comp = media::Compression::none;
  if (sn == detail::Sniffed::gzip) comp = media::Compression::gzip;
  else if (sn == detail::Sniffed::zstd) comp = media::Compression::zstd;
  else if (sn != detail::Sniffed::none)
    return Error(Errc::unsupported, what + ": " + detail::sniffed_name(sn) +
                                        "-compressed tarballs are not supported (use tar, gzip or zstd)");

  TRY_ASSIGN(auto dec, detail::Decompressor::create(comp, what));
  TRY_ASSIGN(content::Writer w, store.writer());
  Hasher diff;
  unsigned char head[512];
  size_t head_len = 0;
  detail::Sink sink = [&](const char* p, size_t len) -> Status {
    if (head_len < sizeof head) {
      size_t k = std::min(len, sizeof head - head_len);
      std::memcpy(head + head_len, p, k);
      head_len += k;
    }
    diff.update(p, len);
    return Status{};
  };
  while (n > 0) {
    TRY(w.write(buf.data(), n));
    TRY(dec->feed(buf.data(), n, sink));
    if (head_len == sizeof head && !tar_header_ok(head))
      return Error(Errc::invalid_input, what + ": not a tar archive" +
                                            (comp == media::Compression::none ? std::string() :
                                             std::string(" (after ") + media::compression_name(comp) + " decompression)"));
    TRY_ASSIGN(n, read_full(fd.get(), buf.data(), buf.size()));
  }
  TRY(dec->finish(sink));
  if (head_len < sizeof head) return Error(Errc::invalid_input, what + ": too short to be a tar archive");
  uint64_t layer_size = w.offset();
  TRY_ASSIGN(Digest layer_digest, w.commit());

  Imported out;
  out.diff_id = diff.finish();
  out.layer.media_type = std::string(media::oci_layer_type(comp));
  out.layer.digest = layer_digest;
  out.layer.size = layer_size;

  ImageConfig cfg;
  cfg.created = created;
  Platform p = normalize(opt.platform);
  cfg.architecture = p.architecture;
  cfg.os = p.os;
  // arm64's v8 is the default; images conventionally omit it.
  cfg.variant = (p.architecture == "arm64" && p.variant == "v8") ? "" : p.variant;
  cfg.config = std::move(rc);
  cfg.diff_ids = {out.diff_id};
  History h;
  h.created = created;
  h.created_by = "berth import " + (opt.source.empty() ? path : opt.source);
  h.comment = opt.comment;
  cfg.history.push_back(std::move(h));
  std::string cbytes = serialize(cfg);
  TRY(store.put(cbytes));
  out.config = Descriptor::of(media::kOciConfig, cbytes);

  Manifest m;
  m.media_type = std::string(media::kOciManifest);
  m.config = out.config;
  m.layers = {out.layer};
  std::string mbytes = serialize(m);
  TRY(store.put(mbytes));
  out.manifest = Descriptor::of(media::kOciManifest, mbytes);
  return out;
}

}  // namespace berth::image
