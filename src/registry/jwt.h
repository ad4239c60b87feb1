// berth/registry: the registry's bearer tokens (Docker token-auth shape).
//
// Tokens are JWS compact serialisations signed with HS256 and a key that only
// the registry holds (a key file). verify() trusts nothing the token says
// about itself: the algorithm must be exactly HS256 (no "none", no RS/ES
// confusion), the key is always the configured one (any jwk/x5c/jku/kid in
// the header is ignored, CVE-2025-24976 class), and exp/nbf/iss/aud are
// checked. Clients may read a token's claims with decode_claims().
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "base/error.h"

namespace berth::registry {

struct TokenClaims {
  std::string issuer;
  std::string subject;   // user name; "" for anonymous
  std::string audience;  // service
  int64_t issued_at = 0;
  int64_t expires_at = 0;
  int64_t not_before = 0;
  std::map<std::string, unsigned> access;  // repository -> Action bits
};

std::string base64url_encode(std::string_view in);
bool base64url_decode(std::string_view in, std::string* out);

std::string sign_token(const TokenClaims& c, std::string_view key);
Result<TokenClaims> verify_token(std::string_view token, std::string_view key, std::string_view issuer,
                                 std::string_view audience, int64_t now);
// Reads the claims WITHOUT verifying anything: for a client that only needs
// to know when a token it was handed expires. Never use it to authorise.
Result<TokenClaims> decode_claims(std::string_view token);

}  // namespace berth::registry
