// berth/build: the build context — the directory (or stdin tar) whose files
// COPY/ADD read, filtered by .dockerignore, and the content digests the
// layer cache is keyed by.
//
// Promises:
//  - .dockerignore follows moby's patternmatcher: one pattern per line, `#`
//    comments, blank lines skipped, leading/trailing whitespace trimmed,
//    paths cleaned (filepath.Clean, leading "/" dropped), `*` `?` `[...]`
//    within one component, `**` across any number, `!` exceptions where the
//    last matching pattern wins; a parent directory matching excludes its
//    subtree unless an exception could re-include something under it. The
//    Dockerfile and .dockerignore themselves are never excluded from being
//    read by the builder, but are excluded from COPY like any file if matched.
//  - Source patterns (after the builder's variable expansion) are relative to
//    the context root, cleaned, and never escape it: "../x", "/x" and
//    symlinks are resolved inside the root (a source that is a symlink is
//    followed there, as Docker does: a link to /etc/passwd copies the
//    context's etc/passwd or is not found, never the host file; links below
//    a copied directory stay links). Wildcards match with
//    Go's filepath.Match per component; no match is an error naming the
//    pattern ("no source files were specified" / "file not found in build
//    context or excluded by .dockerignore: <path>").
//  - checksum() is a sha256 over the sorted (path relative to the source,
//    type, mode, uid, gid, link target, content sha256) of every non-ignored
//    entry the sources reach; timestamps are not part of it, so touching a
//    file without changing it keeps the cache, and files no source reaches
//    never matter. File content digests are memoised by (dev, inode, size,
//    mtime, ctime) in <cache_dir>/files.json so a rebuild without changes
//    hashes nothing.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "digest/digest.h"

namespace berth::build {

class IgnoreMatcher {
 public:
  static Result<IgnoreMatcher> parse(std::string_view text, std::string_view filename = ".dockerignore");
  // `rel`: slash-separated, relative to the context root, no leading "./".
  bool excluded(std::string_view rel) const;
  // True when some exception pattern could re-include a path under `dir`
  // (the walker must then descend into an excluded directory).
  bool may_reinclude_under(std::string_view dir) const;
  bool empty() const { return patterns_.empty(); }

  struct Pattern {
    std::string text;   // cleaned, without '!'
    bool exclusion = false;
  };

 private:
  struct Compiled;  // the patterns' matchers, built once by parse()
  std::vector<Pattern> patterns_;
  std::shared_ptr<const Compiled> compiled_;
};

// A tree files are copied from: the build context, a named build context
// (--build-context NAME=DIR), or another stage's / image's root filesystem.
class Source {
 public:
  // A directory on the host. `ignore` (possibly empty) filters what is visible.
  static Result<Source> dir(std::string root, IgnoreMatcher ignore = {});
  const std::string& root() const { return root_; }
  const IgnoreMatcher& ignore() const { return ignore_; }

  // Expands a source pattern to the matching paths (relative, sorted). An
  // exact non-wildcard path that is missing or excluded is an error; a
  // wildcard matching nothing is an error too (Docker: "no source files").
  Result<std::vector<std::string>> match(std::string_view pattern) const;

  // The content digest of everything `paths` (from match()) reach, as the
  // header above defines it. cache_dir may be "" (no memo).
  Result<Digest> checksum(const std::vector<std::string>& paths, const std::string& cache_dir = "") const;

 private:
  std::string root_;
  IgnoreMatcher ignore_;
};

// `berth build - < ctx.tar` (or `-f - DIR` reads only the Dockerfile from
// stdin, handled by the caller): extracts a tar (plain/gzip/zstd) read from
// fd into `dir` (must exist, empty) safely (layer::apply_layer semantics: no
// entry escapes), owners kept only as root.
Status extract_context_tar(int fd, const std::string& dir);

}  // namespace berth::build
