#include "image/compress.h"

#include <zlib.h>
#include <zstd.h>

#include <vector>

namespace berth::image::detail {

Sniffed sniff(std::string_view h) {
  auto starts = [&](std::string_view magic) { return h.substr(0, magic.size()) == magic; };
  if (starts("\x1f\x8b")) return Sniffed::gzip;
  if (starts("\x28\xb5\x2f\xfd")) return Sniffed::zstd;
  if (starts(std::string_view("\xfd" "7zXZ\x00", 6))) return Sniffed::xz;
  if (starts("BZh")) return Sniffed::bzip2;
  return Sniffed::none;
}

const char* sniffed_name(Sniffed s) {
  switch (s) {
    case Sniffed::gzip: return "gzip";
    case Sniffed::zstd: return "zstd";
    case Sniffed::xz: return "xz";
    case Sniffed::bzip2: return "bzip2";
    default: return "none";
  }
}

namespace {

constexpr size_t kOut = 256 << 10;

class Identity final : public Decompressor {
 public:
  Status feed(const char* d, size_t n, const Sink& sink) override { return n ? sink(d, n) : Status{}; }
  Status finish(const Sink&) override { return Status{}; }
};

class Gzip final : public Decompressor {
 public:
  explicit Gzip(std::string what) : what_(std::move(what)), out_(kOut) {}
  ~Gzip() override {
    if (init_) inflateEnd(&z_);
  }
  Status init() {
    if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) return Error(Errc::internal, what_ + ": inflateInit failed");
    init_ = true;
    return Status{};
  }
  Status feed(const char* d, size_t n, const Sink& sink) override {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(d));
    z_.avail_in = static_cast<uInt>(n);
    while (z_.avail_in > 0) {
      if (ended_) {
        // Concatenated gzip members (pigz, some registries) form one stream.
        if (inflateReset(&z_) != Z_OK) return Error(Errc::internal, what_ + ": inflateReset failed");
        ended_ = false;
      }
      z_.next_out = reinterpret_cast<Bytef*>(out_.data());
      z_.avail_out = static_cast<uInt>(out_.size());
      int rc = inflate(&z_, Z_NO_FLUSH);
      size_t got = out_.size() - z_.avail_out;
      if (got) TRY(sink(out_.data(), got));
      if (rc == Z_STREAM_END) {
        ended_ = true;
        continue;
      }
      if (rc == Z_BUF_ERROR && got == 0) break;
      if (rc != Z_OK)
        return Error(Errc::invalid_input, what_ + ": corrupt gzip stream: " + std::string(z_.msg ? z_.msg : "inflate error"));
    }
    return Status{};
  }
  Status finish(const Sink&) override {
    if (!ended_) return Error(Errc::invalid_input, what_ + ": truncated gzip stream");
    return Status{};
  }

 private:
  std::string what_;
  std::vector<char> out_;
  z_stream z_{};
  bool init_ = false;
  bool ended_ = false;
};

class Zstd final : public Decompressor {
 public:
  explicit Zstd(std::string what) : what_(std::move(what)), out_(kOut), ctx_(ZSTD_createDCtx()) {}
  ~Zstd() override { ZSTD_freeDCtx(ctx_); }
  Status feed(const char* d, size_t n, const Sink& sink) override {
    if (!ctx_) return Error(Errc::internal, what_ + ": ZSTD_createDCtx failed");
    ZSTD_inBuffer in{d, n, 0};
    while (in.pos < in.size) {
      ZSTD_outBuffer out{out_.data(), out_.size(), 0};
      size_t rc = ZSTD_decompressStream(ctx_, &out, &in);
      if (ZSTD_isError(rc))
        return Error(Errc::invalid_input, what_ + ": corrupt zstd stream: " + ZSTD_getErrorName(rc));
      if (out.pos) TRY(sink(out_.data(), out.pos));
      last_ = rc;
    }
    // Flush whatever the decoder still holds for input already consumed.
    while (true) {
      ZSTD_inBuffer empty{nullptr, 0, 0};
      ZSTD_outBuffer out{out_.data(), out_.size(), 0};
      size_t rc = ZSTD_decompressStream(ctx_, &out, &empty);
      if (ZSTD_isError(rc)) return Error(Errc::invalid_input, what_ + ": corrupt zstd stream: " + ZSTD_getErrorName(rc));
      if (out.pos == 0) break;  // nothing held back; rc would only hint at a next frame
      TRY(sink(out_.data(), out.pos));
      last_ = rc;
      if (out.pos < out.size) break;
    }
    return Status{};
  }
  Status finish(const Sink&) override {
    if (last_ != 0) return Error(Errc::invalid_input, what_ + ": truncated zstd stream");
    return Status{};
  }

 private:
  std::string what_;
  std::vector<char> out_;
  ZSTD_DCtx* ctx_;
  size_t last_ = 1;
};

}  // namespace

Result<std::unique_ptr<Decompressor>> Decompressor::create(media::Compression c, std::string what) {
  switch (c) {
    case media::Compression::gzip: {
      auto g = std::make_unique<Gzip>(std::move(what));
      TRY(g->init());
      return std::unique_ptr<Decompressor>(std::move(g));
    }
    case media::Compression::zstd:
      return std::unique_ptr<Decompressor>(std::make_unique<Zstd>(std::move(what)));
    default:
      return std::unique_ptr<Decompressor>(std::make_unique<Identity>());
  }
}

}  // namespace berth::image::detail
