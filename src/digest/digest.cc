#include "digest/digest.h"

// Before the header: the low-level API is deprecated (see Hasher::Impl).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <cstring>

namespace berth {

Result<Digest> Digest::parse(std::string_view s) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos)
    return Error(Errc::invalid_input, "invalid digest \"" + std::string(s.substr(0, 80)) + "\": missing algorithm");
  auto alg = s.substr(0, colon);
  auto hex = s.substr(colon + 1);
  DigestAlg a;
  size_t want;
  if (alg == "sha256") {
    a = DigestAlg::sha256;
    want = 64;
  } else if (alg == "sha512") {
    a = DigestAlg::sha512;
    want = 128;
  } else {
    return Error(Errc::unsupported, "invalid digest \"" + std::string(s.substr(0, 80)) + "\": unsupported algorithm \"" +
                                        std::string(alg.substr(0, 32)) + "\"");
  }
  if (hex.size() != want)
    return Error(Errc::invalid_input, "invalid digest \"" + std::string(s.substr(0, 160)) + "\": " + std::string(alg) +
                                          " needs " + std::to_string(want) + " hex characters, got " +
                                          std::to_string(hex.size()));
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return Error(Errc::invalid_input,
                   "invalid digest \"" + std::string(s.substr(0, 160)) + "\": encoded part must be lowercase hex");
  return Digest(a, std::string(hex));
}

Digest Digest::of(std::string_view data, DigestAlg alg) {
  Hasher h(alg);
  h.update(data);
  return h.finish();
}

// OpenSSL's low-level SHA256_/SHA512_ functions, not EVP: the first EVP
// digest of a process loads openssl.cnf and initialises the default provider,
// ~1.1 ms of every berth command (0.6 ms even without the config file), while
// these run the same assembly (SHA-NI/AVX2 picked by OPENSSL_ia32cap) with no
// set-up: measured +0.1 ms for a first digest, equal throughput on 1 GiB
// (docs/benchmarks.md, "berth start-up"). They are deprecated in OpenSSL 3.0
// but present in every 3.x; without them (OPENSSL_NO_DEPRECATED_3_0) the
// build fails here, which is where EVP would have to come back.
struct Hasher::Impl {
  union {
    SHA256_CTX s256;
    SHA512_CTX s512;
  } u;
  void init(DigestAlg a) {
    if (a == DigestAlg::sha256) SHA256_Init(&u.s256);
    else SHA512_Init(&u.s512);
  }
};

Hasher::Hasher(DigestAlg alg) : impl_(std::make_unique<Impl>()), alg_(alg) { impl_->init(alg_); }
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(const void* data, size_t len) {
  if (alg_ == DigestAlg::sha256) SHA256_Update(&impl_->u.s256, data, len);
  else SHA512_Update(&impl_->u.s512, data, len);
  bytes_ += len;
}

std::string Hasher::midstate() const {
  if (alg_ == DigestAlg::sha256) return std::string(reinterpret_cast<const char*>(&impl_->u.s256), sizeof(SHA256_CTX));
  return std::string(reinterpret_cast<const char*>(&impl_->u.s512), sizeof(SHA512_CTX));
}

std::optional<Hasher> Hasher::resume(DigestAlg alg, uint64_t bytes, std::string_view midstate) {
  Hasher h(alg);
  h.bytes_ = bytes;
  // The context's own counters must agree with the offset: a state saved by
  // a build with another struct layout cannot pass.
  if (alg == DigestAlg::sha256) {
    if (midstate.size() != sizeof(SHA256_CTX)) return std::nullopt;
    std::memcpy(&h.impl_->u.s256, midstate.data(), sizeof(SHA256_CTX));
    const SHA256_CTX& c = h.impl_->u.s256;
    uint64_t bits = (static_cast<uint64_t>(c.Nh) << 32) | c.Nl;
    if (bits != bytes * 8 || c.num != bytes % SHA256_CBLOCK || c.md_len != SHA256_DIGEST_LENGTH) return std::nullopt;
  } else {
    if (midstate.size() != sizeof(SHA512_CTX)) return std::nullopt;
    std::memcpy(&h.impl_->u.s512, midstate.data(), sizeof(SHA512_CTX));
    const SHA512_CTX& c = h.impl_->u.s512;
    if (c.Nh != 0 || c.Nl != bytes * 8 || c.num != bytes % SHA512_CBLOCK || c.md_len != SHA512_DIGEST_LENGTH)
      return std::nullopt;
  }
  return h;
}

Digest Hasher::finish() {
  unsigned char md[SHA512_DIGEST_LENGTH];
  unsigned n = alg_ == DigestAlg::sha256 ? SHA256_DIGEST_LENGTH : SHA512_DIGEST_LENGTH;
  if (alg_ == DigestAlg::sha256) SHA256_Final(md, &impl_->u.s256);
  else SHA512_Final(md, &impl_->u.s512);
  static const char* hexd = "0123456789abcdef";
  std::string hex(n * 2, '0');
  for (unsigned i = 0; i < n; i++) {
    hex[2 * i] = hexd[md[i] >> 4];
    hex[2 * i + 1] = hexd[md[i] & 15];
  }
  impl_->init(alg_);
  bytes_ = 0;
  return Digest(alg_, std::move(hex));
}

}  // namespace berth
