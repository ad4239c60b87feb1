// berth/build (internal to context/ignore/copy): the glob engines behind
// .dockerignore and COPY source wildcards.
//
// Both compile a pattern into a small token list and run it as an NFA over
// the UTF-8 code points of the name, so hostile patterns such as
// "*a*a*a*a*b" cost O(pattern x name), never exponential time (Go uses RE2
// for the same reason).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::build::detail {

struct Glob;  // compiled tokens

// Go's filepath.Match: "*", "?", "[...]" ("^" negates, "\\" escapes), none
// of them matching "/". Malformed patterns are an error (ErrBadPattern).
Result<std::shared_ptr<const Glob>> compile_glob(std::string_view pattern);
bool glob_matches(const Glob& g, std::string_view name);
// Whether `s` has any of Go's filepath.Match metacharacters ("*?[\\").
bool has_wildcard(std::string_view s);


// One moby/patternmatcher pattern (cleaned, without "!"), with its quirks:
// exact, prefix ("dir/**"), suffix ("**/x") or regexp-like matching.
class PatternGlob {
 public:
  static Result<PatternGlob> compile(std::string_view cleaned);
  bool matches(std::string_view path) const;

 private:
  enum class Kind { exact, prefix, suffix, glob } kind_ = Kind::exact;
  std::string text_;
  std::shared_ptr<const Glob> glob_;
};

}  // namespace berth::build::detail
