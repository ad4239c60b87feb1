#include "image/reference.h"

#include <cctype>

namespace berth::image {

namespace {

constexpr size_t kMaxNameLength = 255;

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool alnum(char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

// [a-z0-9]+ ((?:[._]|__|[-]*) [a-z0-9]+)*
bool valid_path_component(std::string_view s) {
  size_t i = 0, n = s.size();
  if (n == 0 || !lower_alnum(s[0])) return false;
  while (i < n) {
    while (i < n && lower_alnum(s[i])) i++;
    if (i == n) return true;
    size_t sep = i;
    if (s[i] == '.') {
      i++;
    } else if (s[i] == '_') {
      i++;
      if (i < n && s[i] == '_') i++;
    } else if (s[i] == '-') {
      while (i < n && s[i] == '-') i++;
    } else {
      return false;
    }
    if (i == n || !lower_alnum(s[i]) || i == sep) return false;
  }
  return true;
}

// ([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])
bool valid_domain_component(std::string_view s) {
  if (s.empty() || !alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s)
    if (!alnum(c) && c != '-') return false;
  return true;
}

bool valid_domain(std::string_view d) {
  std::string_view host = d;
  std::string_view port;
  if (!d.empty() && d[0] == '[') {
    auto close = d.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    for (char c : d.substr(1, close - 1))
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    host = {};
    if (close + 1 < d.size()) {
      if (d[close + 1] != ':') return false;
      port = d.substr(close + 2);
      if (port.empty()) return false;
    }
  } else {
    auto colon = d.find(':');
    if (colon != std::string_view::npos) {
      host = d.substr(0, colon);
      port = d.substr(colon + 1);
      if (port.empty()) return false;
    }
    if (host.empty()) return false;
    size_t i = 0;
    while (true) {
      size_t j = host.find('.', i);
      if (!valid_domain_component(host.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i)))
        return false;
      if (j == std::string_view::npos) break;
      i = j + 1;
    }
  }
  for (char c : port)
    if (c < '0' || c > '9') return false;
  return true;
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) { return alnum(c) || c == '_'; };
  if (!word(t[0])) return false;
  for (char c : t)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

std::string Reference::str() const {
  std::string s = name();
  if (!tag.empty()) s += ":" + tag;
  if (digest) s += "@" + digest->str();
  return s;
}

std::string Reference::familiar_name() const {
  if (domain != kDefaultDomain) return name();
  if (path.rfind("library/", 0) == 0 && path.find('/', 8) == std::string::npos) return path.substr(8);
  // "docker.io/a.b/c" must not shorten to "a.b/c", which names registry a.b.
  std::string first = path.substr(0, path.find('/'));
  if (path.find('/') != std::string::npos && (first.find_first_of(".:") != std::string::npos || first == "localhost"))
    return name();
  return path;
}

std::string Reference::familiar() const {
  std::string s = familiar_name();
  if (!tag.empty()) s += ":" + tag;
  if (digest) s += "@" + digest->str();
  return s;
}

Result<Reference> parse_reference(std::string_view input, ParseReferenceOptions opt) {
  auto bad = [&](std::string why) {
    return Error(Errc::invalid_argument, "invalid reference \"" + std::string(input.substr(0, 300)) + "\": " + why);
  };
  if (input.empty()) return bad("empty");
  Reference r;
  std::string_view s = input;
  if (auto at = s.find('@'); at != std::string_view::npos) {
    auto d = Digest::parse(s.substr(at + 1));
    if (!d.ok()) return bad(d.error().message);
    r.digest = std::move(*d);
    s = s.substr(0, at);
  }
  auto last_slash = s.rfind('/');
  auto colon = s.rfind(':');
  if (colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
    r.tag = std::string(s.substr(colon + 1));
    s = s.substr(0, colon);
    if (!valid_tag(r.tag)) return bad("invalid tag \"" + r.tag.substr(0, 140) + "\"");
  }
  if (s.empty()) return bad("missing repository name");
  // As distribution/reference does: only a whole input of 64 hex characters is
  // an image ID; "library/<64 hex>" and "<64 hex>:tag" are valid names (and
  // the familiar form of the first is the second).
  if (is_hex64(input)) return bad("a 64-character hexadecimal string is an image ID, not a repository name");

  auto slash = s.find('/');
  std::string_view first = s.substr(0, slash);
  bool has_domain = slash != std::string_view::npos &&
                    (first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
                     first.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos || first.front() == '[');
  std::string_view path;
  if (has_domain) {
    r.domain = std::string(first);
    path = s.substr(slash + 1);
    if (!valid_domain(r.domain)) return bad("invalid domain \"" + r.domain.substr(0, 255) + "\"");
  } else {
    r.domain = std::string(kDefaultDomain);
    path = s;
  }
  if (r.domain == "index.docker.io") r.domain = std::string(kDefaultDomain);
  if (path.empty()) return bad("missing repository name");
  size_t i = 0;
  while (true) {
    size_t j = path.find('/', i);
    auto comp = path.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i);
    if (!valid_path_component(comp)) {
      for (char c : comp)
        if (c >= 'A' && c <= 'Z') return bad("repository name must be lowercase");
      return bad("invalid repository path component \"" + std::string(comp.substr(0, 100)) + "\"");
    }
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  r.path = std::string(path);
  if (r.domain == kDefaultDomain && r.path.find('/') == std::string::npos) r.path = "library/" + r.path;
  if (r.name().size() > kMaxNameLength)
    return bad("repository name is longer than " + std::to_string(kMaxNameLength) + " characters");
  if (opt.default_tag && r.tag.empty() && !r.digest) r.tag = std::string(kDefaultTag);
  return r;
}

}  // namespace berth::image
