// Compressing uncompressed layers on their way to a registry (gzip via
// ISA-L's igzip at level 1: several times faster than zlib for a ratio close
// to zlib's level 4-5; zstd via libzstd with worker threads), several layers
// at once, and rewriting the manifest.
#include <fcntl.h>
#include <isa-l/igzip_lib.h>
#include <zstd.h>

#include <mutex>

#include <thread>
#include <vector>

#include "base/fs.h"
#include "transport/copy_internal.h"

namespace berth::transport::detail {

namespace {

constexpr size_t kBuf = 1 << 20;

// Streams `in` through the codec into a content Writer (hashed and verified
// on commit like any other blob).
Result<image::Descriptor> compress_one(content::Store& cs, const image::Descriptor& in, image::media::Compression c,
                                       std::string_view media_type) {
  const std::string what = "compressing layer " + in.digest.str();
  TRY_ASSIGN(UniqueFd fd, cs.open_blob(in.digest));
  TRY_ASSIGN(content::Writer w, cs.writer("", in.digest.alg()));
  std::vector<char> ib(kBuf), ob(kBuf);
  if (c == image::media::Compression::gzip) {
    isal_zstream z;
    isal_deflate_init(&z);
    std::vector<uint8_t> level_buf(ISAL_DEF_LVL1_DEFAULT);
    z.level = 1;
    z.level_buf = level_buf.data();
    z.level_buf_size = static_cast<uint32_t>(level_buf.size());
    z.gzip_flag = IGZIP_GZIP;
    z.flush = NO_FLUSH;
    while (z.internal_state.state != ZSTATE_END) {
      TRY_ASSIGN(size_t n, read_full(fd.get(), ib.data(), ib.size()));
      z.end_of_stream = n < ib.size() ? 1 : 0;
      z.next_in = reinterpret_cast<uint8_t*>(ib.data());
      z.avail_in = static_cast<uint32_t>(n);
      do {
        z.next_out = reinterpret_cast<uint8_t*>(ob.data());
        z.avail_out = static_cast<uint32_t>(ob.size());
        if (int rc = isal_deflate(&z); rc != COMP_OK)
          return Error(Errc::internal, what + ": isal_deflate failed (" + std::to_string(rc) + ")");
        TRY(w.write(ob.data(), ob.size() - z.avail_out));
      } while (z.avail_out == 0);
    }
  } else {
    std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
    if (!cctx) return Error(Errc::internal, what + ": ZSTD_createCCtx failed");
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, 3);
    unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_nbWorkers, static_cast<int>(hw));  // ignored by single-threaded builds
    for (bool eof = false; !eof;) {
      TRY_ASSIGN(size_t n, read_full(fd.get(), ib.data(), ib.size()));
      eof = n < ib.size();
      ZSTD_inBuffer zi{ib.data(), n, 0};
      size_t left;
      do {
        ZSTD_outBuffer zo{ob.data(), ob.size(), 0};
        left = ZSTD_compressStream2(cctx.get(), &zo, &zi, eof ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left)) return Error(Errc::internal, what + ": " + ZSTD_getErrorName(left));
        TRY(w.write(ob.data(), zo.pos));
      } while (eof ? left != 0 : zi.pos < zi.size);
    }
  }
  uint64_t size = w.offset();
  TRY_ASSIGN(Digest d, w.commit());
  image::Descriptor out = in;
  out.media_type = std::string(media_type);
  out.digest = d;
  out.size = size;
  return out;
}

}  // namespace

Status compress_layers(content::Store& cs, Plan& plan, image::media::Compression c, ProgressSink* progress) {
  if (c == image::media::Compression::none || plan.index || plan.manifests.size() != 1) return {};
  PlannedManifest& pm = plan.manifests[0];
  image::Manifest m = pm.manifest;
  std::vector<std::function<Status()>> tasks;
  std::mutex mu;
  bool changed = false;
  for (auto& l : m.layers) {
    auto lt = image::media::classify_layer(l.media_type);
    if (!lt.known || lt.compression != image::media::Compression::none || lt.non_distributable) continue;
    std::string_view mt;
    if (m.is_docker()) {
      if (c != image::media::Compression::gzip)
        return Error(Errc::unsupported, "manifest " + pm.desc.digest.str() +
                                            ": Docker schema 2 layers can only be gzip-compressed; use --compression-format gzip");
      mt = image::media::kDockerLayerGzip;
    } else {
      mt = image::media::oci_layer_type(c);
    }
    changed = true;
    tasks.push_back([&cs, &l, &mu, c, mt, progress]() -> Status {
      if (progress) progress->blob_start(l, "Compressing blob");
      TRY_ASSIGN(image::Descriptor nl, compress_one(cs, l, c, mt));
      if (progress) progress->blob_done(l, std::string("compressed to ") + nl.digest.str().substr(7, 12));
      std::lock_guard g(mu);
      l = nl;
      return {};
    });
  }
  // One layer per core: each codec stream is single-threaded (zstd's workers aside).
  TRY(run_parallel(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())), tasks));
  if (!changed) return {};
  // A new document: the layers differ, so does the digest (configs keep diff_ids).
  m.raw.clear();
  std::string bytes = image::serialize(m);
  image::Descriptor nd = pm.desc;
  nd.digest = Digest::of(bytes);
  nd.size = bytes.size();
  nd.media_type = image::media_type_of(m);
  TRY(cs.put(bytes, nd.digest));
  TRY_ASSIGN(image::Manifest reparsed, image::parse_manifest(bytes, &nd));
  pm.desc = nd;
  pm.manifest = std::move(reparsed);
  plan.top = nd;
  return {};
}

}  // namespace berth::transport::detail
