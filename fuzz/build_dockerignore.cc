// libFuzzer: the .dockerignore parser and matcher must accept or reject any
// file, never crash or hang, and stay linear on hostile globs. Input: the
// ignore file, then after the first NUL byte the paths to test, one a line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "build/context.h"
#include "build/ignore_match.h"

using namespace berth::build;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  std::string_view text = in.substr(0, nul);
  std::string_view paths = nul == std::string_view::npos ? std::string_view("a/b/c\nvendor/x.go\n.git") : in.substr(nul + 1);
  auto m = IgnoreMatcher::parse(text);
  if (!m.ok()) return 0;
  size_t i = 0;
  while (i <= paths.size()) {
    size_t j = paths.find('\n', i);
    if (j == std::string_view::npos) j = paths.size();
    std::string_view p = paths.substr(i, j - i);
    (void)m->excluded(p);
    (void)m->may_reinclude_under(p);
    // Every pattern line doubles as a COPY source glob.
    auto g = detail::compile_glob(p);
    if (g.ok()) (void)detail::glob_matches(**g, text.substr(0, 256));
    i = j + 1;
  }
  return 0;
}
