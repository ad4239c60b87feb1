#include "registry/auth.h"

#include <crypt.h>
#include <strings.h>

#include <cctype>
#include <cstring>
#include <fnmatch.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <yaml-cpp/yaml.h>

#include "base/fs.h"
#include "digest/digest.h"

namespace berth::registry {

std::string actions_string(unsigned a) {
  std::string s;
  auto add = [&](const char* w) { s += (s.empty() ? "" : ","), s += w; };
  if (a & kPull) add("pull");
  if (a & kPush) add("push");
  if (a & kDelete) add("delete");
  return s;
}

unsigned parse_actions(std::string_view csv) {
  unsigned a = 0;
  size_t s = 0;
  while (s <= csv.size()) {
    size_t c = csv.find(',', s);
    std::string_view w = csv.substr(s, c == std::string_view::npos ? std::string_view::npos : c - s);
    if (w == "pull") a |= kPull;
    else if (w == "push") a |= kPush;
    else if (w == "delete") a |= kDelete;
    else if (w == "*") a |= kPull | kPush | kDelete;
    if (c == std::string_view::npos) break;
    s = c + 1;
  }
  return a;
}

static bool strong_hash(std::string_view h) {
  return h.substr(0, 4) == "$2y$" || h.substr(0, 4) == "$2b$" || h.substr(0, 4) == "$2a$" ||
         h.substr(0, 3) == "$5$" || h.substr(0, 3) == "$6$";
}

Result<std::unique_ptr<Htpasswd>> Htpasswd::load(const std::string& path) {
  TRY_ASSIGN(std::string text, read_file(path, 4 << 20));
  auto h = std::make_unique<Htpasswd>();
  size_t lineno = 0, s = 0;
  while (s < text.size()) {
    size_t e = text.find('\n', s);
    if (e == std::string::npos) e = text.size();
    std::string line = text.substr(s, e - s);
    s = e + 1;
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0)
      return Error(Errc::invalid_input, path + ":" + std::to_string(lineno) + ": expected user:hash");
    std::string user = line.substr(0, colon), hash = line.substr(colon + 1);
    if (!strong_hash(hash))
      return Error(Errc::unsupported, path + ":" + std::to_string(lineno) + ": user " + user +
                                          ": only bcrypt ($2y$) or SHA-crypt hashes are accepted (htpasswd -B)");
    h->hashes_[user] = hash;
  }
  return h;
}

bool Htpasswd::verify(const std::string& user, const std::string& password) {
  auto it = hashes_.find(user);
  if (it == hashes_.end()) {
    // Spend the same bcrypt time as for a real user, so response timing does
    // not tell which user names exist.
    static const char* kDummy = "$2y$05$j74BXNU7H7AEAwrNBP9xKuJ9BX5pMduz2vOvNUUHZaFwIZe7BP/Zu";
    struct crypt_data cd {};
    (void)::crypt_r(password.c_str(), hashes_.empty() ? kDummy : hashes_.begin()->second.c_str(), &cd);
    return false;
  }
  std::string key = user + '\0' + Digest::of(password).hex();
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lk(mu_);
    auto c = cache_.find(key);
    if (c != cache_.end() && c->second > now) return true;
  }
  struct crypt_data cd {};
  const char* out = ::crypt_r(password.c_str(), it->second.c_str(), &cd);
  // crypt_r returns "*0"-style failure tokens instead of NULL on some errors.
  if (!out || out[0] == '*') return false;
  const std::string& want = it->second;
  if (std::strlen(out) != want.size() || CRYPTO_memcmp(out, want.data(), want.size()) != 0) return false;
  std::lock_guard lk(mu_);
  if (cache_.size() > 10000) cache_.clear();
  cache_[key] = now + std::chrono::seconds(60);
  return true;
}

Result<std::unique_ptr<Acl>> Acl::load(const std::string& path) {
  TRY_ASSIGN(std::string text, read_file(path, 4 << 20));
  return parse(text, path);
}

Result<std::unique_ptr<Acl>> Acl::parse(std::string_view yaml, const std::string& where) {
  auto acl = std::make_unique<Acl>();
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    if (!root.IsMap() || !root["rules"] || !root["rules"].IsSequence())
      return Error(Errc::invalid_input, where + ": expected a top-level `rules:` list");
    size_t i = 0;
    for (const auto& r : root["rules"]) {
      std::string ctx = where + ": rules[" + std::to_string(i++) + "]";
      if (!r.IsMap() || !r["user"] || !r["repos"] || !r["actions"])
        return Error(Errc::invalid_input, ctx + ": needs user, repos and actions");
      Rule rule;
      rule.user = r["user"].as<std::string>();
      rule.repos = r["repos"].as<std::string>();
      if (r["actions"].IsSequence()) {
        for (const auto& a : r["actions"]) {
          unsigned v = parse_actions(a.as<std::string>());
          if (!v) return Error(Errc::invalid_input, ctx + ": unknown action \"" + a.as<std::string>() + "\"");
          rule.actions |= v;
        }
      } else {
        rule.actions = parse_actions(r["actions"].as<std::string>());
      }
      acl->rules_.push_back(std::move(rule));
    }
  } catch (const YAML::Exception& e) {
    return Error(Errc::invalid_input, where + ": " + e.what());
  }
  return acl;
}

unsigned Acl::allowed(const std::string& user, const std::string& repo) const {
  unsigned a = 0;
  for (const auto& r : rules_) {
    bool who = user.empty() ? r.user == "anonymous" : (r.user == "*" || r.user == user);
    if (who && ::fnmatch(r.repos.c_str(), repo.c_str(), 0) == 0) a |= r.actions;
  }
  return a;
}

bool parse_basic_auth(std::string_view header, std::string* user, std::string* pass) {
  if (header.size() < 6 || strncasecmp(header.data(), "basic ", 6) != 0) return false;
  std::string_view b64 = header.substr(6);
  while (!b64.empty() && b64.front() == ' ') b64.remove_prefix(1);
  if (b64.empty() || b64.size() > 4096 || b64.size() % 4 != 0) return false;
  std::string out(b64.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
  if (n < 0) return false;
  // EVP_DecodeBlock counts padding as zero bytes.
  size_t len = static_cast<size_t>(n);
  if (b64.back() == '=') --len;
  if (b64.size() >= 2 && b64[b64.size() - 2] == '=') --len;
  out.resize(len);
  auto colon = out.find(':');
  if (colon == std::string::npos) return false;
  *user = out.substr(0, colon);
  *pass = out.substr(colon + 1);
  return true;
}

bool parse_challenge(std::string_view h, Challenge* out) {
  auto sp = h.find(' ');
  out->scheme = std::string(h.substr(0, sp));
  out->params.clear();
  if (out->scheme.empty()) return false;
  if (sp == std::string_view::npos) return true;
  size_t i = sp + 1;
  while (i < h.size()) {
    while (i < h.size() && (h[i] == ' ' || h[i] == ',')) ++i;
    if (i >= h.size()) break;
    size_t eq = h.find('=', i);
    if (eq == std::string_view::npos) return false;
    std::string key(h.substr(i, eq - i));
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    i = eq + 1;
    std::string val;
    if (i < h.size() && h[i] == '"') {
      ++i;
      while (i < h.size() && h[i] != '"') {
        if (h[i] == '\\' && i + 1 < h.size()) ++i;
        val.push_back(h[i++]);
      }
      if (i >= h.size()) return false;  // unterminated quote
      ++i;
    } else {
      while (i < h.size() && h[i] != ',') val.push_back(h[i++]);
    }
    out->params[key] = val;
  }
  return true;
}

}  // namespace berth::registry
