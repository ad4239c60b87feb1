// Fuzzes image archive loading (libarchive tar reading, member-name hygiene,
// docker-archive and OCI layout interpretation) end to end against a content
// store in a temp dir. Must never crash; errors are expected.
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>

#include "base/fs.h"
#include "image/archive.h"

using namespace berth;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::optional<TempDir> dir = [] {
    auto d = TempDir::create("/tmp", "berth-fuzz-archive");
    if (!d.ok()) abort();
    return std::optional<TempDir>(std::move(*d));
  }();
  static int runs = 0;
  std::string root = dir->path() + "/store";
  if (++runs % 500 == 0) (void)remove_all(root);  // keep the disk bounded
  auto store = content::Store::open(root);
  if (!store.ok()) return 0;
  std::string in = dir->path() + "/in.tar";
  if (!atomic_write_file(in, std::string_view(reinterpret_cast<const char*>(data), size)).ok()) return 0;
  (void)image::load(*store, in);
  return 0;
}
