// berth/content: helpers shared by store.cc and writer.cc. Not a public header.
#pragma once

#include <cstddef>
#include <string>

#include "base/error.h"
#include "digest/digest.h"

namespace berth::content::detail {

// Large enough that hashing and write(2) run at full speed; the writer buffer
// and all copy loops use it.
inline constexpr size_t kBufSize = 1 << 20;

inline constexpr const char* kTmpPrefix = ".tmp";      // ingest entries being created
inline constexpr const char* kTrashPrefix = ".trash";  // ingest entries being removed

std::string ingest_root(const std::string& root);
std::string blobs_dir(const std::string& root, DigestAlg alg);

// Moves `src` (a fsynced file) to the blob path of `d` without ever replacing
// an existing blob (renameat2 RENAME_NOREPLACE), then fsyncs the directory.
// Returns true if ours was published, false if the blob already existed (its
// mtime is then refreshed and `src` is left for the caller to discard).
Result<bool> publish(const std::string& root, const std::string& src, const Digest& d);

// Renames an ingest directory out of the way (atomically freeing its name),
// then removes it. Errors are reported but the name is already free.
Status discard_dir(const std::string& root, const std::string& dir);

}  // namespace berth::content::detail
