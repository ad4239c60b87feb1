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

ParallelGzip::ParallelGzip(int level, unsigned threads, Emit emit)
    : level_(level < 0 ? Z_DEFAULT_COMPRESSION : level), threads_(std::max(1u, threads)), emit_(std::move(emit)) {}

Status ParallelGzip::write(const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  size_t batch = kBlock * threads_;
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

Status ParallelGzip::flush_batch(bool final) {
  if (!header_done_) {
    // mtime 0, no name, OS unix: equal input, equal bytes.
    static const char hdr[10] = {'\x1f', '\x8b', 8, 0, 0, 0, 0, 0, 0, 3};
    TRY(emit_(hdr, sizeof hdr));
    header_done_ = true;
  }
  std::vector<Piece> pieces;
  for (size_t off = 0; off < pending_.size() || (final && pieces.empty()); off += kBlock) {
    Piece pc;
    pc.in = pending_.data() + off;
    pc.len = std::min(kBlock, pending_.size() - std::min(off, pending_.size()));
    pc.level = level_;
    if (off == 0) {
      pc.dict = dict_.data();
      pc.dict_len = dict_.size();
    } else {
      size_t d = std::min(kDict, off);
      pc.dict = pending_.data() + off - d;
      pc.dict_len = d;
    }
    pieces.push_back(pc);
    if (pc.len == 0) break;
  }
  if (final) pieces.back().last = true;
  if (pieces.size() == 1) {
    deflate_piece(pieces[0]);
  } else {
    std::vector<std::thread> ts;
    for (size_t i = 1; i < pieces.size(); i++) ts.emplace_back(deflate_piece, std::ref(pieces[i]));
    deflate_piece(pieces[0]);
    for (auto& t : ts) t.join();
  }
  for (auto& pc : pieces) {
    if (!pc.ok) return Error(Errc::internal, "gzip: deflate failed");
    TRY(emit_(pc.out.data(), pc.out.size()));
    crc_ = static_cast<uint32_t>(crc32_combine(crc_, pc.crc, static_cast<z_off_t>(pc.len)));
    total_ += pc.len;
  }
  size_t keep = std::min(kDict, pending_.size());
  if (keep == kDict || dict_.size() + keep <= kDict) {
    if (keep == kDict) dict_.assign(pending_.data() + pending_.size() - keep, keep);
    else dict_.append(pending_.data(), keep);
  } else {
    dict_ = (dict_ + pending_).substr(dict_.size() + keep - kDict);
  }
  pending_.clear();
  if (final) {
    std::string trailer;
    put_le32(trailer, crc_);
    put_le32(trailer, static_cast<uint32_t>(total_));
    TRY(emit_(trailer.data(), trailer.size()));
  }
  return Status{};
}

Status ParallelGzip::finish() { return flush_batch(true); }

}  // namespace berth::layer::detail
