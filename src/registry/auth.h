// berth/registry: who the caller is and what they may do.
//
// Htpasswd: bcrypt ($2y$/$2b$/$2a$) and SHA-crypt ($5$/$6$) entries verified
// with crypt_r(3) (libxcrypt); other schemes (plain, apr1 MD5, DES) are
// rejected at load time, so a weak hash never authenticates anyone.
// Successful verifications are cached briefly, because bcrypt costs tens of
// milliseconds and clients send one Authorization header per request.
//
// Acl: YAML `rules: [{user: alice | "*" | anonymous, repos: "team/*", actions: [pull, push, delete]}]`.
// "*" is any authenticated user, "anonymous" the unauthenticated caller;
// repos is an fnmatch(3) glob where "*" also matches "/". No rule, no access.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::registry {

enum Action : unsigned { kPull = 1, kPush = 2, kDelete = 4 };
std::string actions_string(unsigned actions);         // "pull,push"
unsigned parse_actions(std::string_view csv);         // unknown words ignored; "*" is all

class Htpasswd {
 public:
  static Result<std::unique_ptr<Htpasswd>> load(const std::string& path);
  bool verify(const std::string& user, const std::string& password);

 private:
  std::map<std::string, std::string> hashes_;
  std::mutex mu_;
  // key: user + '\0' + sha256(password) -> expiry
  std::map<std::string, std::chrono::steady_clock::time_point> cache_;
};

class Acl {
 public:
  static Result<std::unique_ptr<Acl>> load(const std::string& path);
  static Result<std::unique_ptr<Acl>> parse(std::string_view yaml, const std::string& where);
  // The actions `user` ("" = anonymous) has on `repo`.
  unsigned allowed(const std::string& user, const std::string& repo) const;

 private:
  struct Rule {
    std::string user;
    std::string repos;
    unsigned actions = 0;
  };
  std::vector<Rule> rules_;
};

// "Basic <base64(user:pass)>" -> user, pass. False when malformed.
bool parse_basic_auth(std::string_view header, std::string* user, std::string* pass);

// A WWW-Authenticate challenge: scheme plus auth-params (keys lowercased).
struct Challenge {
  std::string scheme;  // "Bearer", "Basic"
  std::map<std::string, std::string> params;
};
// Parses one challenge (`Bearer realm="x",service="y",scope="a b"`); false when malformed.
bool parse_challenge(std::string_view header, Challenge* out);

}  // namespace berth::registry
