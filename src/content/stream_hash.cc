// berth/content: StreamHash over OpenSSL's SHA256_CTX / SHA512_CTX.
#define OPENSSL_SUPPRESS_DEPRECATED  // SHA*_Init/Update/Final: see stream_hash.h for why
#include "content/stream_hash.h"

#include <openssl/sha.h>

#include <cstring>

namespace berth::content::detail {

namespace {
// Not SHA256(): in OpenSSL 3 the one-shot goes through EVP_Q_digest, which
// would link the whole provider machinery into berth (see berth_sha).
void sha256_of(const void* data, size_t len, unsigned char* md) {
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, data, len);
  SHA256_Final(md, &c);
}
}  // namespace

struct StreamHash::Ctx {
  SHA256_CTX s256;
  SHA512_CTX s512;
};

namespace {
// Layout: magic | alg (1 byte) | offset (8) | ctx bytes | sha256 of all preceding bytes.
constexpr char kMagic[8] = {'B', 'H', 'S', 'T', 'A', 'T', 'E', '1'};
constexpr size_t kHeader = sizeof kMagic + 1 + 8;

size_t ctx_size(DigestAlg a) { return a == DigestAlg::sha256 ? sizeof(SHA256_CTX) : sizeof(SHA512_CTX); }
}  // namespace

StreamHash::StreamHash(DigestAlg alg) : alg_(alg), ctx_(std::make_unique<Ctx>()) {
  if (alg_ == DigestAlg::sha256) SHA256_Init(&ctx_->s256);
  else SHA512_Init(&ctx_->s512);
}
StreamHash::~StreamHash() = default;
StreamHash::StreamHash(StreamHash&&) noexcept = default;
StreamHash& StreamHash::operator=(StreamHash&&) noexcept = default;

void StreamHash::update(const void* data, size_t len) {
  if (alg_ == DigestAlg::sha256) SHA256_Update(&ctx_->s256, data, len);
  else SHA512_Update(&ctx_->s512, data, len);
  bytes_ += len;
}

Digest StreamHash::finish() {
  unsigned char md[SHA512_DIGEST_LENGTH];
  size_t n;
  if (alg_ == DigestAlg::sha256) {
    SHA256_Final(md, &ctx_->s256);
    n = SHA256_DIGEST_LENGTH;
  } else {
    SHA512_Final(md, &ctx_->s512);
    n = SHA512_DIGEST_LENGTH;
  }
  static const char* hexd = "0123456789abcdef";
  std::string s = alg_ == DigestAlg::sha256 ? "sha256:" : "sha512:";
  for (size_t i = 0; i < n; i++) {
    s += hexd[md[i] >> 4];
    s += hexd[md[i] & 15];
  }
  return *Digest::parse(s);  // well-formed by construction
}

std::string StreamHash::save() const {
  std::string out(kMagic, sizeof kMagic);
  out += static_cast<char>(alg_ == DigestAlg::sha256 ? 1 : 2);
  out.append(reinterpret_cast<const char*>(&bytes_), 8);
  if (alg_ == DigestAlg::sha256) out.append(reinterpret_cast<const char*>(&ctx_->s256), sizeof(SHA256_CTX));
  else out.append(reinterpret_cast<const char*>(&ctx_->s512), sizeof(SHA512_CTX));
  unsigned char check[SHA256_DIGEST_LENGTH];
  sha256_of(out.data(), out.size(), check);
  out.append(reinterpret_cast<const char*>(check), sizeof check);
  return out;
}

std::optional<StreamHash> StreamHash::load(std::string_view saved, DigestAlg alg) {
  const size_t body = kHeader + ctx_size(alg);
  if (saved.size() != body + SHA256_DIGEST_LENGTH) return std::nullopt;
  if (std::memcmp(saved.data(), kMagic, sizeof kMagic) != 0) return std::nullopt;
  if (saved[sizeof kMagic] != (alg == DigestAlg::sha256 ? 1 : 2)) return std::nullopt;
  unsigned char check[SHA256_DIGEST_LENGTH];
  sha256_of(saved.data(), body, check);
  if (std::memcmp(check, saved.data() + body, sizeof check) != 0) return std::nullopt;
  uint64_t at;
  std::memcpy(&at, saved.data() + sizeof kMagic + 1, 8);
  StreamHash h(alg);
  h.bytes_ = at;
  const char* ctx = saved.data() + kHeader;
  // The context's own counters must agree with the offset: a state saved by
  // a build with another struct layout cannot pass.
  if (alg == DigestAlg::sha256) {
    std::memcpy(&h.ctx_->s256, ctx, sizeof(SHA256_CTX));
    const SHA256_CTX& c = h.ctx_->s256;
    uint64_t bits = (static_cast<uint64_t>(c.Nh) << 32) | c.Nl;
    if (bits != at * 8 || c.num != at % SHA256_CBLOCK || c.md_len != SHA256_DIGEST_LENGTH) return std::nullopt;
  } else {
    std::memcpy(&h.ctx_->s512, ctx, sizeof(SHA512_CTX));
    const SHA512_CTX& c = h.ctx_->s512;
    if (c.Nh != 0 || c.Nl != at * 8 || c.num != at % SHA512_CBLOCK || c.md_len != SHA512_DIGEST_LENGTH)
      return std::nullopt;
  }
  return h;
}

}  // namespace berth::content::detail
