// compile() with a cache: libseccomp's tree building for Docker's profile
// (three architectures, ~350 syscalls) is the largest CPU cost of starting a
// container, and the engine passes the same profile every time.
#include "seccomp/cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "base/fd.h"
#include "base/fs.h"

#ifndef BERTH_SECCOMP_SOURCE_ID
#define BERTH_SECCOMP_SOURCE_ID "unknown"
#endif

namespace berth::seccomp {
namespace cache {
namespace {

constexpr char kMagic[8] = {'B', 'R', 'T', 'H', 'S', 'C', 'M', 'P'};
// Bump when the layout below changes (the source id covers compile() itself).
constexpr uint32_t kFormat = 2;  // 2: binary-tree programs
constexpr size_t kNameLen = 16;  // hex of the key's 64-bit FNV-1a hash
// magic, format, reserved, key length, body length, body FNV-1a; then key, body.
constexpr size_t kHeaderLen = sizeof kMagic + 4 + 4 + 8 + 8 + 8;
// The key holds the whole profile; Docker's default dumps to ~25 KB.
constexpr size_t kMaxKey = 4u << 20;
// Far above a real program (BPF_MAXINSNS * 8 plus names); bounds the read.
constexpr size_t kMaxBody = 1u << 20;
// A cache that grew past this (many distinct profiles, leftover temp files)
// is emptied before the next write rather than tracked by age.
constexpr size_t kMaxEntries = 256;

void put_u32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }
void put_u64(std::string& out, uint64_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }
void put_str(std::string& out, std::string_view s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

// A bounds-checked reader; any overrun sets bad and yields zeros/empties.
struct Reader {
  std::string_view in;
  bool bad = false;
  bool take(void* dst, size_t n) {
    if (bad || in.size() < n) {
      bad = true;
      return false;
    }
    std::memcpy(dst, in.data(), n);
    in.remove_prefix(n);
    return true;
  }
  uint32_t u32() {
    uint32_t v = 0;
    take(&v, sizeof v);
    return v;
  }
  uint64_t u64() {
    uint64_t v = 0;
    take(&v, sizeof v);
    return v;
  }
  std::string str() {
    uint32_t n = u32();
    if (bad || in.size() < n) {
      bad = true;
      return {};
    }
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
};

std::string body_of(const Program& p) {
  std::string b;
  put_u32(b, p.flags);
  put_u32(b, p.notify ? 1 : 0);
  put_u32(b, static_cast<uint32_t>(p.filter.size()));
  b.append(reinterpret_cast<const char*>(p.filter.data()), p.filter.size() * sizeof(sock_filter));
  put_str(b, p.listener_path);
  put_str(b, p.listener_metadata);
  put_u32(b, static_cast<uint32_t>(p.skipped_syscalls.size()));
  for (const auto& s : p.skipped_syscalls) put_str(b, s);
  return b;
}

std::optional<Program> program_of(std::string_view body) {
  Reader r{body};
  Program p;
  p.flags = r.u32();
  uint32_t notify = r.u32();
  if (notify > 1) return std::nullopt;
  p.notify = notify == 1;
  uint32_t n = r.u32();
  if (r.bad || n == 0 || n > BPF_MAXINSNS || r.in.size() < size_t{n} * sizeof(sock_filter)) return std::nullopt;
  p.filter.resize(n);
  r.take(p.filter.data(), size_t{n} * sizeof(sock_filter));
  p.listener_path = r.str();
  p.listener_metadata = r.str();
  uint32_t skipped = r.u32();
  if (r.bad || skipped > r.in.size() / sizeof(uint32_t)) return std::nullopt;
  for (uint32_t i = 0; i < skipped && !r.bad; ++i) p.skipped_syscalls.push_back(r.str());
  if (r.bad || !r.in.empty()) return std::nullopt;
  return p;
}

// Not a cryptographic hash on purpose: it only names the file (and catches a
// damaged body); an entry is used only when its stored key equals the whole
// key, so a crafted collision can evict an entry but never be loaded for
// another profile. (sha256 would pull libcrypto into berth-runtime: +2 ms on
// each of its two execs per container, more than the hashing it would do.)
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// The directory, created 0700 if absent; refused (no caching) unless it is a
// directory of ours that nobody else can write or read.
UniqueFd open_dir(const std::string& dir, bool create) {
  if (create && ::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return UniqueFd();
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return fd;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) return UniqueFd();
  return fd;
}

// Counts the entries of dfd, removing them when asked.
size_t walk_dir(int dfd, bool remove) {
  // A dup shares dfd's offset: rewind, a previous walk left it at the end.
  int dup = ::fcntl(dfd, F_DUPFD_CLOEXEC, 0);
  DIR* d = dup >= 0 ? ::fdopendir(dup) : nullptr;
  if (!d) {
    if (dup >= 0) ::close(dup);
    return 0;
  }
  ::rewinddir(d);
  size_t n = 0;
  while (auto* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    ++n;
    if (remove) ::unlinkat(dfd, e->d_name, 0);
  }
  ::closedir(d);
  return n;
}

}  // namespace

std::optional<std::string> key(const nlohmann::json& seccomp) {
  std::string profile;
  try {
    profile = seccomp.dump();  // strict: invalid UTF-8 throws instead of colliding
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const scmp_version* v = seccomp_version();
  std::string lib = v ? std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro)
                      : std::string("?");
  struct utsname u{};
  ::uname(&u);
  // Length-prefixed fields so no two different inputs give the same key.
  std::string k;
  put_u32(k, kFormat);
  for (std::string_view f : {std::string_view(BERTH_SECCOMP_SOURCE_ID), std::string_view(lib),
                             std::string_view(u.release), std::string_view(u.machine)})
    put_str(k, f);
  put_u64(k, profile.size());
  k.append(profile);
  if (k.size() > kMaxKey) return std::nullopt;
  return k;
}

std::string file_name(const std::string& key) {
  static const char* kHex = "0123456789abcdef";
  uint64_t h = fnv1a(key);
  std::string out(kNameLen, '0');
  for (size_t i = 0; i < kNameLen; ++i) out[kNameLen - 1 - i] = kHex[(h >> (4 * i)) & 0xf];
  return out;
}

std::string encode(const Program& p, const std::string& key) {
  std::string body = body_of(p);
  std::string out(kMagic, sizeof kMagic);
  put_u32(out, kFormat);
  put_u32(out, 0);
  put_u64(out, key.size());
  put_u64(out, body.size());
  put_u64(out, fnv1a(body));
  out.append(key);
  out.append(body);
  return out;
}

std::optional<Program> decode(std::string_view bytes, const std::string& key) {
  if (bytes.size() < kHeaderLen) return std::nullopt;
  Reader r{bytes};
  char magic[sizeof kMagic];
  r.take(magic, sizeof magic);
  if (std::memcmp(magic, kMagic, sizeof kMagic) != 0 || r.u32() != kFormat || r.u32() != 0) return std::nullopt;
  uint64_t key_len = r.u64(), len = r.u64(), sum = r.u64();
  if (r.bad || key_len != key.size() || len > kMaxBody || r.in.size() != key_len + len) return std::nullopt;
  if (r.in.substr(0, key_len) != key) return std::nullopt;
  r.in.remove_prefix(key_len);
  if (fnv1a(r.in) != sum) return std::nullopt;
  return program_of(r.in);
}

std::optional<Program> load(const std::string& dir, const std::string& key) {
  std::string name = file_name(key);
  UniqueFd dfd = open_dir(dir, false);
  if (!dfd) return std::nullopt;
  UniqueFd fd(::openat(dfd.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return std::nullopt;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
      st.st_size < static_cast<off_t>(kHeaderLen) || static_cast<uint64_t>(st.st_size) > kHeaderLen + kMaxKey + kMaxBody)
    return std::nullopt;
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  auto got = read_full(fd.get(), bytes.data(), bytes.size());
  if (!got.ok() || *got != bytes.size()) return std::nullopt;
  return decode(bytes, key);
}

void store(const std::string& dir, const std::string& key, const Program& p) {
  std::string name = file_name(key);
  UniqueFd dfd = open_dir(dir, true);
  if (!dfd) return;
  if (walk_dir(dfd.get(), false) >= kMaxEntries) walk_dir(dfd.get(), true);
  std::string tmp = unique_name(".tmp");
  UniqueFd fd(::openat(dfd.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return;
  std::string bytes = encode(p, key);
  bool ok = write_all(fd.get(), bytes.data(), bytes.size()).ok();
  fd.reset();
  if (!ok || ::renameat(dfd.get(), tmp.c_str(), dfd.get(), name.c_str()) != 0) ::unlinkat(dfd.get(), tmp.c_str(), 0);
}

}  // namespace cache

Result<Program> compile(const nlohmann::json& seccomp, const std::string& cache_dir) {
  if (cache_dir.empty()) return compile_uncached(seccomp);
  auto k = cache::key(seccomp);
  if (!k) return compile_uncached(seccomp);
  if (auto hit = cache::load(cache_dir, *k)) return std::move(*hit);
  TRY_ASSIGN(Program p, compile_uncached(seccomp));
  cache::store(cache_dir, *k, p);
  return p;
}

}  // namespace berth::seccomp
