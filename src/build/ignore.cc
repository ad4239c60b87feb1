// .dockerignore: moby/patternmatcher and moby's ignorefile.ReadAll, rule for
// rule (docs/build-context.md lists them and where we differ).
#include <algorithm>
#include <utility>

#include "base/fs.h"
#include "build/context.h"
#include "build/ignore_match.h"

namespace berth::build {

namespace detail {

namespace {

struct Range {
  char32_t lo, hi;
};

struct Tok {
  enum Type { lit, any, star, cls, dstar_slash, dstar_all } type = lit;
  char32_t c = 0;
  bool negated = false;
  std::vector<Range> ranges;
};

// One code point; invalid UTF-8 decodes byte by byte as U+FFFD, as Go does.
char32_t next_rune(std::string_view s, size_t& i) {
  auto b = static_cast<unsigned char>(s[i]);
  int n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    i++;
    return b < 0x80 ? b : 0xFFFD;
  }
  if (n == 1) {
    i++;
    return b;
  }
  char32_t cp = b & (0x7F >> n);
  for (int k = 1; k < n; k++) {
    auto cb = static_cast<unsigned char>(s[i + k]);
    if ((cb & 0xC0) != 0x80) {
      i++;
      return 0xFFFD;
    }
    cp = (cp << 6) | (cb & 0x3F);
  }
  i += static_cast<size_t>(n);
  return cp;
}

Error bad_pattern(std::string_view p, std::string_view why) {
  return Error(Errc::invalid_argument, "pattern \"" + std::string(p) + "\": " + std::string(why));
}

// Go's getEsc: one class member, maybe escaped; never '-' or ']' unescaped.
Result<char32_t> class_char(std::string_view p, size_t& i) {
  if (i >= p.size() || p[i] == '-' || p[i] == ']') return bad_pattern(p, "malformed character class");
  if (p[i] == '\\') {
    i++;
    if (i >= p.size()) return bad_pattern(p, "trailing \\ in character class");
  }
  char32_t r = next_rune(p, i);
  if (i >= p.size()) return bad_pattern(p, "unterminated character class");
  return r;
}

// p[i] == '['; leaves i after the closing ']'.
Result<Tok> parse_class(std::string_view p, size_t& i) {
  Tok t;
  t.type = Tok::cls;
  i++;
  if (i < p.size() && p[i] == '^') {
    t.negated = true;
    i++;
  }
  for (;;) {
    if (i < p.size() && p[i] == ']' && !t.ranges.empty()) {
      i++;
      return t;
    }
    TRY_ASSIGN(char32_t lo, class_char(p, i));
    char32_t hi = lo;
    if (p[i] == '-') {
      i++;
      TRY_ASSIGN(hi, class_char(p, i));
    }
    t.ranges.push_back({lo, hi});
  }
}

bool class_matches(const Tok& t, char32_t r) {
  bool in = std::any_of(t.ranges.begin(), t.ranges.end(), [r](const Range& x) { return x.lo <= r && r <= x.hi; });
  return in != t.negated;
}

}  // namespace

struct Glob {
  std::vector<Tok> toks;
};

Result<std::shared_ptr<const Glob>> compile_glob(std::string_view p) {
  auto g = std::make_shared<Glob>();
  size_t i = 0;
  while (i < p.size()) {
    char ch = p[i];
    Tok t;
    if (ch == '*') {
      i++;
      if (!g->toks.empty() && g->toks.back().type == Tok::star) continue;
      t.type = Tok::star;
    } else if (ch == '?') {
      i++;
      t.type = Tok::any;
    } else if (ch == '[') {
      TRY_ASSIGN(t, parse_class(p, i));
    } else if (ch == '\\') {
      i++;
      if (i >= p.size()) return bad_pattern(p, "trailing \\");
      t.c = next_rune(p, i);
    } else {
      t.c = next_rune(p, i);
    }
    g->toks.push_back(std::move(t));
  }
  return std::shared_ptr<const Glob>(std::move(g));
}

// An NFA run: s[k] = "before token k", mid[k] = "inside the .*/ of a
// dstar_slash token k" (which may only be left right after a '/').
bool glob_matches(const Glob& g, std::string_view name) {
  const auto& t = g.toks;
  size_t n = t.size();
  std::vector<char> s(n + 1, 0), mid(n, 0), ns(n + 1), nmid(n);
  auto close = [&](std::vector<char>& st) {
    for (size_t k = 0; k < n; k++)
      if (st[k] && (t[k].type == Tok::star || t[k].type == Tok::dstar_all || t[k].type == Tok::dstar_slash))
        st[k + 1] = 1;
  };
  s[0] = 1;
  close(s);
  size_t i = 0;
  while (i < name.size()) {
    char32_t r = next_rune(name, i);
    std::fill(ns.begin(), ns.end(), 0);
    std::fill(nmid.begin(), nmid.end(), 0);
    bool alive = false;
    for (size_t k = 0; k < n; k++) {
      if (mid[k]) {
        nmid[k] = 1;
        if (r == '/') ns[k + 1] = 1;
        alive = true;
      }
      if (!s[k]) continue;
      alive = true;
      switch (t[k].type) {
        case Tok::lit:
          if (r == t[k].c) ns[k + 1] = 1;
          break;
        case Tok::any:
          if (r != '/') ns[k + 1] = 1;
          break;
        case Tok::cls:
          if (class_matches(t[k], r)) ns[k + 1] = 1;
          break;
        case Tok::star:
          if (r != '/') ns[k] = 1;
          break;
        case Tok::dstar_all:
          ns[k] = 1;
          break;
        case Tok::dstar_slash:
          nmid[k] = 1;
          if (r == '/') ns[k + 1] = 1;
          break;
      }
    }
    if (!alive) return false;
    close(ns);
    std::swap(s, ns);
    std::swap(mid, nmid);
  }
  return s[n] != 0;
}

bool has_wildcard(std::string_view s) { return s.find_first_of("*?[\\") != std::string_view::npos; }

// patternmatcher's compile(): the same walk over the pattern, producing our
// tokens instead of a regexp string, and the same choice of match kind.
Result<PatternGlob> PatternGlob::compile(std::string_view p) {
  TRY(compile_glob(p));  // New() rejects what filepath.Match would
  PatternGlob pg;
  pg.text_ = std::string(p);
  auto g = std::make_shared<Glob>();
  Kind kind = Kind::exact;
  size_t i = 0;
  for (int iter = 0; i < p.size(); iter++) {
    char ch = p[i];
    Tok t;
    if (ch == '*') {
      i++;
      if (i < p.size() && p[i] == '*') {
        i++;
        if (i < p.size() && p[i] == '/') i++;
        if (i >= p.size()) {
          if (kind == Kind::exact) {
            kind = Kind::prefix;
          } else {
            kind = Kind::glob;
          }
          t.type = Tok::dstar_all;
        } else {
          t.type = Tok::dstar_slash;
          kind = Kind::glob;
        }
        if (iter == 0) kind = Kind::suffix;
      } else {
        t.type = Tok::star;
        kind = Kind::glob;
      }
    } else if (ch == '?') {
      i++;
      t.type = Tok::any;
      kind = Kind::glob;
    } else if (ch == '\\') {
      i++;
      if (i < p.size()) {
        t.c = next_rune(p, i);
        kind = Kind::glob;
      } else {
        t.c = '\\';
      }
    } else if (ch == '[') {
      TRY_ASSIGN(t, parse_class(p, i));
      kind = Kind::glob;
    } else {
      if (ch == ']') kind = Kind::glob;
      t.c = next_rune(p, i);
    }
    g->toks.push_back(std::move(t));
  }
  pg.kind_ = kind;
  pg.glob_ = std::move(g);
  return pg;
}

bool PatternGlob::matches(std::string_view path) const {
  switch (kind_) {
    case Kind::exact:
      return path == text_;
    case Kind::prefix:
      return path.starts_with(std::string_view(text_).substr(0, text_.size() - 2));
    case Kind::suffix: {
      std::string_view suffix = std::string_view(text_).substr(2);
      if (path.ends_with(suffix)) return true;
      // "**/foo" matches "foo"
      return !suffix.empty() && suffix[0] == '/' && path == suffix.substr(1);
    }
    case Kind::glob:
      return glob_matches(*glob_, path);
  }
  return false;
}

}  // namespace detail

struct IgnoreMatcher::Compiled {
  std::vector<detail::PatternGlob> globs;  // parallel to patterns_
};

namespace {

constexpr size_t kMaxIgnoreLine = 4096;   // PATH_MAX: longer patterns cannot match a path
constexpr size_t kMaxIgnorePatterns = 100000;

std::string_view trim(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<IgnoreMatcher> IgnoreMatcher::parse(std::string_view text, std::string_view filename) {
  IgnoreMatcher m;
  auto compiled = std::make_shared<Compiled>();
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  size_t lineno = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    lineno++;
    auto where = [&] { return std::string(filename) + ":" + std::to_string(lineno) + ": "; };
    if (line.size() > kMaxIgnoreLine)
      return Error(Errc::invalid_input, where() + "line longer than " + std::to_string(kMaxIgnoreLine) + " bytes");
    // ReadAll: a comment is a '#' in the very first column, before trimming.
    if (line.starts_with("#")) continue;
    std::string_view p = trim(line);
    if (p.empty()) continue;
    bool exclusion = p[0] == '!';
    if (exclusion) p = trim(p.substr(1));
    std::string cleaned;
    if (!p.empty()) {
      cleaned = path_clean(p);
      if (cleaned.size() > 1 && cleaned[0] == '/') cleaned.erase(0, 1);
    }
    // New(): "!" + the cleaned pattern is cleaned once more, which only
    // matters for the lone "!" (an error) and for a "!." that stays ".".
    if (exclusion && cleaned.empty())
      return Error(Errc::invalid_input, where() + "illegal exclusion pattern: \"!\"");
    auto g = detail::PatternGlob::compile(cleaned);
    if (!g) return Error(Errc::invalid_input, where() + g.error().message);
    if (m.patterns_.size() >= kMaxIgnorePatterns)
      return Error(Errc::limit, where() + "more than " + std::to_string(kMaxIgnorePatterns) + " patterns");
    m.patterns_.push_back({cleaned, exclusion});
    compiled->globs.push_back(std::move(*g));
  }
  m.compiled_ = std::move(compiled);
  return m;
}

// MatchesOrParentMatches: every pattern in order, matching the path itself or
// any of its parent directories; the last one that applies wins.
bool IgnoreMatcher::excluded(std::string_view rel) const {
  if (patterns_.empty() || rel.empty() || rel == ".") return false;
  const auto& globs = compiled_->globs;
  bool matched = false;
  for (size_t k = 0; k < patterns_.size(); k++) {
    if (patterns_[k].exclusion != matched) continue;
    bool m = globs[k].matches(rel);
    for (size_t slash = rel.find('/'); !m && slash != std::string_view::npos; slash = rel.find('/', slash + 1))
      m = globs[k].matches(rel.substr(0, slash));
    if (m) matched = !patterns_[k].exclusion;
  }
  return matched;
}

// Conservative by design: a wrong "true" only costs a walk into a directory
// whose entries are then excluded one by one; a wrong "false" would lose files.
bool IgnoreMatcher::may_reinclude_under(std::string_view dir) const {
  std::vector<std::string_view> dc;
  for (size_t i = 0; i <= dir.size();) {
    size_t j = dir.find('/', i);
    if (j == std::string_view::npos) j = dir.size();
    if (j > i) dc.push_back(dir.substr(i, j - i));
    i = j + 1;
  }
  for (const auto& pat : patterns_) {
    if (!pat.exclusion) continue;
    std::string_view p = pat.text;
    size_t k = 0;
    bool possible = true;
    size_t i = 0;
    for (; i <= p.size() && k < dc.size();) {
      size_t j = p.find('/', i);
      if (j == std::string_view::npos) j = p.size();
      std::string_view comp = p.substr(i, j - i);
      i = j + 1;
      if (comp.find("**") != std::string_view::npos) break;  // spans any depth: assume it can
      auto g = detail::compile_glob(comp);
      if (!g || !detail::glob_matches(**g, dc[k])) {
        possible = false;
        break;
      }
      k++;
    }
    // Either the pattern goes deeper than `dir`, or it matched `dir` or one
    // of its parents (which re-includes the whole subtree): both may apply.
    if (possible) return true;
  }
  return false;
}

}  // namespace berth::build
