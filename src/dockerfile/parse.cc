// Dockerfile text to logical lines (directives, comments, continuations,
// heredoc bodies), then to instructions and stages. Mirrors BuildKit's
// parser.Parse line handling; see docs/dockerfile.md for where we differ.
#include <algorithm>
#include <cctype>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "dockerfile/dockerfile.h"
#include "dockerfile/internal.h"

namespace berth::dockerfile {
namespace detail {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

Pos LogicalLine::pos_at(size_t off) const {
  if (segs.empty()) return {1, 1};
  auto it = std::upper_bound(segs.begin(), segs.end(), off,
                             [](size_t o, const Segment& s) { return o < s.off; });
  if (it != segs.begin()) --it;
  return {it->line, it->col + static_cast<int>(off - std::min(off, it->off))};
}

std::string printable(std::string_view s, size_t max) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

Error error_at(const Ctx& ctx, Pos pos, std::string_view what, std::string_view offending, Errc code) {
  std::string m = printable(ctx.file, 200) + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column) +
                  ": " + printable(what, 300);
  if (!offending.empty()) m += " (" + printable(offending) + ")";
  return Error(code, std::move(m));
}

}  // namespace detail

namespace {

using detail::Ctx;
using detail::error_at;
using detail::is_space;
using detail::LogicalLine;

std::string_view trim_newline(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}
std::string_view ltrim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}
bool is_comment(std::string_view s) {
  s = ltrim(s);
  return !s.empty() && s.front() == '#';
}

// BuildKit's continuation regex `([^E])E[ \t]*$|^E[ \t]*$`: the escape
// character last on the line (trailing blanks allowed), not itself escaped.
bool trim_continuation(std::string_view& s, char esc) {
  size_t e = s.size();
  while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t')) e--;
  if (e == 0 || s[e - 1] != esc) return false;
  if (e >= 2 && s[e - 2] == esc) return false;
  s = s.substr(0, e - 1);
  return true;
}

// Go's RE2 \s: no \v.
bool re_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }

class Scanner {
 public:
  Scanner(std::string_view text, Ctx& ctx, Dockerfile* directives)
      : text_(text), ctx_(ctx), df_(directives), done_(directives == nullptr) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") {
      text_.remove_prefix(3);
      bom_ = 3;
    }
  }
  int line() const { return line_; }

  // The next instruction's logical line; nullopt at the end.
  Result<std::optional<LogicalLine>> next_logical() {
    std::string_view raw;
    while (next_physical(raw)) {
      std::string_view t0 = trim_newline(raw);
      std::string_view t = ltrim(t0);
      int col = 1 + static_cast<int>(t.data() - raw.data()) + (line_ == 1 ? bom_ : 0);
      if (!done_) TRY(directive(t));
      if (is_comment(t)) t = {};
      bool cont = trim_continuation(t, ctx_.escape);
      if (!cont && t.empty()) continue;
      LogicalLine ll;
      ll.segs.push_back({0, line_, col});
      ll.text.append(t);
      while (cont && next_physical(raw)) {
        // Comment lines and empty lines inside a continuation are dropped.
        if (is_comment(raw)) continue;
        std::string_view c = trim_newline(raw);
        if (ltrim(c).empty()) continue;
        cont = trim_continuation(c, ctx_.escape);
        ll.segs.push_back({ll.text.size(), line_, 1});
        ll.text.append(c);
      }
      ll.end_line = line_;
      if (ltrim(ll.text).empty()) continue;
      return std::optional<LogicalLine>(std::move(ll));
    }
    return std::optional<LogicalLine>();
  }

  // The body of one heredoc: the lines up to its delimiter.
  Status read_heredoc(Heredoc& h, const Instruction& in) {
    std::string content;
    std::string_view raw;
    while (next_physical(raw)) {
      std::string_view cand = trim_newline(raw);
      if (h.strip_tabs)
        while (!cand.empty() && cand.front() == '\t') cand.remove_prefix(1);
      if (cand == h.name) {
        if (h.strip_tabs) content = strip_leading_tabs(content);
        h.content = std::move(content);
        return {};
      }
      if (content.size() + raw.size() > kMaxHeredoc)
        return error_at(ctx_, in.pos, "heredoc larger than " + std::to_string(kMaxHeredoc) + " bytes", "<<" + h.name,
                        Errc::limit);
      content.append(raw);
    }
    return error_at(ctx_, in.pos, "unterminated heredoc <<" + detail::printable(h.name, 40) + ", its delimiter line never came",
                    in.original);
  }

 private:
  bool next_physical(std::string_view& line) {
    if (pos_ >= text_.size()) return false;
    size_t nl = text_.find('\n', pos_);
    size_t end = nl == std::string_view::npos ? text_.size() : nl + 1;
    line = text_.substr(pos_, end - pos_);
    pos_ = end;
    line_++;
    return true;
  }

  static std::string strip_leading_tabs(std::string_view s) {
    std::string out;
    bool bol = true;
    for (char c : s) {
      if (bol && c == '\t') continue;
      bol = c == '\n';
      out += c;
    }
    return out;
  }

  Status end_directives() {
    done_ = true;
    return {};
  }

  // `# key=value` among the first lines; the first line that is not a known
  // directive (a comment, a blank line, an instruction) ends them.
  Status directive(std::string_view t) {
    if (t.empty() || t.front() != '#') return end_directives();
    t.remove_prefix(1);
    while (!t.empty() && is_space(t.front())) t.remove_prefix(1);
    size_t i = 0;
    if (t.empty() || !std::isalpha(static_cast<unsigned char>(t[0]))) return end_directives();
    while (i < t.size() && std::isalnum(static_cast<unsigned char>(t[i]))) i++;
    std::string key(t.substr(0, i));
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    while (i < t.size() && re_space(t[i])) i++;
    if (i >= t.size() || t[i] != '=') return end_directives();
    i++;
    std::string_view rest = t.substr(i);
    std::string_view v = rest;
    while (!v.empty() && re_space(v.front())) v.remove_prefix(1);
    while (!v.empty() && re_space(v.back())) v.remove_suffix(1);
    if (v.empty()) v = rest.substr(0, 1);  // what `=\s*(.+?)\s*$` keeps from blanks
    if (v.empty() || (key != "syntax" && key != "escape" && key != "check")) return end_directives();
    Pos p{line_, 1};
    if (!seen_.insert(key).second) return error_at(ctx_, p, "only one " + key + " parser directive can be used", t);
    if (key == "escape") {
      if (v != "`" && v != "\\") return error_at(ctx_, p, "invalid escape character, it must be ` or \\", v);
      ctx_.escape = v[0];
      df_->escape = v[0];
    } else if (key == "syntax") {
      df_->syntax = std::string(v);
    }
    return {};
  }

  std::string_view text_;
  Ctx& ctx_;
  Dockerfile* df_;
  bool done_;
  int bom_ = 0;
  size_t pos_ = 0;
  int line_ = 0;
  std::set<std::string> seen_;
};

}  // namespace

Result<Dockerfile> parse(std::string_view text, std::string_view filename) {
  Ctx ctx{filename, '\\'};
  if (text.size() > kMaxDockerfile)
    return error_at(ctx, {1, 1}, "Dockerfile larger than " + std::to_string(kMaxDockerfile) + " bytes",
                    std::to_string(text.size()) + " bytes", Errc::limit);
  Dockerfile df;
  Scanner sc(text, ctx, &df);
  std::vector<Instruction> all;
  for (;;) {
    TRY_ASSIGN(std::optional<LogicalLine> ll, sc.next_logical());
    if (!ll) break;
    if (all.size() >= kMaxInstructions)
      return error_at(ctx, ll->pos_at(0), "more than " + std::to_string(kMaxInstructions) + " instructions",
                      ll->text, Errc::limit);
    TRY_ASSIGN(Instruction in, detail::parse_logical(*ll, ctx));
    if (detail::takes_heredocs(in) && in.original.find("<<") != std::string::npos) {
      in.heredocs = detail::heredocs_in_line(in.original);
      for (auto& h : in.heredocs) TRY(sc.read_heredoc(h, in));
      in.end_line = sc.line();
    }
    all.push_back(std::move(in));
  }

  std::set<std::string> names;
  for (auto& in : all) {
    if (in.kind == Kind::from) {
      Stage st;
      if (in.args.size() == 3) st.name = in.args[2];
      if (!st.name.empty() && !names.insert(st.name).second)
        return error_at(ctx, in.pos, "duplicate stage name " + st.name, in.original);
      st.from = std::move(in);
      df.stages.push_back(std::move(st));
    } else if (!df.stages.empty()) {
      df.stages.back().body.push_back(std::move(in));
    } else if (in.kind == Kind::arg) {
      df.meta_args.push_back(std::move(in));
    } else {
      return error_at(ctx, in.pos, std::string(keyword_of(in.kind)) + " before the first FROM", in.original);
    }
  }
  if (df.stages.empty())
    return error_at(ctx, {std::max(sc.line(), 1), 1}, "no FROM instruction: a Dockerfile needs at least one stage", "");
  return df;
}

Result<Instruction> parse_instruction(std::string_view text, char escape) {
  Ctx ctx{"instruction", escape};
  if (escape != '\\' && escape != '`')
    return error_at(ctx, {1, 1}, "invalid escape character, it must be ` or \\", std::string(1, escape));
  if (text.size() > kMaxDockerfile)
    return error_at(ctx, {1, 1}, "instruction larger than " + std::to_string(kMaxDockerfile) + " bytes",
                    std::to_string(text.size()) + " bytes", Errc::limit);
  Scanner sc(text, ctx, nullptr);
  TRY_ASSIGN(std::optional<LogicalLine> ll, sc.next_logical());
  if (!ll) return error_at(ctx, {1, 1}, "empty instruction", "");
  TRY_ASSIGN(std::optional<LogicalLine> more, sc.next_logical());
  if (more) return error_at(ctx, more->pos_at(0), "more than one instruction", more->text);
  TRY_ASSIGN(Instruction in, detail::parse_logical(*ll, ctx));
  if (in.kind == Kind::from) return error_at(ctx, in.pos, "FROM is not allowed here", in.original);
  if (detail::takes_heredocs(in) && !detail::heredocs_in_line(in.original).empty())
    return error_at(ctx, in.pos, "heredocs are not allowed here", in.original);
  return in;
}

}  // namespace berth::dockerfile
