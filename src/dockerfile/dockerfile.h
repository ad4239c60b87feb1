// berth/dockerfile: the Dockerfile frontend — text to instructions, and the
// word expansion the builder applies to them (docs/build.md).
//
// Reference: https://docs.docker.com/reference/dockerfile/ and BuildKit's
// frontend/dockerfile/{parser,instructions,shell} (the behaviour peers agree on).
//
// Promises:
//  - parse() never crashes, loops or allocates without bound on any input
//    (libFuzzer target fuzz/dockerfile_parse.cc); inputs over kMaxDockerfile
//    bytes, more than kMaxInstructions instructions, or heredocs over
//    kMaxHeredoc bytes are refused.
//  - Every error is one line: "<file>:<line>:<column>: <what> (<offending text>)".
//  - Parser directives (`# syntax=`, `# escape=` — only before any other
//    line), comments, blank lines, line continuations with the escape
//    character (comment lines inside a continuation are dropped, as BuildKit
//    does), heredocs (`<<EOF`, `<<-EOF` strips leading tabs, `<<"EOF"`/
//    `<<'EOF'` disable expansion; several per line) on RUN, COPY and ADD.
//  - Instructions are case-insensitive; keyword is returned upper-case.
//    Unknown instructions, a missing FROM before the first stage
//    instruction, missing or surplus arguments, flags an instruction does not
//    take, malformed JSON arrays (for forms that must be JSON) are errors.
//  - Parsing does not expand variables: what needs expansion (and when)
//    depends on ARG/ENV state the builder tracks. expand_word() does it,
//    as BuildKit's shell lexer ProcessWord does.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::dockerfile {

inline constexpr size_t kMaxDockerfile = 4 << 20;
inline constexpr size_t kMaxInstructions = 10000;
inline constexpr size_t kMaxHeredoc = 4 << 20;

struct Pos {
  int line = 0;    // 1-based
  int column = 0;  // 1-based, in bytes
};

struct Flag {  // --name=value (or bare --name: value "" and has_value false)
  std::string name;  // without the leading "--" ("mount"); quotes around the value removed
  std::string value;
  bool has_value = false;
  Pos pos;
};

struct Heredoc {
  std::string name;     // the delimiter word ("EOF"); for COPY it is the file name
  std::string content;  // with the final newline, without the delimiter line;
                        // for <<- the leading tabs are already stripped
  bool expand = true;   // unquoted delimiter: $VAR expanded in content
  bool strip_tabs = false;  // <<-
};

struct KeyValue {
  std::string key;                   // raw (not expanded)
  std::optional<std::string> value;  // raw, quotes kept; none for `ARG NAME`
};

enum class Kind {
  from, run, cmd, entrypoint, shell, env, label, arg, copy, add, workdir, user,
  expose, volume, stopsignal, healthcheck, onbuild, maintainer,
};
const char* keyword_of(Kind k);  // "RUN"

struct Instruction {
  Kind kind = Kind::run;
  Pos pos;             // of the keyword
  int end_line = 0;    // last line (continuations, heredocs)
  std::string original;  // keyword + arguments as written, continuations joined with
                         // nothing (BuildKit's Node.Original); used in errors and history
  std::vector<Flag> flags;  // in source order; only those the instruction accepts:
                            //  FROM --platform; RUN --mount --network --security;
                            //  COPY --from --chown --chmod --link --parents --exclude;
                            //  ADD --chown --chmod --link --checksum --keep-git-dir --exclude;
                            //  HEALTHCHECK --interval --timeout --start-period
                            //              --start-interval --retries
  // RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK CMD, and COPY/ADD/VOLUME when
  // written as a JSON array: json = true and args = the array's strings.
  // RUN/CMD/ENTRYPOINT shell form: json = false, args = {command text}, the
  // text after the keyword (and flags) with continuations joined, unexpanded.
  // FROM: {image, "AS", name} or {image} (raw words). COPY/ADD: raw words,
  // sources then destination (at least 2). WORKDIR, USER, STOPSIGNAL,
  // MAINTAINER: {rest of line}. EXPOSE, VOLUME (non-JSON): raw words.
  // HEALTHCHECK CMD: args = the command after the CMD word (JSON array or
  // {text}), as for CMD. HEALTHCHECK NONE: args = {"NONE"}, json false,
  // healthcheck_none true.
  // ONBUILD: args = {trigger text} (the instruction, re-parsed when the
  // image is used as a base: parse_instruction()).
  bool json = false;
  std::vector<std::string> args;
  std::vector<KeyValue> pairs;      // ENV, LABEL, ARG: in source order
  std::vector<Heredoc> heredocs;    // RUN/COPY/ADD, in order of appearance
  bool healthcheck_none = false;

  // name with or without the leading "--".
  const Flag* flag(std::string_view name) const;  // last occurrence, or nullptr
  std::vector<const Flag*> all_flags(std::string_view name) const;  // e.g. every --mount
};

struct Stage {
  Instruction from;                // Kind::from
  std::string name;                // lower-cased "AS" name, "" if none
  std::vector<Instruction> body;   // every instruction after FROM up to the next FROM
};

struct Dockerfile {
  char escape = '\\';
  std::string syntax;                 // `# syntax=` directive if given (accepted, ignored)
  std::vector<Instruction> meta_args; // ARG instructions before the first FROM
  std::vector<Stage> stages;          // at least one
};

// `filename` appears in errors.
Result<Dockerfile> parse(std::string_view text, std::string_view filename = "Dockerfile");

// One instruction on its own (ONBUILD triggers, `commit --change`-like uses).
// Heredocs are not allowed here. FROM and ONBUILD ONBUILD are refused.
// Errors read "instruction:<line>:<column>: ..." (there is no file name).
Result<Instruction> parse_instruction(std::string_view text, char escape = '\\');

// Variable lookup for expansion: nullopt = unset.
using Lookup = std::function<std::optional<std::string>(std::string_view)>;

// BuildKit's ProcessWord: quote removal ('...' literal, "..." with escapes
// and expansion), escape character handling, $VAR ${VAR} ${VAR:-w} ${VAR-w}
// ${VAR:+w} ${VAR+w} ${VAR:?msg} ${VAR?msg} (error when unset/empty), and
// ${VAR#p} ${VAR##p} ${VAR%p} ${VAR%%p} with shell glob patterns.
// Unset variables expand to "". Errors: unterminated quote or ${, bad
// modifier, ${VAR:?msg} tripped — one line naming the word.
Result<std::string> expand_word(std::string_view word, const Lookup& vars, char escape = '\\');

// ProcessWords: expand, then split on unquoted whitespace (EXPOSE, VOLUME,
// ARG/ENV/LABEL are not split this way; they are pairs).
Result<std::vector<std::string>> expand_words(std::string_view text, const Lookup& vars, char escape = '\\');

// The names a word references ($A ${B:-x} -> {"A","B"}); for cache keys that
// include exactly the build args a step uses.
std::vector<std::string> referenced_vars(std::string_view word, char escape = '\\');

}  // namespace berth::dockerfile
