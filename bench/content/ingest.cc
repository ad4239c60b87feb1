// Streams stdin into a berth content store through content::Writer and
// commits it against the expected digest and size: the same work as
// `ctr content ingest --expected-digest --expected-size` (hash, write, fsync, publish).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "base/fs.h"
#include "content/store.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s ROOT DIGEST SIZE < data\n", argv[0]);
    return 2;
  }
  auto fail = [](const berth::Error& e) {
    std::fprintf(stderr, "ingest: %s\n", e.str().c_str());
    return 1;
  };
  auto store = berth::content::Store::open(argv[1]);
  if (!store) return fail(store.error());
  auto want = berth::Digest::parse(argv[2]);
  if (!want) return fail(want.error());
  auto w = store->writer();
  if (!w) return fail(w.error());
  constexpr size_t kChunk = 1 << 20;
  auto buf = std::make_unique<char[]>(kChunk);
  for (;;) {
    auto n = berth::read_full(0, buf.get(), kChunk);
    if (!n) return fail(n.error());
    if (*n == 0) break;
    if (auto s = w->write(buf.get(), *n); !s) return fail(s.error());
  }
  auto d = w->commit(*want, std::strtoull(argv[3], nullptr, 10));
  if (!d) return fail(d.error());
  std::printf("%s\n", d->str().c_str());
  return 0;
}
