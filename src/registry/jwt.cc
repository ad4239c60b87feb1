#include "registry/jwt.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include "registry/auth.h"

namespace berth::registry {

using nlohmann::json;

std::string base64url_encode(std::string_view in) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  auto b = [&](size_t k) { return static_cast<unsigned char>(in[k]); };
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    for (int s : {18, 12, 6, 0}) out.push_back(tbl[(v >> s) & 63]);
  }
  if (i + 1 == in.size()) {
    uint32_t v = b(i) << 16;
    out.push_back(tbl[(v >> 18) & 63]);
    out.push_back(tbl[(v >> 12) & 63]);
  } else if (i + 2 == in.size()) {
    uint32_t v = (b(i) << 16) | (b(i + 1) << 8);
    for (int s : {18, 12, 6}) out.push_back(tbl[(v >> s) & 63]);
  }
  return out;
}

bool base64url_decode(std::string_view in, std::string* out) {
  out->clear();
  if (in.size() % 4 == 1) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Non-canonical encodings (set bits in the padding) are rejected.
  return (acc & ((1u << bits) - 1)) == 0;
}

static std::string hs256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

std::string sign_token(const TokenClaims& c, std::string_view key) {
  json header = {{"alg", "HS256"}, {"typ", "JWT"}};
  unsigned char rnd[16];
  RAND_bytes(rnd, sizeof rnd);
  json access = json::array();
  for (const auto& [repo, acts] : c.access) {
    json a = json::array();
    for (const char* w : {"pull", "push", "delete"})
      if (acts & parse_actions(w)) a.push_back(w);
    access.push_back({{"type", "repository"}, {"name", repo}, {"actions", a}});
  }
  json claims = {{"iss", c.issuer},       {"sub", c.subject},    {"aud", c.audience},
                 {"iat", c.issued_at},    {"nbf", c.issued_at - 5}, {"exp", c.expires_at},
                 {"jti", base64url_encode(std::string_view(reinterpret_cast<char*>(rnd), sizeof rnd))},
                 {"access", access}};
  // User names come from htpasswd files and certificate CNs: never let bad UTF-8 throw.
  std::string input = base64url_encode(header.dump()) + "." +
                      base64url_encode(claims.dump(-1, ' ', false, json::error_handler_t::replace));
  return input + "." + base64url_encode(hs256(key, input));
}

static Error bad(std::string m) { return Error(Errc::unauthorized, "invalid token: " + std::move(m)); }

static Result<TokenClaims> parse_claims(const std::string& claims_raw) {
  json cl = json::parse(claims_raw, nullptr, false);
  if (!cl.is_object()) return bad("claims are not a JSON object");
  TokenClaims c;
  auto str = [&](const char* k) -> std::string {
    auto it = cl.find(k);
    return it != cl.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto num = [&](const char* k, int64_t def) -> int64_t {
    auto it = cl.find(k);
    return it != cl.end() && it->is_number_integer() ? it->get<int64_t>() : def;
  };
  c.issuer = str("iss");
  c.subject = str("sub");
  c.audience = str("aud");
  c.issued_at = num("iat", 0);
  c.expires_at = num("exp", 0);
  c.not_before = num("nbf", 0);
  auto acc = cl.find("access");
  if (acc != cl.end() && acc->is_array()) {
    for (const auto& a : *acc) {
      if (!a.is_object() || a.value("type", "") != "repository" || !a.contains("name") || !a["name"].is_string())
        continue;
      unsigned bits = 0;
      if (a.contains("actions") && a["actions"].is_array())
        for (const auto& w : a["actions"])
          if (w.is_string()) bits |= parse_actions(w.get<std::string>());
      c.access[a["name"].get<std::string>()] |= bits;
    }
  }
  return c;
}

Result<TokenClaims> verify_token(std::string_view token, std::string_view key, std::string_view issuer,
                                 std::string_view audience, int64_t now) {
  if (token.size() > 16384) return bad("longer than 16 KiB");
  auto d1 = token.find('.');
  auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return bad("not a three-part JWS");
  std::string hdr_raw, claims_raw, sig;
  if (!base64url_decode(token.substr(0, d1), &hdr_raw) ||
      !base64url_decode(token.substr(d1 + 1, d2 - d1 - 1), &claims_raw) ||
      !base64url_decode(token.substr(d2 + 1), &sig))
    return bad("malformed base64url");
  json hdr = json::parse(hdr_raw, nullptr, false);
  if (!hdr.is_object()) return bad("header is not a JSON object");
  auto alg = hdr.find("alg");
  // Only the algorithm we issue; "none", RS256/ES256 (key confusion) and anything else are refused.
  if (alg == hdr.end() || !alg->is_string() || *alg != "HS256") return bad("algorithm must be HS256");
  if (hdr.contains("crit")) return bad("unsupported critical header");
  std::string expect = hs256(key, token.substr(0, d2));
  if (sig.size() != expect.size() || CRYPTO_memcmp(sig.data(), expect.data(), expect.size()) != 0)
    return bad("signature does not verify");
  TRY_ASSIGN(TokenClaims c, parse_claims(claims_raw));
  if (c.issuer != issuer) return bad("issuer \"" + c.issuer.substr(0, 64) + "\" is not trusted");
  if (c.audience != audience) return bad("audience \"" + c.audience.substr(0, 64) + "\" is not this service");
  if (c.expires_at <= now) return bad("expired");
  if (c.not_before > now + 60) return bad("not yet valid");
  return c;
}

Result<TokenClaims> decode_claims(std::string_view token) {
  auto d1 = token.find('.');
  auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (token.size() > 16384 || d2 == std::string_view::npos) return bad("not a three-part JWS");
  std::string claims_raw;
  if (!base64url_decode(token.substr(d1 + 1, d2 - d1 - 1), &claims_raw)) return bad("malformed base64url");
  return parse_claims(claims_raw);
}

}  // namespace berth::registry
