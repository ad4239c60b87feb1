#include "layer/pgzip.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <thread>

namespace berth::layer::detail {

namespace {

struct Piece {
  const char* in = nullptr;
  size_t len = 0;
  const char* dict = nullptr;
  size_t dict_len = 0;
  bool last = false;
  int level = Z_DEFAULT_COMPRESSION;
  std::string out;
  uint32_t crc = 0;
  bool ok = false;
};

void deflate_piece(Piece& p) {
  z_stream z;
  std::memset(&z, 0, sizeof z);
  if (deflateInit2(&z, p.level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) return;
  if (p.dict_len &&
      deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(p.dict), static_cast<uInt>(p.dict_len)) != Z_OK) {
    deflateEnd(&z);
    return;
  }
  p.out.resize(deflateBound(&z, p.len) + 64);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(p.in));
  z.avail_in = static_cast<uInt>(p.len);
  z.next_out = reinterpret_cast<Bytef*>(p.out.data());
  z.avail_out = static_cast<uInt>(p.out.size());
  int rc = deflate(&z, p.last ? Z_FINISH : Z_SYNC_FLUSH);
  bool done = p.last ? rc == Z_STREAM_END : (rc == Z_OK && z.avail_in == 0 && z.avail_out > 0);
  p.out.resize(p.out.size() - z.avail_out);
  deflateEnd(&z);
  p.crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(p.in), static_cast<uInt>(p.len)));
  p.ok = done;
}

void put_le32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; i++) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

struct ParallelGzip::Batch {
  std::string data;
  std::string dict;  // for the first piece
  std::vector<Piece> pieces;
  std::vector<std::thread> threads;
};

ParallelGzip::ParallelGzip(int level, unsigned threads, Emit emit)
    : level_(level < 0 ? Z_DEFAULT_COMPRESSION : level), threads_(std::max(1u, threads)), emit_(std::move(emit)) {}

ParallelGzip::~ParallelGzip() {
  if (inflight_)
    for (auto& t : inflight_->threads) t.join();
}

Status ParallelGzip::write(const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  size_t batch = kBlock * kBlocksPerThread * threads_;
  while (len > 0) {
    size_t n = std::min(len, batch - pending_.size());
    pending_.append(p, n);
    p += n;
    len -= n;
    // Keep a full batch back until more data arrives: the final block must be
    // the one that carries the end-of-stream marker.
    if (pending_.size() == batch && len > 0) TRY(flush_batch(false));
  }
  return Status{};
}

Status ParallelGzip::complete(Batch& b) {
  for (auto& t : b.threads) t.join();
  b.threads.clear();
  for (auto& pc : b.pieces) {
    if (!pc.ok) return Error(Errc::internal, "gzip: deflate failed");
    TRY(emit_(pc.out.data(), pc.out.size()));
    crc_ = static_cast<uint32_t>(crc32_combine(crc_, pc.crc, static_cast<z_off_t>(pc.len)));
    total_ += pc.len;
  }
  return Status{};
}

Status ParallelGzip::flush_batch(bool final) {
  if (!header_done_) {
    // mtime 0, no name, OS unix: equal input, equal bytes.
    static const char hdr[10] = {'\x1f', '\x8b', 8, 0, 0, 0, 0, 0, 0, 3};
    TRY(emit_(hdr, sizeof hdr));
    header_done_ = true;
  }
  auto b = std::make_unique<Batch>();
  b->data = std::move(pending_);
  pending_.clear();
  b->dict = dict_;
  const std::string& in = b->data;
  for (size_t off = 0; off < in.size() || (final && b->pieces.empty()); off += kBlock) {
    Piece pc;
    pc.in = in.data() + off;
    pc.len = std::min(kBlock, in.size() - std::min(off, in.size()));
    pc.level = level_;
    if (off == 0) {
      pc.dict = b->dict.data();
      pc.dict_len = b->dict.size();
    } else {
      size_t d = std::min(kDict, off);
      pc.dict = in.data() + off - d;
      pc.dict_len = d;
    }
    b->pieces.push_back(pc);
    if (pc.len == 0) break;
  }
  if (final) b->pieces.back().last = true;
  // The dictionary for the next batch: the last kDict bytes seen so far.
  if (in.size() >= kDict) {
    dict_.assign(in.data() + in.size() - kDict, kDict);
  } else {
    dict_ += in;
    if (dict_.size() > kDict) dict_.erase(0, dict_.size() - kDict);
  }
  // Finish the previous batch (its output precedes ours), then start ours.
  if (inflight_) {
    auto prev = std::move(inflight_);
    TRY(complete(*prev));
  }
  size_t per = (b->pieces.size() + threads_ - 1) / threads_;
  for (size_t first = 0; first < b->pieces.size(); first += per) {
    Batch* bp = b.get();
    size_t last = std::min(first + per, bp->pieces.size());
    bp->threads.emplace_back([bp, first, last] {
      for (size_t i = first; i < last; i++) deflate_piece(bp->pieces[i]);
    });
  }
  inflight_ = std::move(b);
  if (final) {
    auto cur = std::move(inflight_);
    TRY(complete(*cur));
    std::string trailer;
    put_le32(trailer, crc_);
    put_le32(trailer, static_cast<uint32_t>(total_));
    TRY(emit_(trailer.data(), trailer.size()));
  }
  return Status{};
}

Status ParallelGzip::finish() { return flush_batch(true); }

}  // namespace berth::layer::detail
