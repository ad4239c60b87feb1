// Word expansion: a port of the behaviour of BuildKit's shell.Lex
// (ProcessWord/ProcessWords), byte-wise (every special character is ASCII).
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "dockerfile/dockerfile.h"
#include "dockerfile/internal.h"

namespace berth::dockerfile {
namespace {

using detail::is_space;
using detail::LexOptions;

// ${a:-${b:-${c...}}} and "${a:-"${b}"}" recurse; a hostile word must not
// exhaust the stack.
constexpr int kMaxDepth = 64;
constexpr int kEof = -1;

Error lex_error(std::string m) { return Error(Errc::invalid_input, std::move(m)); }

// Words under construction, splitting on unquoted whitespace as ProcessWords
// does: expanded values are split, quoted text never is.
struct Words {
  std::string buf;
  std::vector<std::string> words;
  bool in_word = false;

  void add_char(char c) {
    if (is_space(c)) {
      if (in_word && !buf.empty()) {
        words.push_back(std::move(buf));
        buf.clear();
        in_word = false;
      }
    } else {
      add_raw_char(c);
    }
  }
  void add_raw_char(char c) {
    buf += c;
    in_word = true;
  }
  void add_string(std::string_view s) {
    for (char c : s) add_char(c);
  }
  void add_raw_string(std::string_view s) {
    buf += s;
    in_word = true;
  }
  std::vector<std::string> take() {
    if (!buf.empty()) words.push_back(std::move(buf));
    buf.clear();
    in_word = false;
    return std::move(words);
  }
};

// One shell glob element: a literal byte, '?' (one character) or '*'.
struct GlobTok {
  enum Kind { lit, one, any } kind;
  char c = 0;
};

Result<std::vector<GlobTok>> compile_glob(std::string_view p) {
  std::vector<GlobTok> out;
  for (size_t i = 0; i < p.size(); i++) {
    char c = p[i];
    if (c == '*') {
      out.push_back({GlobTok::any});
    } else if (c == '?') {
      out.push_back({GlobTok::one});
    } else if (c == '\\') {
      // \} and \/ only protect the ${} syntax; they are not pattern escapes.
      if (i + 1 < p.size() && (p[i + 1] == '}' || p[i + 1] == '/')) continue;
      if (i + 1 >= p.size() || (p[i + 1] != '*' && p[i + 1] != '?' && p[i + 1] != '\\'))
        return lex_error("invalid escape in pattern '" + std::string(p) + "'");
      out.push_back({GlobTok::lit, p[++i]});
    } else {
      out.push_back({GlobTok::lit, c});
    }
  }
  return out;
}

size_t utf8_len(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
  return std::min(n, s.size() - i);
}
bool char_boundary(std::string_view s, size_t i) {
  return i == 0 || i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xc0) != 0x80;
}

// Whole-string glob match; the classic single-backtrack-point algorithm
// (O(len(s) * len(g))), which is exact for globs without bracket classes.
bool glob_match(const std::vector<GlobTok>& g, std::string_view s) {
  size_t gi = 0, si = 0, star_g = std::string::npos, star_s = 0;
  while (si < s.size()) {
    if (gi < g.size() && g[gi].kind == GlobTok::any) {
      star_g = gi++;
      star_s = si;
    } else if (gi < g.size() && g[gi].kind == GlobTok::one) {
      gi++;
      si += utf8_len(s, si);
    } else if (gi < g.size() && g[gi].kind == GlobTok::lit && g[gi].c == s[si]) {
      gi++;
      si++;
    } else if (star_g != std::string::npos) {
      gi = star_g + 1;
      si = ++star_s;
    } else {
      return false;
    }
  }
  while (gi < g.size() && g[gi].kind == GlobTok::any) gi++;
  return gi == g.size();
}

class Lexer {
 public:
  struct Out {
    std::string result;
    std::vector<std::string> words;
  };

  Lexer(std::string_view s, const Lookup* vars, const LexOptions& o,
        std::vector<std::string>* seen = nullptr, bool never_fail_on_unset = false)
      : s_(s), vars_(vars), o_(o), raw_escapes_(o.raw_escapes), seen_(seen),
        never_fail_(never_fail_on_unset) {}

  // BuildKit's processStopOn: up to `stop` (consumed) or the end of input.
  Result<Out> stop_on(int stop, bool raw_escapes) {
    bool saved = raw_escapes_;
    raw_escapes_ = raw_escapes;
    auto r = stop_on_impl(stop);
    raw_escapes_ = saved;
    return r;
  }
  bool at_eof() const { return i_ >= s_.size(); }

 private:
  int peek() const { return i_ < s_.size() ? static_cast<unsigned char>(s_[i_]) : kEof; }
  int next() { return i_ < s_.size() ? static_cast<unsigned char>(s_[i_++]) : kEof; }
  int esc() const { return static_cast<unsigned char>(o_.escape); }

  Result<Out> stop_on_impl(int stop) {
    Out out;
    Words words;
    while (peek() != kEof) {
      int ch = peek();
      if (stop != kEof && ch == stop) {
        next();
        out.words = words.take();
        return out;
      }
      if (ch == '$' || ch == '<' || ch == '\'' || ch == '"') {
        Result<std::string> r = ch == '$'    ? dollar()
                                : ch == '<'  ? possible_heredoc()
                                : ch == '\'' ? single_quote()
                                             : double_quote();
        if (!r.ok()) return std::move(r).error();
        out.result += *r;
        if (ch == '$') {
          words.add_string(*r);
        } else {
          words.add_raw_string(*r);
        }
        continue;
      }
      ch = next();
      if (ch == esc()) {
        if (raw_escapes_) {
          words.add_raw_char(static_cast<char>(ch));
          out.result += static_cast<char>(ch);
        }
        ch = next();
        if (ch == kEof) break;  // an escape at the very end is dropped
        words.add_raw_char(static_cast<char>(ch));
      } else {
        words.add_char(static_cast<char>(ch));
      }
      out.result += static_cast<char>(ch);
    }
    if (stop != kEof)
      return lex_error(std::string("unexpected end of statement while looking for matching ") +
                       static_cast<char>(stop));
    out.words = words.take();
    return out;
  }

  Result<std::string> single_quote() {
    std::string r;
    int ch = next();
    if (o_.raw_quotes) r += static_cast<char>(ch);
    for (;;) {
      ch = next();
      if (ch == kEof) return lex_error("unexpected end of statement while looking for matching single-quote");
      if (ch == '\'') {
        if (o_.raw_quotes) r += '\'';
        return r;
      }
      r += static_cast<char>(ch);
    }
  }

  Result<std::string> double_quote() {
    std::string r;
    int ch = next();
    if (o_.raw_quotes) r += static_cast<char>(ch);
    for (;;) {
      int p = peek();
      if (p == kEof) return lex_error("unexpected end of statement while looking for matching double-quote");
      if (p == '"') {
        next();
        if (o_.raw_quotes) r += '"';
        return r;
      }
      if (p == '$') {
        auto v = dollar();
        if (!v.ok()) return std::move(v).error();
        r += *v;
        continue;
      }
      ch = next();
      if (ch == esc()) {
        if (raw_escapes_) r += static_cast<char>(ch);
        int q = peek();
        if (q == kEof) continue;  // the loop then reports the missing quote
        // Only ", $ and the escape itself are escapable; other escapes stay.
        if (q == '"' || q == '$' || q == esc()) ch = next();
      }
      r += static_cast<char>(ch);
    }
  }

  Result<std::string> possible_heredoc() {
    next();
    if (peek() != '<') return std::string("<");
    next();
    // `<< EOF` stays one word, so heredoc detection sees the delimiter.
    std::string r = "<<";
    while (peek() == '\t' || peek() == '\r' || peek() == ' ') r += static_cast<char>(next());
    return r;
  }

  std::string name() {
    std::string n;
    while (peek() != kEof) {
      int ch = peek();
      if (n.empty() && ch >= '0' && ch <= '9') {
        while (peek() >= '0' && peek() <= '9') n += static_cast<char>(next());
        return n;
      }
      if (n.empty() && std::string_view("@*#?-$!0").find(static_cast<char>(ch)) != std::string_view::npos)
        return std::string(1, static_cast<char>(next()));
      bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
      if (!ok) break;
      n += static_cast<char>(next());
    }
    return n;
  }

  std::optional<std::string> get(const std::string& n) {
    if (seen_ && std::find(seen_->begin(), seen_->end(), n) == seen_->end()) seen_->push_back(n);
    if (!vars_ || !*vars_) return std::nullopt;
    return (*vars_)(n);
  }

  Result<std::string> dollar() {
    if (++depth_ > kMaxDepth) return lex_error("substitutions nested too deeply");
    auto r = dollar_impl();
    depth_--;
    return r;
  }

  Result<std::string> dollar_impl() {
    next();  // '$'
    if (peek() != '{') {
      std::string n = name();
      if (n.empty()) return std::string("$");
      auto v = get(n);
      if (!v && o_.skip_unset) return "$" + n;
      return v.value_or("");
    }
    next();  // '{'
    int p = peek();
    if (p == kEof) return lex_error("syntax error: missing '}'");
    if (p == '{' || p == '}' || p == ':') return lex_error("syntax error: bad substitution");
    std::string n = name();
    int ch = next();
    if (ch == kEof) return lex_error("syntax error: missing '}'");
    std::string mod(1, static_cast<char>(ch));
    if (ch == '}') {
      auto v = get(n);
      if (!v && o_.skip_unset) return "${" + n + "}";
      return v.value_or("");
    }
    if (ch == '/') return replace(n);
    bool null_is_unset = false;
    if (ch == ':') {
      null_is_unset = true;
      ch = next();
      if (ch == kEof) return lex_error("syntax error: missing '}'");
      mod += static_cast<char>(ch);
    }
    if (ch != '+' && ch != '-' && ch != '?' && ch != '#' && ch != '%')
      return lex_error("unsupported modifier (" + mod + ") in substitution");
    bool pattern = ch == '#' || ch == '%';
    if (null_is_unset && pattern) return lex_error("unsupported modifier (" + mod + ") in substitution");
    auto w = stop_on('}', pattern);
    if (!w.ok()) {
      if (at_eof()) return lex_error("syntax error: missing '}'");
      return std::move(w).error();
    }
    std::string word = std::move(w->result);
    auto v = get(n);
    if (!v && o_.skip_unset) return "${" + n + mod + word + "}";
    bool set = v.has_value();
    std::string value = v.value_or("");
    bool empty_or_unset = !set || (null_is_unset && value.empty());
    switch (ch) {
      case '-':
        return empty_or_unset ? word : value;
      case '+':
        return empty_or_unset ? std::string() : word;
      case '?':
        if (never_fail_) return value;
        if (!set) return lex_error(n + ": " + (word.empty() ? "is not allowed to be unset" : word));
        if (null_is_unset && value.empty())
          return lex_error(n + ": " + (word.empty() ? "is not allowed to be empty" : word));
        return value;
      default:
        break;
    }
    // # and % take the shortest match, ## and %% the longest.
    bool greedy = !word.empty() && word[0] == ch;
    if (greedy) word.erase(0, 1);
    auto g = compile_glob(word);
    if (!g.ok()) return std::move(g).error();
    const size_t n_ = value.size();
    if (ch == '#') {
      for (size_t k = 0; k <= n_; k++) {
        size_t len = greedy ? n_ - k : k;
        if (char_boundary(value, len) && glob_match(*g, std::string_view(value).substr(0, len)))
          return value.substr(len);
      }
    } else {
      for (size_t k = 0; k <= n_; k++) {
        size_t start = greedy ? k : n_ - k;
        if (char_boundary(value, start) && glob_match(*g, std::string_view(value).substr(start)))
          return value.substr(0, start);
      }
    }
    return value;
  }

  // ${VAR/pattern/replacement} (first match) and ${VAR//pattern/replacement}
  // (every match); leftmost, longest, as BuildKit's greedy regexp.
  Result<std::string> replace(const std::string& n) {
    bool all = peek() == '/';
    if (all) next();
    auto pat = stop_on('/', true);
    if (!pat.ok()) {
      if (at_eof()) return lex_error("syntax error: missing '/' in ${}");
      return std::move(pat).error();
    }
    auto rep = stop_on('}', true);
    if (!rep.ok()) {
      if (at_eof()) return lex_error("syntax error: missing '}'");
      return std::move(rep).error();
    }
    auto v = get(n);
    if (!v && o_.skip_unset) return "${" + n + "/" + pat->result + "/" + rep->result + "}";
    auto g = compile_glob(pat->result);
    if (!g.ok()) return std::move(g).error();
    std::string_view value = v ? std::string_view(*v) : std::string_view();
    std::string out;
    size_t i = 0;
    bool done = false;
    while (i <= value.size()) {
      size_t match_len = std::string::npos;
      if (!done && char_boundary(value, i)) {
        for (size_t len = value.size() - i + 1; len-- > 0;) {
          if (char_boundary(value, i + len) && glob_match(*g, value.substr(i, len))) {
            match_len = len;
            break;
          }
        }
      }
      if (match_len == std::string::npos) {
        if (i < value.size()) out += value[i];
        i++;
        continue;
      }
      out += rep->result;
      if (!all) done = true;
      if (match_len == 0) {
        if (i < value.size()) out += value[i];
        i++;
      } else {
        i += match_len;
      }
    }
    return out;
  }

  std::string_view s_;
  size_t i_ = 0;
  const Lookup* vars_;
  LexOptions o_;
  bool raw_escapes_;
  std::vector<std::string>* seen_;
  bool never_fail_;
  int depth_ = 0;
};

Error word_error(const Error& e, std::string_view word) {
  // The why can quote the word's own bytes (a ${VAR:?message}): keep it one line.
  return Error(e.code, detail::printable(e.message, 200) + " (" + detail::printable(word) + ")");
}

}  // namespace

namespace detail {
Result<std::vector<std::string>> lex_words(std::string_view text, const Lookup& vars, const LexOptions& o) {
  Lexer lx(text, &vars, o);
  auto r = lx.stop_on(kEof, o.raw_escapes);
  if (!r.ok()) return word_error(r.error(), text);
  return std::move(r->words);
}
}  // namespace detail

Result<std::string> expand_word(std::string_view word, const Lookup& vars, char escape) {
  LexOptions o;
  o.escape = escape;
  Lexer lx(word, &vars, o);
  auto r = lx.stop_on(kEof, false);
  if (!r.ok()) return word_error(r.error(), word);
  return std::move(r->result);
}

Result<std::vector<std::string>> expand_words(std::string_view text, const Lookup& vars, char escape) {
  LexOptions o;
  o.escape = escape;
  return detail::lex_words(text, vars, o);
}

std::vector<std::string> referenced_vars(std::string_view word, char escape) {
  std::vector<std::string> seen;
  LexOptions o;
  o.escape = escape;
  Lookup none;
  Lexer lx(word, &none, o, &seen, true);
  (void)lx.stop_on(kEof, false);  // a malformed tail still leaves what was seen before it
  return seen;
}

}  // namespace berth::dockerfile
