#include "content/stream_hash.h"

#include <cstring>

namespace berth::content::detail {

namespace {

constexpr char kMagic[8] = {'B', 'H', 'S', 'T', 'A', 'T', 'E', '1'};
constexpr size_t kHeader = sizeof kMagic + 1 + 8;
constexpr size_t kCheck = 32;  // raw sha256

// The sha256 of data as 32 raw bytes (the record's trailer).
std::string check_of(std::string_view data) {
  const Digest d = Digest::of(data);
  const std::string& hex = d.hex();
  std::string raw(kCheck, '\0');
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i < kCheck; i++) raw[i] = static_cast<char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  return raw;
}

}  // namespace

std::string save_hash(const Hasher& h) {
  std::string out(kMagic, sizeof kMagic);
  out += static_cast<char>(h.alg() == DigestAlg::sha256 ? 1 : 2);
  uint64_t at = h.bytes();
  out.append(reinterpret_cast<const char*>(&at), 8);
  out += h.midstate();
  out += check_of(out);
  return out;
}

std::optional<Hasher> load_hash(std::string_view saved, DigestAlg alg) {
  if (saved.size() <= kHeader + kCheck) return std::nullopt;
  const size_t body = saved.size() - kCheck;
  if (std::memcmp(saved.data(), kMagic, sizeof kMagic) != 0) return std::nullopt;
  if (saved[sizeof kMagic] != (alg == DigestAlg::sha256 ? 1 : 2)) return std::nullopt;
  if (check_of(saved.substr(0, body)) != saved.substr(body)) return std::nullopt;
  uint64_t at;
  std::memcpy(&at, saved.data() + sizeof kMagic + 1, 8);
  return Hasher::resume(alg, at, saved.substr(kHeader, body - kHeader));
}

}  // namespace berth::content::detail
