// Fuzzes the Dockerfile parser and word expansion on arbitrary bytes.
// Invariants: errors are one line; an accepted Dockerfile has a stage;
// positions are inside the instruction's lines; an accepted ONBUILD trigger
// parses again on its own (as it will when the image is used as a base).
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "dockerfile/dockerfile.h"

using namespace berth::dockerfile;

namespace {

void one_line(const berth::Error& e) {
  if (e.message.empty() || e.message.find('\n') != std::string::npos) std::abort();
}

void check_pos(const Instruction& i) {
  if (i.pos.line < 1 || i.pos.column < 1 || i.end_line < i.pos.line) std::abort();
  for (const auto& f : i.flags)
    if (f.pos.line < i.pos.line || f.pos.line > i.end_line || f.pos.column < 1) std::abort();
}

std::optional<std::string> lookup(std::string_view n) {
  if (n.empty()) return std::nullopt;
  switch (n[0]) {
    case 'A': return std::string("a*b/c.d");
    case 'B': return std::string("");
    case 'C': return std::string(" x  y ");
    default: return std::nullopt;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto r = parse(in); r.ok()) {
    if (r->stages.empty()) std::abort();
    for (const auto& a : r->meta_args) check_pos(a);
    for (const auto& st : r->stages) {
      check_pos(st.from);
      for (const auto& i : st.body) {
        check_pos(i);
        if (i.kind != Kind::onbuild) continue;
        auto t = parse_instruction(i.args.at(0), r->escape);
        if (!t.ok()) std::abort();
      }
    }
  } else {
    one_line(r.error());
  }
  for (char esc : {'\\', '`'}) {
    if (auto w = expand_word(in, lookup, esc); !w.ok()) one_line(w.error());
    if (auto ws = expand_words(in, lookup, esc); !ws.ok()) one_line(ws.error());
    (void)referenced_vars(in, esc);
    if (auto p = parse_instruction(in, esc); !p.ok()) one_line(p.error());
  }
  return 0;
}
