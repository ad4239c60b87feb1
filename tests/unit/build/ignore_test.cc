// .dockerignore rules, case for case from moby/patternmatcher's tests
// (patternmatcher_test.go, ignorefile_test.go) plus BuildKit's walk rules.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/fs.h"
#include "build/context.h"
#include "build/ignore_match.h"

namespace berth::build {
namespace {

std::string join_lines(const std::vector<std::string>& ps) {
  std::string t;
  for (auto& p : ps) t += p + "\n";
  return t;
}

bool excluded(const std::vector<std::string>& patterns, const std::string& path) {
  auto m = IgnoreMatcher::parse(join_lines(patterns));
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().str());
  return m.ok() && m->excluded(path);
}

struct Case {
  const char* pattern;
  const char* path;
  bool match;
};

// patternmatcher_test.go TestMatches (MatchesOrParentMatches).
const Case kCases[] = {
    {"**", "file", true},
    {"**", "file/", true},
    {"**/", "file", true},
    {"**/", "file/", true},
    {"**", "/", true},
    {"**/", "/", true},
    {"**", "dir/file", true},
    {"**/", "dir/file", true},
    {"**", "dir/file/", true},
    {"**/", "dir/file/", true},
    {"**/**", "dir/file", true},
    {"**/**", "dir/file/", true},
    {"dir/**", "dir/file", true},
    {"dir/**", "dir/file/", true},
    {"dir/**", "dir/dir2/file", true},
    {"dir/**", "dir/dir2/file/", true},
    {"**/dir", "dir", true},
    {"**/dir", "dir/file", true},
    {"**/dir2/*", "dir/dir2/file", true},
    {"**/dir2/*", "dir/dir2/file/", true},
    {"**/dir2/**", "dir/dir2/dir3/file", true},
    {"**/dir2/**", "dir/dir2/dir3/file/", true},
    {"**file", "file", true},
    {"**file", "dir/file", true},
    {"**/file", "dir/file", true},
    {"**file", "dir/dir/file", true},
    {"**/file", "dir/dir/file", true},
    {"**/file*", "dir/dir/file", true},
    {"**/file*", "dir/dir/file.txt", true},
    {"**/file*txt", "dir/dir/file.txt", true},
    {"**/file*.txt", "dir/dir/file.txt", true},
    {"**/file*.txt*", "dir/dir/file.txt", true},
    {"**/**/*.txt", "dir/dir/file.txt", true},
    {"**/**/*.txt2", "dir/dir/file.txt", false},
    {"**/*.txt", "file.txt", true},
    {"**/**/*.txt", "file.txt", true},
    {"a**/*.txt", "a/file.txt", true},
    {"a**/*.txt", "a/dir/file.txt", true},
    {"a**/*.txt", "a/dir/dir/file.txt", true},
    {"a/*.txt", "a/dir/file.txt", false},
    {"a/*.txt", "a/file.txt", true},
    {"a/*.txt**", "a/file.txt", true},
    {"a[b-d]e", "ae", false},
    {"a[b-d]e", "ace", true},
    {"a[b-d]e", "aae", false},
    {"a[^b-d]e", "aze", true},
    {".*", ".foo", true},
    {".*", "foo", false},
    {"abc.def", "abcdef", false},
    {"abc.def", "abc.def", true},
    {"abc.def", "abcZdef", false},
    {"abc?def", "abcZdef", true},
    {"abc?def", "abcdef", false},
    {"a\\\\", "a\\", true},
    {"**/foo/bar", "foo/bar", true},
    {"**/foo/bar", "dir/foo/bar", true},
    {"**/foo/bar", "dir/dir2/foo/bar", true},
    {"abc/**", "abc", false},
    {"abc/**", "abc/def", true},
    {"abc/**", "abc/def/ghi", true},
    {"**/.foo", ".foo", true},
    {"**/.foo", "bar.foo", false},
    {"a(b)c/def", "a(b)c/def", true},
    {"a(b)c/def", "a(b)c/xyz", false},
    {"a.|)$(}+{bc", "a.|)$(}+{bc", true},
    {"dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
     true},
    {"dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true},
    {"a\\*b", "a*b", true},
    // Directories exclude their subtree (MatchesOrParentMatches).
    {"docs", "docs/README.md", true},
    {"docs/", "docs/README.md", true},
    {"*", "fileutils.go", true},
    {"*.go", "fileutils.go", true},
    {"*.go", "pkg/fileutils.go", false},
    {"/leading", "leading", true},
    {"./dot/../cleaned", "cleaned", true},
    {"a*", "ab/c", true},
    {"a?b", "a\xe2\x98\xba" "b", true},  // "?" is one code point, not one byte
    {"a???b", "a\xe2\x98\xba" "b", false},
};

TEST(Ignore, PatternTable) {
  for (const auto& c : kCases)
    EXPECT_EQ(excluded({c.pattern}, c.path), c.match) << "pattern " << c.pattern << " path " << c.path;
}

struct Multi {
  std::vector<std::string> patterns;
  const char* path;
  bool match;
};

TEST(Ignore, ExceptionsLastMatchWins) {
  const Multi cases[] = {
      {{"**", "!util/docker/web"}, "util/docker/web/foo", false},
      {{"**", "!util/docker/web", "util/docker/web/foo"}, "util/docker/web/foo", true},
      {{"**", "!dist/*.whl"}, "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false},
      {{"!fileutils.go", "*.go"}, "fileutils.go", true},
      {{"*.go", "!fileutils.go"}, "fileutils.go", false},
      {{"docs", "!docs/README.md"}, "docs/README.md", false},
      {{"docs", "!docs/README.md"}, "docs/other.md", true},
      {{"docs/", "!docs/README.md"}, "docs/README.md", false},
      {{"docs/*", "!docs/README.md"}, "docs/README.md", false},
      {{"docs", "  !docs/README.md"}, "docs/README.md", false},
      {{"docs", "!docs/README.md  "}, "docs/README.md", false},
      // An exception on a parent re-includes the subtree below it.
      {{"a/b", "!a"}, "a/b/c", false},
      {{"*", "!keep", "keep/secret"}, "keep/secret", true},
      {{"*", "!keep", "keep/secret"}, "keep/other", false},
  };
  for (const auto& c : cases) {
    std::string shown;
    for (auto& p : c.patterns) shown += p + ",";
    EXPECT_EQ(excluded(c.patterns, c.path), c.match) << shown << " path " << c.path;
  }
}

TEST(Ignore, FileSyntax) {
  // '#' only in the first column is a comment; BOM stripped; CRLF and blank lines.
  auto m = IgnoreMatcher::parse("\xEF\xBB\xBF# comment\r\n\r\n  spaced  \r\n #notcomment\n\n!/keep\n");
  ASSERT_TRUE(m.ok()) << m.error().str();
  EXPECT_TRUE(m->excluded("spaced"));
  EXPECT_TRUE(m->excluded("#notcomment"));
  EXPECT_FALSE(m->excluded("# comment"));
  EXPECT_FALSE(m->excluded("keep"));
  EXPECT_FALSE(m->empty());
  auto e = IgnoreMatcher::parse("");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->empty());
  EXPECT_FALSE(e->excluded("anything"));
}

TEST(Ignore, ErrorsNameFileAndLine) {
  auto bang = IgnoreMatcher::parse("ok\n!\n");
  ASSERT_FALSE(bang.ok());
  EXPECT_EQ(bang.error().message, ".dockerignore:2: illegal exclusion pattern: \"!\"");
  for (const char* bad : {"[", "a[", "[^bc", "[]a]", "[-]", "[x-]", "[a-b-c]", "\\"}) {
    auto m = IgnoreMatcher::parse(bad, "ctx/.dockerignore");
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_EQ(m.error().message.rfind("ctx/.dockerignore:1: ", 0), 0u) << m.error().message;
  }
  auto longline = IgnoreMatcher::parse(std::string(5000, 'a'));
  EXPECT_FALSE(longline.ok());
}

TEST(Ignore, MayReincludeUnder) {
  auto m = IgnoreMatcher::parse("vendor\nnode_modules\n!vendor/keep/*.go\n!**/important\n");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->may_reinclude_under("vendor"));
  EXPECT_TRUE(m->may_reinclude_under("vendor/keep"));
  EXPECT_TRUE(m->may_reinclude_under("node_modules"));  // "**" may reach anything
  auto n = IgnoreMatcher::parse("vendor\nbuild\n!vendor/keep\n");
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->may_reinclude_under("vendor"));
  EXPECT_TRUE(n->may_reinclude_under("vendor/keep/deep"));
  EXPECT_FALSE(n->may_reinclude_under("build"));
  EXPECT_FALSE(n->may_reinclude_under("vendor/other"));
}

TEST(Ignore, HostilePatternsStayLinear) {
  // RE2-like cost: an NFA, not backtracking.
  std::string p = "a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
  std::string path(3000, 'a');
  EXPECT_FALSE(excluded({p}, path));
  EXPECT_TRUE(excluded({"**/**/**/**/**/**/**/**/z"}, std::string(2000, 'x') + "/z"));
}

TEST(Glob, GoFilepathMatch) {
  struct G {
    const char* pattern;
    const char* name;
    bool match;
  };
  const G cases[] = {
      {"abc", "abc", true},           {"*", "abc", true},         {"*c", "abc", true},
      {"a*", "a", true},              {"a*", "abc", true},        {"a*", "ab/c", false},
      {"a*b*c*d*e*", "axbxcxdxe", true}, {"ab[c]", "abc", true},  {"ab[b-d]", "abc", true},
      {"ab[e-g]", "abc", false},      {"ab[^c]", "abc", false},   {"ab[^e-g]", "abc", true},
      {"a\\*b", "a*b", true},         {"a\\*b", "ab", false},     {"[\\]a]", "]", true},
      {"[\\-]", "-", true},           {"[x\\-]", "-", true},      {"[x\\-]", "z", false},
      {"*x", "xxx", true},            {"a?b", "a/b", false},      {"*.txt", ".hidden.txt", true},
  };
  for (const auto& c : cases) {
    auto g = detail::compile_glob(c.pattern);
    ASSERT_TRUE(g.ok()) << c.pattern;
    EXPECT_EQ(detail::glob_matches(**g, c.name), c.match) << c.pattern << " " << c.name;
  }
  EXPECT_TRUE(detail::has_wildcard("a*"));
  EXPECT_FALSE(detail::has_wildcard("plain/name.txt"));
  EXPECT_EQ(path_clean("a/../../b/./c/"), "../b/c");
  EXPECT_EQ(path_clean("/../x"), "/x");
  EXPECT_EQ(path_clean(""), ".");
}

}  // namespace
}  // namespace berth::build
