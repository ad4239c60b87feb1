// Heredoc openers, found as BuildKit finds them: the line is split into
// shell words (quotes and escapes kept, nothing expanded) and each word is
// matched against `^(\d*)<<(-?)\s*([^<]*)$`.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "dockerfile/dockerfile.h"
#include "dockerfile/internal.h"

namespace berth::dockerfile::detail {
namespace {

size_t count_quotes(std::string_view s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\'') + std::count(s.begin(), s.end(), '"'));
}

}  // namespace

std::optional<Heredoc> heredoc_word(std::string_view w) {
  size_t i = 0;
  while (i < w.size() && w[i] >= '0' && w[i] <= '9') i++;  // a file descriptor; ignored as in BuildKit
  if (w.substr(i, 2) != "<<") return std::nullopt;
  i += 2;
  bool chomp = i < w.size() && w[i] == '-';
  if (chomp) i++;
  while (i < w.size() && (w[i] == ' ' || w[i] == '\t' || w[i] == '\n' || w[i] == '\f' || w[i] == '\r')) i++;
  std::string_view rest = w.substr(i);
  if (rest.empty() || rest.find('<') != std::string_view::npos) return std::nullopt;

  // The delimiter is quoted (no expansion of the body) when lexing it with and
  // without quote removal gives a different number of quote characters.
  Lookup none;
  LexOptions o;
  o.skip_unset = true;
  auto plain = lex_words(rest, none, o);
  if (!plain.ok() || plain->size() != 1) return std::nullopt;
  o.raw_quotes = true;
  auto raw = lex_words(rest, none, o);
  if (!raw.ok() || raw->size() != 1) return std::nullopt;

  Heredoc h;
  h.name = (*plain)[0];
  h.expand = count_quotes((*plain)[0]) == count_quotes((*raw)[0]);
  h.strip_tabs = chomp;
  return h;
}

std::vector<Heredoc> heredocs_in_line(std::string_view line) {
  Lookup none;
  LexOptions o;
  o.raw_quotes = true;
  o.raw_escapes = true;
  o.skip_unset = true;
  auto words = lex_words(line, none, o);
  std::vector<Heredoc> out;
  if (!words.ok()) return out;  // BuildKit ignores a line it cannot lex: no heredocs
  for (const auto& w : *words) {
    if (auto h = heredoc_word(w)) out.push_back(std::move(*h));
  }
  return out;
}

}  // namespace berth::dockerfile::detail
