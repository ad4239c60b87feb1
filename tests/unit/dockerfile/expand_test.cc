// expand_word / expand_words / referenced_vars against BuildKit's ProcessWord.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "dockerfile/dockerfile.h"

using namespace berth::dockerfile;

namespace {

const std::map<std::string, std::string> kVars = {
    {"A", "a"},          {"EMPTY", ""},         {"PATHV", "/usr/local/bin/app.tar.gz"},
    {"SP", "x  y"},      {"HOME", "/root"},     {"U", "h\xC3\xA9llo"},
};

Lookup vars() {
  return [](std::string_view n) -> std::optional<std::string> {
    auto it = kVars.find(std::string(n));
    if (it == kVars.end()) return std::nullopt;
    return it->second;
  };
}

std::string ex(std::string_view w, char esc = '\\') {
  auto r = expand_word(w, vars(), esc);
  EXPECT_TRUE(r.ok()) << w << ": " << r.error().message;
  return r.ok() ? *r : "<error>";
}

std::string exerr(std::string_view w, char esc = '\\') {
  auto r = expand_word(w, vars(), esc);
  EXPECT_FALSE(r.ok()) << w;
  return r.ok() ? *r : r.error().message;
}

}  // namespace

TEST(Expand, PlainVariables) {
  EXPECT_EQ(ex("$A"), "a");
  EXPECT_EQ(ex("${A}b"), "ab");
  EXPECT_EQ(ex("$Ab"), "");  // the name is Ab, unset
  EXPECT_EQ(ex("x$NOPE-y"), "x-y");
  EXPECT_EQ(ex("$"), "$");
  EXPECT_EQ(ex("a$/b"), "a$/b");
  EXPECT_EQ(ex("$A$A"), "aa");
}

TEST(Expand, DefaultAndAlternative) {
  EXPECT_EQ(ex("${NOPE:-def}"), "def");
  EXPECT_EQ(ex("${EMPTY:-def}"), "def");
  EXPECT_EQ(ex("${EMPTY-def}"), "");
  EXPECT_EQ(ex("${NOPE-def}"), "def");
  EXPECT_EQ(ex("${A:-def}"), "a");
  EXPECT_EQ(ex("${A:+alt}"), "alt");
  EXPECT_EQ(ex("${EMPTY:+alt}"), "");
  EXPECT_EQ(ex("${EMPTY+alt}"), "alt");
  EXPECT_EQ(ex("${NOPE+alt}"), "");
  EXPECT_EQ(ex("${NOPE:-${A:-x}$A}"), "aa");  // nested
  EXPECT_EQ(ex("${NOPE:-a b}"), "a b");
}

TEST(Expand, Required) {
  EXPECT_EQ(ex("${A:?must}"), "a");
  EXPECT_EQ(ex("${EMPTY?must}"), "");
  EXPECT_EQ(exerr("${NOPE?}"), "NOPE: is not allowed to be unset (${NOPE?})");
  EXPECT_EQ(exerr("${EMPTY:?}"), "EMPTY: is not allowed to be empty (${EMPTY:?})");
  EXPECT_EQ(exerr("x${NOPE:?set NOPE please}"), "NOPE: set NOPE please (x${NOPE:?set NOPE please})");
  // The message is the Dockerfile's own text: still one line.
  EXPECT_EQ(exerr("${NOPE:?a\nb}"), "NOPE: a\\nb (${NOPE:?a\\nb})");
}

TEST(Expand, PrefixAndSuffixPatterns) {
  EXPECT_EQ(ex("${PATHV#*/}"), "usr/local/bin/app.tar.gz");
  EXPECT_EQ(ex("${PATHV##*/}"), "app.tar.gz");
  EXPECT_EQ(ex("${PATHV%.*}"), "/usr/local/bin/app.tar");
  EXPECT_EQ(ex("${PATHV%%.*}"), "/usr/local/bin/app");
  EXPECT_EQ(ex("${PATHV#/usr}"), "/local/bin/app.tar.gz");
  EXPECT_EQ(ex("${PATHV#nomatch}"), "/usr/local/bin/app.tar.gz");
  EXPECT_EQ(ex("${PATHV%?z}"), "/usr/local/bin/app.tar.");
  EXPECT_EQ(ex("${PATHV#/???/}"), "local/bin/app.tar.gz");
  EXPECT_EQ(ex("${U#h?}"), "llo");  // ? is one character, not one byte
  EXPECT_EQ(ex("${NOPE#x}"), "");
  EXPECT_EQ(ex("${A#\\*}"), "a");
  EXPECT_EQ(exerr("${A:#x}"), "unsupported modifier (:#) in substitution (${A:#x})");
  EXPECT_EQ(exerr("${A#\\x}"), "invalid escape in pattern '\\x' (${A#\\x})");
}

TEST(Expand, Replace) {
  EXPECT_EQ(ex("${PATHV/\\//:}"), ":usr/local/bin/app.tar.gz");
  EXPECT_EQ(ex("${PATHV//\\//:}"), ":usr:local:bin:app.tar.gz");
  EXPECT_EQ(ex("${PATHV/l*l/L}"), "/usr/L/bin/app.tar.gz");
}

TEST(Expand, Quotes) {
  EXPECT_EQ(ex("'$A \"x\"'"), "$A \"x\"");
  EXPECT_EQ(ex("\"$A 'x'\""), "a 'x'");
  EXPECT_EQ(ex("\"\\$A \\\" \\\\ \\n\""), "$A \" \\ \\n");  // only $ " and \ are escapable
  EXPECT_EQ(ex("a\\ b\\$A\\\\"), "a b$A\\");
  EXPECT_EQ(ex("\"\""), "");
  EXPECT_EQ(ex("pre\"$SP\"post"), "prex  ypost");
  EXPECT_EQ(ex("trailing\\"), "trailing");
}

TEST(Expand, BacktickEscape) {
  EXPECT_EQ(ex("C:\\dir\\$A", '`'), "C:\\dir\\a");
  EXPECT_EQ(ex("`$A", '`'), "$A");
  EXPECT_EQ(ex("\"`\"x`$A\"", '`'), "\"x$A");
  EXPECT_EQ(ex("\"\\$A\"", '`'), "\\a");
}

TEST(Expand, Errors) {
  EXPECT_EQ(exerr("\"abc"), "unexpected end of statement while looking for matching double-quote (\"abc)");
  EXPECT_EQ(exerr("'abc"), "unexpected end of statement while looking for matching single-quote ('abc)");
  EXPECT_EQ(exerr("${A"), "syntax error: missing '}' (${A)");
  EXPECT_EQ(exerr("${A:-x"), "syntax error: missing '}' (${A:-x)");
  EXPECT_EQ(exerr("${}"), "syntax error: bad substitution (${})");
  EXPECT_EQ(exerr("${:-x}"), "syntax error: bad substitution (${:-x})");
  EXPECT_EQ(exerr("${A:x}"), "unsupported modifier (:x) in substitution (${A:x})");
  EXPECT_EQ(exerr("${A x}"), "unsupported modifier ( ) in substitution (${A x})");
  std::string deep;
  for (int i = 0; i < 200; i++) deep += "${A:-";
  EXPECT_EQ(exerr(deep).substr(0, 32), "substitutions nested too deeply ");
}

TEST(ExpandWords, SplitsOnUnquotedWhitespace) {
  auto r = expand_words("  a $SP \"q  r\" 'x y'z ${EMPTY} \"\" end\\ s ", vars());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, (std::vector<std::string>{"a", "x", "y", "q  r", "x yz", "end s"}));
  auto b = expand_words("80/tcp ${PORT:-443}", vars());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (std::vector<std::string>{"80/tcp", "443"}));
  EXPECT_FALSE(expand_words("a 'b", vars()).ok());
}

TEST(ReferencedVars, NamesInOrderOnce) {
  EXPECT_EQ(referenced_vars("$A ${B:-x} $A ${C:+$D} \"$E\" '$F' \\$G ${H#p} ${I:?}"),
            (std::vector<std::string>{"A", "B", "D", "C", "E", "H", "I"}));  // lookup order: D inside C's word first
  EXPECT_EQ(referenced_vars("`$A $B", '`'), std::vector<std::string>{"B"});
  EXPECT_EQ(referenced_vars("plain"), std::vector<std::string>{});
  // A malformed tail keeps what was seen before it.
  EXPECT_EQ(referenced_vars("$A ${"), std::vector<std::string>{"A"});
}
