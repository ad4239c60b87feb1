#include "transport/auth.h"

#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "base/fs.h"

namespace berth::transport {

using json = nlohmann::json;

namespace {

constexpr size_t kMaxHeader = 16 << 10;
constexpr size_t kMaxAuthFile = 4 << 20;

bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

struct Lexer {
  std::string_view s;
  size_t i = 0;
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) i++;
  }
  bool eof() const { return i >= s.size(); }
  char peek() const { return eof() ? '\0' : s[i]; }
  std::string token() {
    size_t b = i;
    while (i < s.size() && is_tchar(s[i])) i++;
    return std::string(s.substr(b, i - b));
  }
  Result<std::string> quoted() {  // at the opening quote
    std::string out;
    i++;
    while (i < s.size()) {
      char c = s[i++];
      if (c == '"') return out;
      if (c == '\\') {
        if (i >= s.size()) break;
        c = s[i++];
      }
      out += c;
    }
    return Error(Errc::invalid_input, "WWW-Authenticate: unterminated quoted string");
  }
};

}  // namespace

Result<std::vector<Challenge>> parse_challenges(std::string_view header) {
  if (header.size() > kMaxHeader) return Error(Errc::limit, "WWW-Authenticate: header over 16 KiB");
  Lexer lx{header};
  std::vector<Challenge> out;
  for (;;) {
    while (!lx.eof() && (lx.peek() == ' ' || lx.peek() == '\t' || lx.peek() == ',')) lx.i++;
    if (lx.eof()) break;
    std::string scheme = lx.token();
    if (scheme.empty())
      return Error(Errc::invalid_input, "WWW-Authenticate: expected an auth scheme at byte " + std::to_string(lx.i));
    Challenge ch;
    ch.scheme = lower(scheme);
    lx.ws();
    for (;;) {
      size_t save = lx.i;
      std::string key = lx.token();
      lx.ws();
      if (key.empty()) break;  // end of this challenge
      if (lx.peek() != '=') {  // a bare token: the next challenge's scheme
        lx.i = save;
        break;
      }
      size_t eq = lx.i;
      lx.i++;
      lx.ws();
      if (lx.eof() || lx.peek() == '=' || lx.peek() == ',') {  // token68 ("Basic abc=="): skip it
        lx.i = eq;
        while (!lx.eof() && lx.peek() == '=') lx.i++;
        break;
      }
      std::string value;
      if (lx.peek() == '"') {
        TRY_ASSIGN(value, lx.quoted());
      } else {
        value = lx.token();
      }
      if (ch.params.size() < 32) ch.params[lower(key)] = value;
      lx.ws();
      if (lx.eof()) break;
      if (lx.peek() != ',')
        return Error(Errc::invalid_input, "WWW-Authenticate: unexpected '" + std::string(1, lx.peek()) + "' at byte " +
                                              std::to_string(lx.i));
      lx.i++;
      lx.ws();
    }
    out.push_back(std::move(ch));
    if (out.size() > 16) return Error(Errc::limit, "WWW-Authenticate: more than 16 challenges");
  }
  if (out.empty()) return Error(Errc::invalid_input, "WWW-Authenticate: no challenge");
  return out;
}

Result<Token> parse_token_response(std::string_view body) {
  if (body.size() > (1 << 20)) return Error(Errc::limit, "token response over 1 MiB");
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error(Errc::invalid_input, "token response is not a JSON object");
  Token t;
  for (const char* k : {"token", "access_token"}) {
    auto it = j.find(k);
    if (it != j.end() && it->is_string() && !it->get<std::string>().empty()) {
      t.token = it->get<std::string>();
      break;
    }
  }
  if (t.token.empty()) return Error(Errc::invalid_input, "token response has neither \"token\" nor \"access_token\"");
  for (char c : t.token)
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e)
      return Error(Errc::invalid_input, "token response: token has a non-printable character");
  if (auto it = j.find("expires_in"); it != j.end() && it->is_number_integer()) {
    int64_t v = it->get<int64_t>();
    // Below 60 s is treated as 60 (the spec's minimum); absurd values are capped.
    t.expires_in = std::clamp<int64_t>(v, 60, 24 * 3600);
  }
  return t;
}

std::string base64_encode(std::string_view in) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  while (i + 2 < in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += tbl[v & 63];
    i += 3;
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += tbl[v >> 18];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string normalize_auth_key(std::string_view key) {
  std::string_view k = key;
  if (auto p = k.find("://"); p != std::string_view::npos) {
    k.remove_prefix(p + 3);
    // A URL key ("https://index.docker.io/v1/") names a host only.
    k = k.substr(0, k.find('/'));
  }
  while (!k.empty() && k.back() == '/') k.remove_suffix(1);
  std::string host(k.substr(0, k.find('/')));
  std::string rest(k.substr(host.size()));
  host = lower(host);
  if (host == "index.docker.io" || host == "registry-1.docker.io") host = "docker.io";
  return host + rest;
}

Result<AuthFile> AuthFile::parse(std::string_view text, const std::string& what) {
  AuthFile f;
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error(Errc::invalid_input, what + ": not a JSON object");
  auto it = j.find("auths");
  if (it != j.end() && !it->is_null()) {
    if (!it->is_object()) return Error(Errc::invalid_input, what + ": \"auths\" is not an object");
    for (auto& [key, entry] : it->items()) {
      if (!entry.is_object()) return Error(Errc::invalid_input, what + ": auths[\"" + key + "\"] is not an object");
      Credentials c;
      if (auto a = entry.find("auth"); a != entry.end() && a->is_string() && !a->get<std::string>().empty()) {
        auto dec = base64_decode(a->get<std::string>());
        auto colon = dec ? dec->find(':') : std::string::npos;
        if (!dec || colon == std::string::npos)
          return Error(Errc::invalid_input, what + ": auths[\"" + key + "\"].auth is not base64(user:password)");
        c.username = dec->substr(0, colon);
        c.password = dec->substr(colon + 1);
      } else {
        if (auto u = entry.find("username"); u != entry.end() && u->is_string()) c.username = *u;
        if (auto p = entry.find("password"); p != entry.end() && p->is_string()) c.password = *p;
      }
      if (c.empty()) continue;  // e.g. an entry that defers to a credential helper
      std::string nk = normalize_auth_key(key);
      f.auths_[nk] = c;
      f.raw_keys_[nk] = key;
    }
  }
  f.doc_ = j.dump();
  return f;
}

Result<AuthFile> AuthFile::load(const std::string& path) {
  auto r = read_file(path, kMaxAuthFile);
  if (!r.ok()) {
    if (r.error().code == Errc::not_found) return AuthFile{};
    return Error(r.error()).wrap("reading auth file " + path);
  }
  if (r->find_first_not_of(" \t\r\n") == std::string::npos) return AuthFile{};
  return parse(*r, "auth file " + path);
}

std::optional<Credentials> AuthFile::lookup(std::string_view host_and_path) const {
  std::string k = normalize_auth_key(host_and_path);
  for (;;) {
    if (auto it = auths_.find(k); it != auths_.end()) return it->second;
    auto slash = k.rfind('/');
    if (slash == std::string::npos) return std::nullopt;
    k.resize(slash);
  }
}

void AuthFile::set(std::string_view key, const Credentials& c) {
  std::string nk = normalize_auth_key(key);
  auths_[nk] = c;
  raw_keys_[nk] = nk;
}

bool AuthFile::erase(std::string_view key) {
  std::string nk = normalize_auth_key(key);
  raw_keys_.erase(nk);
  return auths_.erase(nk) > 0;
}

void AuthFile::clear() {
  auths_.clear();
  raw_keys_.clear();
}

std::vector<std::string> AuthFile::keys() const {
  std::vector<std::string> out;
  for (auto& [k, v] : auths_) out.push_back(k);
  return out;
}

std::string AuthFile::serialize() const {
  json j = doc_.empty() ? json::object() : json::parse(doc_, nullptr, false);
  if (j.is_discarded() || !j.is_object()) j = json::object();
  json old = j.contains("auths") && j["auths"].is_object() ? j["auths"] : json::object();
  json auths = json::object();
  // Entries we did not understand (credential-helper placeholders) survive.
  for (auto& [key, entry] : old.items())
    if (!auths_.count(normalize_auth_key(key)) && raw_keys_.count(normalize_auth_key(key)) == 0 &&
        !(entry.is_object() && (entry.contains("auth") || entry.contains("password"))))
      auths[key] = entry;
  for (auto& [k, c] : auths_) {
    auto rk = raw_keys_.find(k);
    auths[rk == raw_keys_.end() ? k : rk->second] = json{{"auth", base64_encode(c.username + ":" + c.password)}};
  }
  j["auths"] = auths;
  return j.dump(1, '\t') + "\n";
}

Status AuthFile::save(const std::string& path) const {
  TRY(mkdir_p(dirname_of(path), 0700));
  TRY(atomic_write_file(path, serialize(), 0600));
  return {};
}

std::string default_auth_file() {
  if (const char* e = std::getenv("BERTH_AUTH_FILE"); e && *e) return e;
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return std::string(x) + "/berth/auth.json";
  const char* h = std::getenv("HOME");
  return std::string(h && *h ? h : "/root") + "/.config/berth/auth.json";
}

std::vector<std::string> auth_file_search_path() {
  std::vector<std::string> out{default_auth_file()};
  if (std::getenv("BERTH_AUTH_FILE")) return out;  // an explicit file is the only one (tests, CI)
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x) out.push_back(std::string(x) + "/containers/auth.json");
  if (const char* h = std::getenv("HOME"); h && *h) out.push_back(std::string(h) + "/.docker/config.json");
  return out;
}

Result<std::optional<Credentials>> find_credentials(std::string_view host_and_path, const std::string& authfile) {
  std::vector<std::string> files = authfile.empty() ? auth_file_search_path() : std::vector<std::string>{authfile};
  for (auto& f : files) {
    TRY_ASSIGN(AuthFile af, AuthFile::load(f));
    if (auto c = af.lookup(host_and_path)) return std::optional<Credentials>(*c);
  }
  return std::optional<Credentials>();
}

}  // namespace berth::transport
