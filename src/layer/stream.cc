#include "layer/stream.h"

#include <fcntl.h>
#include <isa-l/igzip_lib.h>
#include <zstd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "base/fs.h"

namespace berth::layer {

const char* compression_name(Compression c) {
  switch (c) {
    case Compression::none: return "none";
    case Compression::gzip: return "gzip";
    case Compression::zstd: return "zstd";
  }
  return "?";
}

Compression detect_compression(const void* data, size_t len) {
  auto* p = static_cast<const unsigned char*>(data);
  if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b) return Compression::gzip;
  if (len >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd) return Compression::zstd;
  return Compression::none;
}

}  // namespace berth::layer

namespace berth::layer::detail {

namespace {

constexpr size_t kPool = 6;        // chunks in flight between the two threads
constexpr size_t kInBuf = 1u << 20;  // compressed read size

// Chunk storage is not zero-initialized: it is always written before it is read.
struct Chunk {
  struct Buf {
    std::unique_ptr<char[]> p{new char[TarStream::kChunk]};
    char* data() { return p.get(); }
    size_t size() const { return TarStream::kChunk; }
  } data;
  size_t len = 0;
};

}  // namespace

struct TarStream::Impl {
  UniqueFd fd;
  DigestAlg alg;
  uint64_t max_tar_bytes;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Chunk*> free_q, ready_q;
  bool producer_done = false;
  bool cancelled = false;
  std::optional<Error> error;
  Chunk chunks[kPool];
  Chunk* held = nullptr;  // the chunk the consumer is reading

  // Written by the producer before its first chunk is published, read by the
  // consumer after taking a chunk (ordered by the mutex).
  Compression compression = Compression::none;
  StreamSummary summary;  // producer-owned fields: blob digest, compressed size
  Hasher diff_hasher;     // consumer-owned
  uint64_t uncompressed = 0;
  std::thread worker;

  Impl(UniqueFd f, DigestAlg a, uint64_t max) : fd(std::move(f)), alg(a), max_tar_bytes(max), diff_hasher(a) {
    for (auto& c : chunks) free_q.push_back(&c);
  }

  // Producer side ------------------------------------------------------------
  Chunk* take_free() {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return cancelled || !free_q.empty(); });
    if (cancelled) return nullptr;
    Chunk* c = free_q.front();
    free_q.pop_front();
    return c;
  }
  void publish(Chunk* c) {
    std::lock_guard lk(mu);
    ready_q.push_back(c);
    cv.notify_all();
  }
  void fail(Error e) {
    std::lock_guard lk(mu);
    if (!error) error = std::move(e);
    producer_done = true;
    cv.notify_all();
  }
  void done() {
    std::lock_guard lk(mu);
    producer_done = true;
    cv.notify_all();
  }

  void run();
  Status run_plain(Chunk* first, Hasher& blob);
  Status run_gzip(std::vector<char>& in, size_t in_len, Hasher& blob);
  Status run_zstd(std::vector<char>& in, size_t in_len, Hasher& blob);
  Result<size_t> read_in(std::vector<char>& in, Hasher& blob) {
    TRY_ASSIGN(size_t n, read_full(fd.get(), in.data(), in.size()));
    blob.update(in.data(), n);
    summary.compressed_size += n;
    return n;
  }
  Status count_out(size_t n) {
    uncompressed += n;
    if (uncompressed > max_tar_bytes)
      return Error(Errc::limit, "decompressed layer exceeds the limit of " + std::to_string(max_tar_bytes) + " bytes");
    return Status{};
  }
};

void TarStream::Impl::run() {
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  Hasher blob(alg);
  // Sniff the magic from the first read; for plain tar that read already is tar data.
  Chunk* first = take_free();
  if (!first) return done();
  auto n = read_full(fd.get(), first->data.data(), first->data.size());
  if (!n) return fail(std::move(n).error().wrap("read layer"));
  first->len = *n;
  blob.update(first->data.data(), first->len);
  summary.compressed_size = first->len;
  {
    std::lock_guard lk(mu);
    compression = detect_compression(first->data.data(), first->len);
  }
  Status st;
  if (compression == Compression::none) {
    st = run_plain(first, blob);
  } else {
    std::vector<char> in(kInBuf);
    size_t in_len = first->len;
    std::memcpy(in.data(), first->data.data(), in_len);
    {
      std::lock_guard lk(mu);
      free_q.push_back(first);
    }
    st = compression == Compression::gzip ? run_gzip(in, in_len, blob) : run_zstd(in, in_len, blob);
  }
  if (!st) return fail(std::move(st).error());
  summary.blob_digest = blob.finish();
  done();
}

Status TarStream::Impl::run_plain(Chunk* c, Hasher& blob) {
  for (;;) {
    TRY(count_out(c->len));
    bool eof = c->len < c->data.size();
    if (c->len) publish(c);
    if (eof) return Status{};
    c = take_free();
    if (!c) return Status{};
    TRY_ASSIGN(c->len, read_full(fd.get(), c->data.data(), c->data.size()));
    blob.update(c->data.data(), c->len);
    summary.compressed_size += c->len;
  }
}

// Multi-member gzip (pigz --independent, concatenated streams) is valid gzip:
// after each member ends, another may follow. Zero padding after the last
// member is tolerated; anything else is refused.
Status TarStream::Impl::run_gzip(std::vector<char>& in, size_t in_len, Hasher& blob) {
  auto st = std::make_unique<inflate_state>();
  isal_inflate_init(st.get());
  st->crc_flag = ISAL_GZIP;
  st->next_in = reinterpret_cast<uint8_t*>(in.data());
  st->avail_in = static_cast<uint32_t>(in_len);
  bool eof = in_len < in.size();
  bool member_open = true;
  Chunk* out = nullptr;
  for (;;) {
    if (!out) {
      out = take_free();
      if (!out) return Status{};
      out->len = 0;
    }
    if (st->avail_in == 0 && !eof) {
      TRY_ASSIGN(size_t n, read_in(in, blob));
      eof = n < in.size();
      st->next_in = reinterpret_cast<uint8_t*>(in.data());
      st->avail_in = static_cast<uint32_t>(n);
    }
    if (!member_open) {
      if (st->avail_in == 0 && eof) break;
      if (st->avail_in < 2 && !eof) {  // need two bytes for the magic; rare, handle simply
        std::memmove(in.data(), st->next_in, st->avail_in);
        size_t have = st->avail_in;
        TRY_ASSIGN(size_t n, read_full(fd.get(), in.data() + have, in.size() - have));
        blob.update(in.data() + have, n);
        summary.compressed_size += n;
        eof = have + n < in.size();
        st->next_in = reinterpret_cast<uint8_t*>(in.data());
        st->avail_in = static_cast<uint32_t>(have + n);
        continue;
      }
      if (st->avail_in >= 2 && st->next_in[0] == 0x1f && st->next_in[1] == 0x8b) {
        uint8_t* ni = st->next_in;
        uint32_t ai = st->avail_in;
        isal_inflate_reset(st.get());
        st->crc_flag = ISAL_GZIP;
        st->next_in = ni;
        st->avail_in = ai;
        member_open = true;
        continue;
      }
      if (st->next_in[0] != 0) return Error(Errc::invalid_input, "gzip: trailing garbage after the last member");
      while (st->avail_in > 0 && st->next_in[0] == 0) {  // zero padding (tape-style block fill)
        st->next_in++;
        st->avail_in--;
      }
      continue;
    }
    st->next_out = reinterpret_cast<uint8_t*>(out->data.data() + out->len);
    st->avail_out = static_cast<uint32_t>(out->data.size() - out->len);
    int rc = isal_inflate(st.get());
    if (rc != ISAL_DECOMP_OK) return Error(Errc::invalid_input, "gzip: corrupt data (isa-l error " + std::to_string(rc) + ")");
    size_t produced = (out->data.size() - out->len) - st->avail_out;
    out->len += produced;
    TRY(count_out(produced));
    if (st->block_state == ISAL_BLOCK_FINISH) member_open = false;
    if (out->len == out->data.size()) {
      publish(out);
      out = nullptr;
    } else if (member_open && st->avail_in == 0 && eof) {
      return Error(Errc::invalid_input, "gzip: unexpected end of compressed data");
    }
  }
  if (out && out->len) publish(out);
  else if (out) {
    std::lock_guard lk(mu);
    free_q.push_back(out);
  }
  return Status{};
}

Status TarStream::Impl::run_zstd(std::vector<char>& in, size_t in_len, Hasher& blob) {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!dctx) return Error(Errc::internal, "zstd: out of memory");
  // Bound the window a hostile frame may ask for (128 MiB, zstd's default cap).
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, 27);
  ZSTD_inBuffer ib{in.data(), in_len, 0};
  bool eof = in_len < in.size();
  size_t last_rc = 0;
  Chunk* out = nullptr;
  for (;;) {
    if (ib.pos == ib.size) {
      if (eof) break;
      TRY_ASSIGN(size_t n, read_in(in, blob));
      eof = n < in.size();
      ib = ZSTD_inBuffer{in.data(), n, 0};
      if (n == 0) break;
    }
    if (!out) {
      out = take_free();
      if (!out) return Status{};
      out->len = 0;
    }
    ZSTD_outBuffer ob{out->data.data() + out->len, out->data.size() - out->len, 0};
    last_rc = ZSTD_decompressStream(dctx.get(), &ob, &ib);
    if (ZSTD_isError(last_rc)) return Error(Errc::invalid_input, std::string("zstd: ") + ZSTD_getErrorName(last_rc));
    out->len += ob.pos;
    TRY(count_out(ob.pos));
    if (out->len == out->data.size()) {
      publish(out);
      out = nullptr;
    }
  }
  // Flush what the decoder still buffers when the input ran out exactly at a block.
  while (last_rc != 0) {
    if (!out) {
      out = take_free();
      if (!out) return Status{};
      out->len = 0;
    }
    ZSTD_outBuffer ob{out->data.data() + out->len, out->data.size() - out->len, 0};
    ZSTD_inBuffer empty{nullptr, 0, 0};
    last_rc = ZSTD_decompressStream(dctx.get(), &ob, &empty);
    if (ZSTD_isError(last_rc)) return Error(Errc::invalid_input, std::string("zstd: ") + ZSTD_getErrorName(last_rc));
    out->len += ob.pos;
    TRY(count_out(ob.pos));
    if (ob.pos == 0 && last_rc != 0) return Error(Errc::invalid_input, "zstd: truncated frame");
    if (out->len == out->data.size()) {
      publish(out);
      out = nullptr;
    }
  }
  if (out && out->len) publish(out);
  else if (out) {
    std::lock_guard lk(mu);
    free_q.push_back(out);
  }
  return Status{};
}

Result<std::unique_ptr<TarStream>> TarStream::start(UniqueFd fd, DigestAlg alg, uint64_t max_tar_bytes) {
  auto impl = std::make_unique<Impl>(std::move(fd), alg, max_tar_bytes);
  Impl* p = impl.get();
  p->worker = std::thread([p] { p->run(); });
  return std::unique_ptr<TarStream>(new TarStream(std::move(impl)));
}

TarStream::TarStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TarStream::~TarStream() {
  if (!impl_) return;
  {
    std::lock_guard lk(impl_->mu);
    impl_->cancelled = true;
    impl_->cv.notify_all();
  }
  if (impl_->worker.joinable()) impl_->worker.join();
}

Result<std::string_view> TarStream::next() {
  Impl& m = *impl_;
  std::unique_lock lk(m.mu);
  if (m.held) {
    m.free_q.push_back(m.held);
    m.held = nullptr;
    m.cv.notify_all();
  }
  m.cv.wait(lk, [&] { return !m.ready_q.empty() || m.producer_done; });
  if (m.error) return *m.error;
  if (m.ready_q.empty()) return std::string_view{};
  m.held = m.ready_q.front();
  m.ready_q.pop_front();
  bool hash = m.compression != Compression::none;
  lk.unlock();
  // For plain tar the blob digest is the diff_id; hash once.
  if (hash) m.diff_hasher.update(m.held->data.data(), m.held->len);
  return std::string_view(m.held->data.data(), m.held->len);
}

Result<StreamSummary> TarStream::finish() {
  for (;;) {
    TRY_ASSIGN(auto chunk, next());
    if (chunk.empty()) break;
  }
  Impl& m = *impl_;
  if (m.worker.joinable()) m.worker.join();
  StreamSummary s = m.summary;
  s.compression = m.compression;
  s.uncompressed_size = m.uncompressed;
  s.diff_id = m.compression == Compression::none ? s.blob_digest : m.diff_hasher.finish();
  return s;
}

}  // namespace berth::layer::detail
