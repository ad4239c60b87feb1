// berth/transport: registry authentication pieces that need no network.
//
//  - WWW-Authenticate challenges (RFC 7235 syntax; Docker token auth's
//    `Bearer realm=...,service=...,scope=...` and `Basic realm=...`).
//  - Token service answers ({"token"|"access_token", "expires_in"}).
//  - The credentials file, Docker config.json `auths` format:
//      {"auths": {"registry:5000": {"auth": "base64(user:password)"}}}
//    berth writes its own file (default_auth_file(): $BERTH_AUTH_FILE, else
//    ${XDG_CONFIG_HOME:-~/.config}/berth/auth.json), mode 0600, atomically,
//    keeping any other keys it finds there; for reading it also falls back to
//    podman's ${XDG_RUNTIME_DIR}/containers/auth.json and ~/.docker/config.json.
//    Credential helpers (credsStore/credHelpers) are not run.
// Promise: hostile input (a registry's header, a corrupt file) yields a
// one-line error, never a crash; sizes are bounded.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::transport {

struct Challenge {
  std::string scheme;                         // lowercased: "bearer", "basic"
  std::map<std::string, std::string> params;  // keys lowercased, values unquoted
  std::string param(const std::string& k) const {
    auto it = params.find(k);
    return it == params.end() ? std::string() : it->second;
  }
};

// All challenges in one header value (several may be comma-separated).
Result<std::vector<Challenge>> parse_challenges(std::string_view header);

struct Token {
  std::string token;
  int64_t expires_in = 60;  // seconds; the spec's default when absent
};
Result<Token> parse_token_response(std::string_view body);

struct Credentials {
  std::string username;
  std::string password;
  bool empty() const { return username.empty() && password.empty(); }
};

std::string base64_encode(std::string_view in);
std::optional<std::string> base64_decode(std::string_view in);

// "https://index.docker.io/v1/" -> "docker.io"; "http://reg:5000/" -> "reg:5000";
// "quay.io/org/repo" stays (namespaced entries are allowed, like podman).
std::string normalize_auth_key(std::string_view key);

class AuthFile {
 public:
  // A missing file is an empty AuthFile; a malformed one is an error naming it.
  static Result<AuthFile> load(const std::string& path);
  static Result<AuthFile> parse(std::string_view json, const std::string& what);

  // Most specific entry for "host[/path]": "host/a/b", then "host/a", then "host".
  std::optional<Credentials> lookup(std::string_view host_and_path) const;
  void set(std::string_view key, const Credentials& c);
  bool erase(std::string_view key);  // false when absent
  void clear();
  std::vector<std::string> keys() const;  // normalised

  std::string serialize() const;
  Status save(const std::string& path) const;  // mkdir -p, 0600, atomic

 private:
  std::string doc_;  // the whole document, so unknown keys survive a rewrite
  std::map<std::string, Credentials> auths_;  // normalised key -> credentials
  std::map<std::string, std::string> raw_keys_;  // normalised key -> key as written in the file
};

// Where `berth login` writes: $BERTH_AUTH_FILE or ${XDG_CONFIG_HOME:-$HOME/.config}/berth/auth.json.
std::string default_auth_file();
// Where credentials are looked up, in order, when no --authfile is given.
std::vector<std::string> auth_file_search_path();

// Credentials for a registry host (and repository path, for namespaced
// entries): from `authfile` when non-empty, else the search path.
Result<std::optional<Credentials>> find_credentials(std::string_view host_and_path, const std::string& authfile);

}  // namespace berth::transport
