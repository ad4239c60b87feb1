// berth/image internal: libarchive RAII and hostile-name handling shared by
// the archive readers and writers.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/error.h"
#include "content/store.h"
#include "digest/digest.h"

namespace berth::image::detail {

struct ReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ArchiveReader = std::unique_ptr<archive, ReadFree>;
using ArchiveWriter = std::unique_ptr<archive, WriteFree>;
using ArchiveEntry = std::unique_ptr<archive_entry, EntryFree>;

std::string archive_err(archive* a);

// Lexically cleans an archive member name ("./a//b/" -> "a/b"). Absolute
// names and ".." components are refused: they can only be hostile.
Result<std::string> clean_member_name(std::string_view raw);
// A symlink target, relative to the link's directory, cleaned; must stay
// inside the archive.
Result<std::string> resolve_link_target(std::string_view link_name, std::string_view target);

// "blobs/sha256/<hex>" for a digest, and back (nullopt if not that shape).
std::string blob_member_name(const Digest& d);

// A tar writer onto an fd: deterministic headers (mtime 0, uid/gid 0, 0644).
class TarWriter {
 public:
  static Result<TarWriter> open(int fd, std::string what);
  Status add(const std::string& name, std::string_view data);
  // Streams `size` bytes from a readable fd (a blob).
  Status add_fd(const std::string& name, int fd, uint64_t size);
  Status close();

 private:
  TarWriter(ArchiveWriter a, std::string what) : a_(std::move(a)), what_(std::move(what)) {}
  Status header(const std::string& name, uint64_t size);
  ArchiveWriter a_;
  std::string what_;
};

// Copies a stored blob into `sink`-style writer callbacks is done by callers;
// this decompresses a stored blob into the store, verifying the result when
// `expected` is given. Returns the digest of the uncompressed bytes.
Result<Digest> store_uncompressed(content::Store& store, const Digest& blob, std::optional<Digest> expected,
                                  const std::string& what);

}  // namespace berth::image::detail
