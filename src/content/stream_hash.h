// berth/content: a streaming SHA-256/512 whose state can be saved and restored.
// Not a public header.
//
// Why not digest::Hasher: OpenSSL 3's EVP cannot export a digest's midstate.
// A resumed ingest (registry PATCH then PUT, in different requests) would
// otherwise re-hash everything already received on every resume. The legacy
// SHA*_CTX API runs the same assembly (SHA-NI included) and its context is a
// plain struct, so a checkpoint is just its bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "digest/digest.h"

namespace berth::content::detail {

class StreamHash {
 public:
  explicit StreamHash(DigestAlg alg);
  ~StreamHash();
  StreamHash(StreamHash&&) noexcept;
  StreamHash& operator=(StreamHash&&) noexcept;

  DigestAlg alg() const { return alg_; }
  void update(const void* data, size_t len);
  uint64_t bytes() const { return bytes_; }
  Digest finish();  // the object must not be updated afterwards

  // A self-checking snapshot of the state after bytes() bytes.
  std::string save() const;
  // Restores a snapshot of `alg` (its bytes() tells where it stands); nullopt
  // if it is damaged, of another algorithm, or from an incompatible build.
  static std::optional<StreamHash> load(std::string_view saved, DigestAlg alg);

 private:
  struct Ctx;
  DigestAlg alg_;
  uint64_t bytes_ = 0;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace berth::content::detail
