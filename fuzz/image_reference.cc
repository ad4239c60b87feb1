// Fuzzes reference and platform parsing. Invariants: a parsed reference's
// str() and familiar() parse back to the same reference.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "image/platform.h"
#include "image/reference.h"

using namespace berth::image;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto r = parse_reference(in); r.ok()) {
    auto again = parse_reference(r->str());
    if (!again.ok() || again->str() != r->str()) std::abort();
    auto fam = parse_reference(r->familiar());
    if (!fam.ok() || fam->str() != r->str()) std::abort();
  }
  (void)parse_reference(in, {.default_tag = false});
  if (auto p = parse_platform(in); p.ok()) {
    auto again = parse_platform(p->str());
    if (!again.ok() || again->str() != p->str()) std::abort();
  }
  (void)valid_tag(in);
  return 0;
}
