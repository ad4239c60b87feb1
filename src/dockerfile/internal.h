// berth/dockerfile internals shared by the line scanner (parse.cc), the
// per-instruction parsers (instructions.cc), heredoc detection (heredoc.cc)
// and the shell-word lexer (expand.cc). Not part of the contract.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dockerfile/dockerfile.h"

namespace berth::dockerfile::detail {

// A logical line: physical lines joined after their continuation character
// was removed. segs map an offset in `text` back to the source so errors can
// name the line and column of the offending word even after joining.
struct Segment {
  size_t off = 0;  // first byte of this physical line's part in text
  int line = 0;
  int col = 0;
};
struct LogicalLine {
  std::string text;
  std::vector<Segment> segs;
  int end_line = 0;
  Pos pos_at(size_t off) const;
};

struct Ctx {
  std::string_view file;
  char escape = '\\';
};

// "<file>:<line>:<col>: <what> (<offending>)", offending made printable and
// shortened so the message stays one line.
Error error_at(const Ctx& ctx, Pos pos, std::string_view what, std::string_view offending,
               Errc code = Errc::invalid_input);
std::string printable(std::string_view s, size_t max = 120);

bool is_space(char c);  // Go's unicode.IsSpace restricted to ASCII

// The instruction on one logical line, without heredoc contents (the caller
// reads those from the following lines). Checks arguments and flags.
Result<Instruction> parse_logical(const LogicalLine& ll, const Ctx& ctx);

// RUN/COPY/ADD not in JSON form: the only ones BuildKit looks for heredocs in.
bool takes_heredocs(const Instruction& in);

// BuildKit's ParseHeredoc on one word ("<<EOF", "<<-'EOF'"): nullopt if the
// word is not a heredoc opener. Content is left empty.
std::optional<Heredoc> heredoc_word(std::string_view word);
// Every heredoc opener on a line, in order (BuildKit's heredocsFromLine).
std::vector<Heredoc> heredocs_in_line(std::string_view line);

// The shell-word lexer (BuildKit's shell.Lex) with its knobs.
struct LexOptions {
  char escape = '\\';
  bool raw_quotes = false;   // keep quote characters in the output
  bool raw_escapes = false;  // keep escape characters in the output
  bool skip_unset = false;   // leave $VAR / ${VAR...} as written when VAR is unset
};
Result<std::vector<std::string>> lex_words(std::string_view text, const Lookup& vars,
                                           const LexOptions& o);

}  // namespace berth::dockerfile::detail
