// berth/digest: content digests ("sha256:<64 hex>", "sha512:<128 hex>").
//
// Promises: Digest::parse accepts only the OCI-registered algorithms with
// lowercase hex of exactly the right length (image-spec descriptor.md
// "Digests"), so a Digest is always safe to use as a path component.
// Hasher streams through OpenSSL's low-level SHA functions (SHA-NI where the
// CPU has it; digest.cc says why not EVP), and can hand out its midstate.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth {

enum class DigestAlg { sha256, sha512 };

class Digest {
 public:
  Digest() = default;
  static Result<Digest> parse(std::string_view s);
  static Digest of(std::string_view data, DigestAlg alg = DigestAlg::sha256);

  DigestAlg alg() const { return alg_; }
  const char* alg_name() const { return alg_ == DigestAlg::sha256 ? "sha256" : "sha512"; }
  const std::string& hex() const { return hex_; }
  std::string str() const { return std::string(alg_name()) + ":" + hex_; }
  std::string encoded_path() const { return std::string(alg_name()) + "/" + hex_; }  // "sha256/<hex>"
  bool empty() const { return hex_.empty(); }

  friend bool operator==(const Digest& a, const Digest& b) { return a.alg_ == b.alg_ && a.hex_ == b.hex_; }
  friend bool operator<(const Digest& a, const Digest& b) {
    return a.alg_ != b.alg_ ? a.alg_ < b.alg_ : a.hex_ < b.hex_;
  }

 private:
  Digest(DigestAlg a, std::string h) : alg_(a), hex_(std::move(h)) {}
  friend class Hasher;
  DigestAlg alg_ = DigestAlg::sha256;
  std::string hex_;
};

class Hasher {
 public:
  explicit Hasher(DigestAlg alg = DigestAlg::sha256);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  void update(const void* data, size_t len);
  void update(std::string_view s) { update(s.data(), s.size()); }
  Digest finish();  // the hasher is reset afterwards
  uint64_t bytes() const { return bytes_; }
  DigestAlg alg() const { return alg_; }

  // The state after bytes() bytes (OpenSSL's SHA*_CTX as it is in memory),
  // and a hasher resumed from one, so that a resumed upload need not hash
  // again what it already received (content's ingests). Only for the same
  // build: resume() refuses a state whose own counters disagree with `bytes`.
  std::string midstate() const;
  static std::optional<Hasher> resume(DigestAlg alg, uint64_t bytes, std::string_view midstate);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  DigestAlg alg_;
  uint64_t bytes_ = 0;
};

}  // namespace berth

template <>
struct std::hash<berth::Digest> {
  size_t operator()(const berth::Digest& d) const noexcept { return std::hash<std::string>()(d.hex()); }
};
