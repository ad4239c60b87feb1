// One logical line to one Instruction: keyword, builder flags, and the
// argument shape each instruction takes (BuildKit's splitCommand, line
// parsers and instructions/parse.go checks, with their messages).
#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dockerfile/dockerfile.h"
#include "dockerfile/internal.h"

namespace berth::dockerfile {
namespace {

using detail::Ctx;
using detail::error_at;
using detail::is_space;
using detail::LogicalLine;

struct KindName {
  Kind kind;
  const char* name;
};
constexpr KindName kKinds[] = {
    {Kind::from, "FROM"},       {Kind::run, "RUN"},
    {Kind::cmd, "CMD"},         {Kind::entrypoint, "ENTRYPOINT"},
    {Kind::shell, "SHELL"},     {Kind::env, "ENV"},
    {Kind::label, "LABEL"},     {Kind::arg, "ARG"},
    {Kind::copy, "COPY"},       {Kind::add, "ADD"},
    {Kind::workdir, "WORKDIR"}, {Kind::user, "USER"},
    {Kind::expose, "EXPOSE"},   {Kind::volume, "VOLUME"},
    {Kind::stopsignal, "STOPSIGNAL"}, {Kind::healthcheck, "HEALTHCHECK"},
    {Kind::onbuild, "ONBUILD"}, {Kind::maintainer, "MAINTAINER"},
};

enum class FlagType { string, boolean, strings };
struct FlagSpec {
  Kind kind;
  const char* name;
  FlagType type;
};
constexpr FlagSpec kFlags[] = {
    {Kind::from, "platform", FlagType::string},
    {Kind::run, "mount", FlagType::strings},
    {Kind::run, "network", FlagType::string},
    {Kind::run, "security", FlagType::string},
    {Kind::copy, "from", FlagType::string},
    {Kind::copy, "chown", FlagType::string},
    {Kind::copy, "chmod", FlagType::string},
    {Kind::copy, "link", FlagType::boolean},
    {Kind::copy, "parents", FlagType::boolean},
    {Kind::copy, "exclude", FlagType::strings},
    {Kind::add, "chown", FlagType::string},
    {Kind::add, "chmod", FlagType::string},
    {Kind::add, "link", FlagType::boolean},
    {Kind::add, "checksum", FlagType::string},
    {Kind::add, "keep-git-dir", FlagType::boolean},
    {Kind::add, "exclude", FlagType::strings},
    {Kind::healthcheck, "interval", FlagType::string},
    {Kind::healthcheck, "timeout", FlagType::string},
    {Kind::healthcheck, "start-period", FlagType::string},
    {Kind::healthcheck, "start-interval", FlagType::string},
    {Kind::healthcheck, "retries", FlagType::string},
};

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// BuildKit's reWhitespace ([\t\v\f\r ]), the separator of keyword and words.
bool is_sep(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r'; }

struct Word {
  std::string_view text;
  size_t off;  // in the logical line
};

// Whitespace-separated words of `s` (which starts at `base` in the line).
std::vector<Word> split_ws(std::string_view s, size_t base) {
  std::vector<Word> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_sep(s[i])) i++;
    size_t b = i;
    while (i < s.size() && !is_sep(s[i])) i++;
    if (i > b) out.push_back({s.substr(b, i - b), base + b});
  }
  return out;
}

// BuildKit's parseWords: words for ENV/LABEL/ARG, quotes and escapes kept
// (they are removed at expansion time), split on unquoted whitespace.
std::vector<std::string> quoted_words(std::string_view s, char esc) {
  std::vector<std::string> words;
  std::string b;
  enum { spaces, word, quote } phase = spaces;
  char q = 0;
  bool blank_ok = false;
  for (size_t i = 0; i <= s.size(); i++) {
    bool end = i == s.size();
    char ch = end ? 0 : s[i];
    if (phase == spaces) {
      if (end) break;
      if (is_space(ch)) continue;
      phase = word;
    }
    if (end) {
      if (blank_ok || !b.empty()) words.push_back(b);
      break;
    }
    if (phase == word) {
      if (is_space(ch)) {
        phase = spaces;
        if (blank_ok || !b.empty()) words.push_back(b);
        b.clear();
        blank_ok = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        q = ch;
        blank_ok = true;
        phase = quote;
      }
      if (ch == esc) {
        if (i + 1 == s.size()) continue;  // an escape at the end is dropped
        b += ch;
        ch = s[++i];
      }
      b += ch;
      continue;
    }
    if (ch == q) phase = word;
    if (ch == esc && q != '\'') {
      if (i + 1 == s.size()) {
        phase = word;
        continue;
      }
      b += ch;
      ch = s[++i];
    }
    b += ch;
  }
  return words;
}

// Counts top-level strings and notes anything else, without building a DOM
// (no recursion, no allocation beyond the strings).
struct ArraySax : nlohmann::json_sax<nlohmann::json> {
  std::vector<std::string> strings;
  int depth = 0;
  bool top_is_array = false;
  bool non_string = false;
  void scalar() {
    if (depth <= 1) non_string = true;
  }
  bool null() override { return scalar(), true; }
  bool boolean(bool) override { return scalar(), true; }
  bool number_integer(number_integer_t) override { return scalar(), true; }
  bool number_unsigned(number_unsigned_t) override { return scalar(), true; }
  bool number_float(number_float_t, const string_t&) override { return scalar(), true; }
  bool string(string_t& s) override {
    if (depth == 1) strings.push_back(std::move(s));
    if (depth == 0) non_string = true;
    return true;
  }
  bool binary(binary_t&) override { return scalar(), true; }
  bool start_object(std::size_t) override { return scalar(), ++depth, true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return --depth, true; }
  bool start_array(std::size_t) override {
    if (depth == 0) top_is_array = true; else if (depth == 1) non_string = true;
    return ++depth, true;
  }
  bool end_array() override { return --depth, true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }
};

enum class Json { no, not_strings, yes };

// BuildKit's parseJSON: an array of strings after optional whitespace; a
// valid array holding anything else is an error, invalid JSON is not JSON.
Json json_array(std::string_view s, std::vector<std::string>& out) {
  size_t i = 0;
  while (i < s.size() && is_space(s[i])) i++;
  if (i == s.size() || s[i] != '[') return Json::no;
  ArraySax sax;
  if (!nlohmann::json::sax_parse(s.begin() + i, s.end(), &sax) || !sax.top_is_array) return Json::no;
  if (sax.non_string) return Json::not_strings;
  out = std::move(sax.strings);
  return Json::yes;
}

std::string_view trim(std::string_view s, size_t* lead = nullptr) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) b++;
  while (e > b && is_space(s[e - 1])) e--;
  if (lead) *lead = b;
  return s.substr(b, e - b);
}

struct RawFlag {
  std::string word;  // quotes removed, escapes applied
  size_t off;
};

// BuildKit's extractBuilderFlags: leading `--x` words; returns the offset
// where the arguments start.
size_t extract_flags(std::string_view line, size_t base, char esc, std::vector<RawFlag>& flags) {
  enum { spaces, word, quote } phase = spaces;
  std::string b;
  size_t start = 0;
  char q = 0;
  bool blank_ok = false;
  for (size_t pos = 0; pos <= line.size(); pos++) {
    bool end = pos == line.size();
    char ch = end ? 0 : line[pos];
    if (phase == spaces) {
      if (end) break;
      if (is_space(ch)) continue;
      if (ch != '-' || pos + 1 == line.size() || line[pos + 1] != '-') return base + pos;
      phase = word;
      start = pos;
    }
    if (end) {
      if (b != "--" && (blank_ok || !b.empty())) flags.push_back({b, base + start});
      break;
    }
    if (phase == word) {
      if (is_space(ch)) {
        phase = spaces;
        if (b == "--") return base + pos;
        if (blank_ok || !b.empty()) flags.push_back({b, base + start});
        b.clear();
        blank_ok = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        q = ch;
        blank_ok = true;
        phase = quote;
        continue;
      }
      if (ch == esc) {
        if (pos + 1 == line.size()) continue;
        ch = line[++pos];
      }
      b += ch;
      continue;
    }
    if (ch == q) {
      phase = word;
      continue;
    }
    if (ch == esc) {
      if (pos + 1 == line.size()) {
        phase = word;
        continue;
      }
      ch = line[++pos];
    }
    b += ch;
  }
  return base + line.size();
}

class InstructionParser {
 public:
  InstructionParser(const LogicalLine& ll, const Ctx& ctx) : ll_(ll), ctx_(ctx) {}

  Result<Instruction> run() {
    std::string_view t = ll_.text;
    size_t k = 0;
    while (k < t.size() && is_space(t[k])) k++;
    size_t ke = k;
    while (ke < t.size() && !is_sep(t[ke])) ke++;
    std::string kw = upper(t.substr(k, ke - k));
    in_.pos = ll_.pos_at(k);
    in_.end_line = ll_.end_line;
    in_.original = ll_.text;
    const KindName* kn = nullptr;
    for (const auto& x : kKinds)
      if (kw == x.name) kn = &x;
    if (!kn) return fail(in_.pos, "unknown instruction " + detail::printable(kw, 40));
    in_.kind = kn->kind;
    kw_ = kn->name;

    size_t a = ke;
    while (a < t.size() && is_sep(t[a])) a++;
    std::vector<RawFlag> raw;
    size_t rest_off = extract_flags(t.substr(a), a, ctx_.escape, raw);
    size_t lead = 0;
    rest_ = trim(t.substr(std::min(rest_off, t.size())), &lead);
    rest_off_ = rest_off + lead;
    TRY(take_flags(raw));
    TRY(arguments());
    return std::move(in_);
  }

 private:
  Error fail(Pos p, std::string what) const { return error_at(ctx_, p, what, ll_.text); }
  Error fail(std::string what) const { return fail(in_.pos, std::move(what)); }
  Pos at(size_t off) const { return ll_.pos_at(off); }

  Status take_flags(const std::vector<RawFlag>& raw) {
    for (const auto& rf : raw) {
      Pos p = at(rf.off);
      std::string_view w = rf.word;
      auto eq = w.find('=');
      std::string_view name = w.substr(2, eq == std::string_view::npos ? std::string_view::npos : eq - 2);
      const FlagSpec* spec = nullptr;
      for (const auto& f : kFlags)
        if (f.kind == in_.kind && name == f.name) spec = &f;
      if (!spec) return error_at(ctx_, p, std::string("unknown flag for ") + kw_, w);
      Flag f;
      f.name = std::string(name);
      f.has_value = eq != std::string_view::npos;
      if (f.has_value) f.value = std::string(w.substr(eq + 1));
      f.pos = p;
      if (spec->type != FlagType::strings && in_.flag(f.name))
        return error_at(ctx_, p, std::string("duplicate flag for ") + kw_, w);
      if (spec->type == FlagType::boolean) {
        std::string v = f.value;
        for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (f.has_value && v != "true" && v != "false")
          return error_at(ctx_, p, "expecting true or false as the value of a boolean flag", w);
      } else if (!f.has_value) {
        return error_at(ctx_, p, "missing a value on flag", w);
      }
      in_.flags.push_back(std::move(f));
    }
    return {};
  }

  Status arguments() {
    switch (in_.kind) {
      case Kind::from: return from();
      case Kind::run:
      case Kind::cmd:
      case Kind::entrypoint:
      case Kind::shell: return maybe_json();
      case Kind::env:
      case Kind::label: return name_values();
      case Kind::arg: return arg();
      case Kind::copy:
      case Kind::add: return copy_add();
      case Kind::workdir:
      case Kind::user:
      case Kind::stopsignal:
      case Kind::maintainer:
        if (rest_.empty()) return fail(std::string(kw_) + " requires exactly one argument");
        in_.args = {std::string(rest_)};
        return {};
      case Kind::expose: return words(false);
      case Kind::volume: return words(true);
      case Kind::healthcheck: return healthcheck();
      case Kind::onbuild: return onbuild();
    }
    return {};
  }

  Status from() {
    auto w = split_ws(rest_, rest_off_);
    if (w.size() == 3 && upper(w[1].text) == "AS") {
      std::string name(w[2].text);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      bool ok = !name.empty() && name[0] >= 'a' && name[0] <= 'z';
      for (char c : name)
        ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.');
      if (!ok)
        return error_at(ctx_, at(w[2].off),
                        "invalid stage name: it must start with a letter and hold only letters, digits, '-', '_', '.'",
                        w[2].text);
      in_.args = {std::string(w[0].text), "AS", name};
      return {};
    }
    if (w.size() != 1) return fail("FROM requires either one or three arguments (image [AS name])");
    in_.args = {std::string(w[0].text)};
    return {};
  }

  // `text` (at `off` in the line) as the exec form: true with in_.args set
  // when it is a JSON array of strings, false when it is not JSON at all (the
  // caller takes its other form), an error for JSON holding non-strings.
  Result<bool> take_json(std::string_view text, size_t off) {
    std::vector<std::string> arr;
    switch (json_array(text, arr)) {
      case Json::not_strings:
        return error_at(ctx_, at(off), "a JSON array here must hold only strings", text);
      case Json::yes:
        in_.json = true;
        in_.args = std::move(arr);
        return true;
      case Json::no:
        break;
    }
    return false;
  }

  Status maybe_json() {
    TRY_ASSIGN(bool json, take_json(rest_, rest_off_));
    if (json) {
      if (in_.args.empty() && (in_.kind == Kind::run || in_.kind == Kind::shell))
        return fail(std::string(kw_) + " requires at least one argument");
      return {};
    }
    if (in_.kind == Kind::shell) return fail("SHELL requires the arguments to be in JSON form");
    if (rest_.empty()) return fail(std::string(kw_) + " requires at least one argument");
    in_.args = {std::string(rest_)};
    return {};
  }

  Status name_values() {
    auto words = quoted_words(rest_, ctx_.escape);
    if (words.empty()) return fail(std::string(kw_) + " requires at least one argument");
    if (words[0].find('=') == std::string::npos) {
      // The legacy `ENV key value...` form: the value is the rest of the line.
      auto w = split_ws(rest_, 0);
      if (w.size() < 2) return fail(std::string(kw_) + " must have two arguments (the legacy form is " + kw_ + " key value)");
      size_t v = w[1].off;
      in_.pairs.push_back({std::string(w[0].text), std::string(rest_.substr(v))});
      return {};
    }
    for (const auto& word : words) {
      auto eq = word.find('=');
      if (eq == std::string::npos)
        return fail("can't find = in " + detail::printable(word, 60) + ", it must be of the form name=value");
      if (eq == 0) return fail(std::string(kw_) + " names can not be blank");
      in_.pairs.push_back({word.substr(0, eq), word.substr(eq + 1)});
    }
    return {};
  }

  Status arg() {
    auto words = quoted_words(rest_, ctx_.escape);
    if (words.empty()) return fail("ARG requires at least one argument");
    for (const auto& word : words) {
      auto eq = word.find('=');
      if (eq == 0) return fail("ARG names can not be blank");
      if (eq == std::string::npos) {
        in_.pairs.push_back({word, std::nullopt});
      } else {
        in_.pairs.push_back({word.substr(0, eq), word.substr(eq + 1)});
      }
    }
    return {};
  }

  Status copy_add() {
    TRY_ASSIGN(bool json, take_json(rest_, rest_off_));
    if (!json)
      for (const auto& w : split_ws(rest_, rest_off_)) in_.args.emplace_back(w.text);
    if (in_.args.size() < 2)
      return fail(std::string(kw_) + " requires at least two arguments: sources and a destination");
    if (!in_.json && detail::heredoc_word(in_.args.back()))
      return fail(std::string(kw_) + " cannot take a heredoc as its destination");
    return {};
  }

  Status words(bool maybe_json_list) {
    if (maybe_json_list) {
      TRY_ASSIGN(bool json, take_json(rest_, rest_off_));
      if (json)
        for (const auto& a : in_.args)
          if (trim(a).empty()) return fail("VOLUME paths can not be empty");
    }
    if (!in_.json)
      for (const auto& w : split_ws(rest_, rest_off_)) in_.args.emplace_back(w.text);
    if (in_.args.empty()) return fail(std::string(kw_) + " requires at least one argument");
    return {};
  }

  Status healthcheck() {
    size_t sep = 0;
    while (sep < rest_.size() && !is_space(rest_[sep])) sep++;
    std::string typ = upper(rest_.substr(0, sep));
    std::string_view cmd = trim(rest_.substr(sep));
    size_t cmd_off = rest_off_ + static_cast<size_t>(cmd.data() - rest_.data());
    if (typ.empty()) return fail("HEALTHCHECK requires at least one argument");
    if (typ == "NONE") {
      if (!cmd.empty() || !in_.flags.empty()) return fail("HEALTHCHECK NONE takes no arguments");
      in_.args = {"NONE"};
      in_.healthcheck_none = true;
      return {};
    }
    if (typ != "CMD") return fail("unknown HEALTHCHECK type " + detail::printable(typ, 40) + " (try CMD)");
    TRY_ASSIGN(bool json, take_json(cmd, cmd_off));
    if (!json && !cmd.empty()) in_.args = {std::string(cmd)};
    if (in_.args.empty()) return fail("missing command after HEALTHCHECK CMD");
    return {};
  }

  Status onbuild() {
    if (rest_.empty()) return fail("ONBUILD requires at least one argument");
    size_t e = 0;
    while (e < rest_.size() && !is_sep(rest_[e])) e++;
    std::string trig = upper(rest_.substr(0, e));
    if (trig == "ONBUILD") return fail("chaining ONBUILD via ONBUILD ONBUILD isn't allowed");
    if (trig == "FROM" || trig == "MAINTAINER") return fail(trig + " isn't allowed as an ONBUILD trigger");
    // Check the trigger now, so a broken one fails this build, not a later one.
    LogicalLine sub;
    sub.text = std::string(rest_);
    sub.end_line = ll_.end_line;
    for (size_t i = 0; i < ll_.segs.size(); i++) {
      const auto& s = ll_.segs[i];
      bool covers = s.off <= rest_off_ && (i + 1 == ll_.segs.size() || ll_.segs[i + 1].off > rest_off_);
      if (covers) sub.segs.push_back({0, s.line, s.col + static_cast<int>(rest_off_ - s.off)});
      if (s.off > rest_off_) sub.segs.push_back({s.off - rest_off_, s.line, s.col});
    }
    TRY_ASSIGN(Instruction t, detail::parse_logical(sub, ctx_));
    if (detail::takes_heredocs(t) && !detail::heredocs_in_line(t.original).empty())
      return fail("heredocs are not supported in ONBUILD triggers");
    in_.args = {std::string(rest_)};
    return {};
  }

  const LogicalLine& ll_;
  const Ctx& ctx_;
  Instruction in_;
  const char* kw_ = "";
  std::string_view rest_;
  size_t rest_off_ = 0;
};

}  // namespace

const char* keyword_of(Kind k) {
  for (const auto& x : kKinds)
    if (x.kind == k) return x.name;
  return "?";
}

// Flags are stored without their dashes; "--mount" and "mount" both work.
const Flag* Instruction::flag(std::string_view name) const {
  if (name.substr(0, 2) == "--") name.remove_prefix(2);
  for (auto it = flags.rbegin(); it != flags.rend(); ++it)
    if (it->name == name) return &*it;
  return nullptr;
}

std::vector<const Flag*> Instruction::all_flags(std::string_view name) const {
  if (name.substr(0, 2) == "--") name.remove_prefix(2);
  std::vector<const Flag*> out;
  for (const auto& f : flags)
    if (f.name == name) out.push_back(&f);
  return out;
}

namespace detail {

Result<Instruction> parse_logical(const LogicalLine& ll, const Ctx& ctx) {
  return InstructionParser(ll, ctx).run();
}

bool takes_heredocs(const Instruction& in) {
  return !in.json && (in.kind == Kind::run || in.kind == Kind::copy || in.kind == Kind::add);
}

}  // namespace detail
}  // namespace berth::dockerfile
