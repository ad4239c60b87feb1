#include "digest/digest.h"

#include <openssl/evp.h>

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

struct Hasher::Impl {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

static const EVP_MD* md_for(DigestAlg a) { return a == DigestAlg::sha256 ? EVP_sha256() : EVP_sha512(); }

Hasher::Hasher(DigestAlg alg) : impl_(std::make_unique<Impl>()), alg_(alg) {
  EVP_DigestInit_ex(impl_->ctx, md_for(alg_), nullptr);
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(const void* data, size_t len) {
  EVP_DigestUpdate(impl_->ctx, data, len);
  bytes_ += len;
}

Digest Hasher::finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(impl_->ctx, md, &n);
  static const char* hexd = "0123456789abcdef";
  std::string hex(n * 2, '0');
  for (unsigned i = 0; i < n; i++) {
    hex[2 * i] = hexd[md[i] >> 4];
    hex[2 * i + 1] = hexd[md[i] & 15];
  }
  EVP_DigestInit_ex(impl_->ctx, md_for(alg_), nullptr);
  bytes_ = 0;
  return Digest(alg_, std::move(hex));
}

}  // namespace berth
