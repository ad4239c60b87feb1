#include "libarchive/libarchive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dlfcn.h>

#include <cstdarg>
#include <cstdio>
#include <string>
#include <type_traits>

namespace {

// What a call returns while libarchive is unusable (libarchive.h, "Promises").
// Placeholders instead of nullptr: several callers answer a null handle with
// "archive_read_new failed", which would hide why.
char placeholder_archive;
char placeholder_entry;
struct archive* const kNoArchive = reinterpret_cast<struct archive*>(&placeholder_archive);
struct archive_entry* const kNoEntry = reinterpret_cast<struct archive_entry*>(&placeholder_entry);

// X(return type, name, parameters, arguments, result when unusable). Exactly
// the functions berth calls; the definitions below must match libarchive's
// prototypes or they conflict with <archive.h>'s declarations at compile time.
#define BERTH_ARCHIVE_FNS(X)                                                                        \
  X(struct archive*, archive_read_new, (), (), kNoArchive)                                          \
  X(struct archive*, archive_write_new, (), (), kNoArchive)                                         \
  X(int, archive_read_free, (struct archive * a), (a), ARCHIVE_FATAL)                               \
  X(int, archive_write_free, (struct archive * a), (a), ARCHIVE_FATAL)                              \
  X(int, archive_errno, (struct archive * a), (a), 0)                                         \
  X(int, archive_read_support_filter_all, (struct archive * a), (a), ARCHIVE_FATAL)                 \
  X(int, archive_read_support_filter_bzip2, (struct archive * a), (a), ARCHIVE_FATAL)               \
  X(int, archive_read_support_filter_gzip, (struct archive * a), (a), ARCHIVE_FATAL)                \
  X(int, archive_read_support_filter_xz, (struct archive * a), (a), ARCHIVE_FATAL)                  \
  X(int, archive_read_support_filter_zstd, (struct archive * a), (a), ARCHIVE_FATAL)                \
  X(int, archive_read_support_format_empty, (struct archive * a), (a), ARCHIVE_FATAL)               \
  X(int, archive_read_support_format_tar, (struct archive * a), (a), ARCHIVE_FATAL)                 \
  X(int, archive_read_open,                                                                         \
    (struct archive * a, void* data, archive_open_callback* o, archive_read_callback* r,            \
     archive_close_callback* c),                                                                    \
    (a, data, o, r, c), ARCHIVE_FATAL)                                                              \
  X(int, archive_read_open_fd, (struct archive * a, int fd, size_t block), (a, fd, block), ARCHIVE_FATAL) \
  X(int, archive_read_open_filename, (struct archive * a, const char* path, size_t block),          \
    (a, path, block), ARCHIVE_FATAL)                                                                \
  X(int, archive_read_open_memory, (struct archive * a, const void* buf, size_t n), (a, buf, n),    \
    ARCHIVE_FATAL)                                                                                  \
  X(int, archive_read_next_header, (struct archive * a, struct archive_entry * *e), (a, e),         \
    ARCHIVE_FATAL)                                                                                  \
  X(la_ssize_t, archive_read_data, (struct archive * a, void* buf, size_t n), (a, buf, n),          \
    ARCHIVE_FATAL)                                                                                  \
  X(int, archive_read_data_block,                                                                   \
    (struct archive * a, const void** buf, size_t* n, la_int64_t* off), (a, buf, n, off),           \
    ARCHIVE_FATAL)                                                                                  \
  X(int, archive_write_add_filter_gzip, (struct archive * a), (a), ARCHIVE_FATAL)                   \
  X(int, archive_write_add_filter_zstd, (struct archive * a), (a), ARCHIVE_FATAL)                   \
  X(int, archive_write_set_format_pax_restricted, (struct archive * a), (a), ARCHIVE_FATAL)         \
  X(int, archive_write_set_format_raw, (struct archive * a), (a), ARCHIVE_FATAL)                    \
  X(int, archive_write_set_bytes_in_last_block, (struct archive * a, int n), (a, n), ARCHIVE_FATAL) \
  X(int, archive_write_set_bytes_per_block, (struct archive * a, int n), (a, n), ARCHIVE_FATAL)     \
  X(int, archive_write_open,                                                                        \
    (struct archive * a, void* data, archive_open_callback* o, archive_write_callback* w,           \
     archive_close_callback* c),                                                                    \
    (a, data, o, w, c), ARCHIVE_FATAL)                                                              \
  X(int, archive_write_open_fd, (struct archive * a, int fd), (a, fd), ARCHIVE_FATAL)               \
  X(int, archive_write_open_filename, (struct archive * a, const char* path), (a, path),            \
    ARCHIVE_FATAL)                                                                                  \
  X(int, archive_write_header, (struct archive * a, struct archive_entry * e), (a, e), ARCHIVE_FATAL) \
  X(la_ssize_t, archive_write_data, (struct archive * a, const void* buf, size_t n), (a, buf, n),   \
    ARCHIVE_FATAL)                                                                                  \
  X(int, archive_write_close, (struct archive * a), (a), ARCHIVE_FATAL)                             \
  X(struct archive_entry*, archive_entry_new, (), (), kNoEntry)                                     \
  X(time_t, archive_entry_atime, (struct archive_entry * e), (e), 0)                                \
  X(int, archive_entry_atime_is_set, (struct archive_entry * e), (e), 0)                            \
  X(long, archive_entry_atime_nsec, (struct archive_entry * e), (e), 0)                             \
  X(__LA_MODE_T, archive_entry_filetype, (struct archive_entry * e), (e), 0)                        \
  X(la_int64_t, archive_entry_gid, (struct archive_entry * e), (e), 0)                              \
  X(const char*, archive_entry_hardlink, (struct archive_entry * e), (e), nullptr)                  \
  X(__LA_MODE_T, archive_entry_mode, (struct archive_entry * e), (e), 0)                            \
  X(time_t, archive_entry_mtime, (struct archive_entry * e), (e), 0)                                \
  X(long, archive_entry_mtime_nsec, (struct archive_entry * e), (e), 0)                             \
  X(const char*, archive_entry_pathname, (struct archive_entry * e), (e), nullptr)                  \
  X(const char*, archive_entry_pathname_utf8, (struct archive_entry * e), (e), nullptr)             \
  X(dev_t, archive_entry_rdevmajor, (struct archive_entry * e), (e), 0)                             \
  X(dev_t, archive_entry_rdevminor, (struct archive_entry * e), (e), 0)                             \
  X(la_int64_t, archive_entry_size, (struct archive_entry * e), (e), 0)                             \
  X(int, archive_entry_size_is_set, (struct archive_entry * e), (e), 0)                             \
  X(int, archive_entry_sparse_count, (struct archive_entry * e), (e), 0)                            \
  X(const struct stat*, archive_entry_stat, (struct archive_entry * e), (e), nullptr)               \
  X(const char*, archive_entry_symlink, (struct archive_entry * e), (e), nullptr)                   \
  X(la_int64_t, archive_entry_uid, (struct archive_entry * e), (e), 0)                              \
  X(int, archive_entry_xattr_count, (struct archive_entry * e), (e), 0)                             \
  X(int, archive_entry_xattr_reset, (struct archive_entry * e), (e), 0)                             \
  X(int, archive_entry_xattr_next,                                                                  \
    (struct archive_entry * e, const char** name, const void** value, size_t* size),                \
    (e, name, value, size), ARCHIVE_WARN)

// V(name, parameters, arguments): functions returning void, no-ops when unusable.
#define BERTH_ARCHIVE_VOID_FNS(V)                                                                   \
  V(archive_entry_free, (struct archive_entry * e), (e))                                            \
  V(archive_entry_copy_stat, (struct archive_entry * e, const struct stat* st), (e, st))            \
  V(archive_entry_set_filetype, (struct archive_entry * e, unsigned int t), (e, t))                 \
  V(archive_entry_set_gid, (struct archive_entry * e, la_int64_t v), (e, v))                        \
  V(archive_entry_set_hardlink, (struct archive_entry * e, const char* v), (e, v))                  \
  V(archive_entry_set_mode, (struct archive_entry * e, __LA_MODE_T v), (e, v))                      \
  V(archive_entry_set_mtime, (struct archive_entry * e, time_t s, long ns), (e, s, ns))             \
  V(archive_entry_set_pathname, (struct archive_entry * e, const char* v), (e, v))                  \
  V(archive_entry_set_perm, (struct archive_entry * e, __LA_MODE_T v), (e, v))                      \
  V(archive_entry_set_rdevmajor, (struct archive_entry * e, dev_t v), (e, v))                       \
  V(archive_entry_set_rdevminor, (struct archive_entry * e, dev_t v), (e, v))                       \
  V(archive_entry_set_size, (struct archive_entry * e, la_int64_t v), (e, v))                       \
  V(archive_entry_set_symlink, (struct archive_entry * e, const char* v), (e, v))                   \
  V(archive_entry_set_uid, (struct archive_entry * e, la_int64_t v), (e, v))                        \
  V(archive_entry_xattr_add_entry,                                                                  \
    (struct archive_entry * e, const char* name, const void* value, size_t size),                   \
    (e, name, value, size))

// Every function the table holds: the two lists, plus the two written by
// hand below (archive_error_string explains a failed load; archive_set_error
// is variadic), which get a pointer but no generated forwarder.
#define BERTH_ARCHIVE_ALL(X, V) \
  BERTH_ARCHIVE_FNS(X)          \
  BERTH_ARCHIVE_VOID_FNS(V)     \
  V(archive_error_string, , )   \
  V(archive_set_error, , )

constexpr const char* kSoname = "libarchive.so.13";

struct Api {
  bool ok = false;
  std::string error;  // the one-line cause when !ok
#define X(ret, name, params, args, fail) decltype(&::name) name = nullptr;
#define V(name, params, args) decltype(&::name) name = nullptr;
  BERTH_ARCHIVE_ALL(X, V)
#undef X
#undef V
};

Api load() {
  Api a;
  // RTLD_LOCAL: libarchive's dependencies (libxml2, ICU, ...) stay out of the
  // global scope, so nothing loaded later binds to them by accident.
  void* lib = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = ::dlerror();
    a.error = std::string(kSoname) + " could not be loaded (needed for tar): " +
              (why ? why : "unknown dlopen error");
    return a;
  }
  bool missing = false;
  auto need = [&](const char* name, auto& fn) {
    if (missing) return;
    ::dlerror();  // clear a stale error so a null result is diagnosed correctly
    void* p = ::dlsym(lib, name);
    if (!p) {
      const char* why = ::dlerror();
      a.error = std::string(kSoname) + " could not be loaded (needed for tar): it lacks " + name + ": " +
                (why ? why : "symbol is null");
      missing = true;
      return;
    }
    // dlsym returns void*; the pointer types are libarchive's own prototypes.
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
  };
#define X(ret, name, params, args, fail) need(#name, a.name);
#define V(name, params, args) need(#name, a.name);
  BERTH_ARCHIVE_ALL(X, V)
#undef X
#undef V
  if (missing) {
    ::dlclose(lib);
    return a;
  }
  // Never closed: archives and entries may live until exit.
  a.ok = true;
  return a;
}

// Thread-safe once-init (a function-local static); loads on the first call
// of any archive_* function, never at start-up.
const Api& api() {
  static const Api a = load();
  return a;
}

}  // namespace

extern "C" {

#define X(ret, name, params, args, fail) \
  ret name params {                      \
    const Api& api_ = api();             \
    if (!api_.ok) return fail;           \
    return api_.name args;               \
  }
#define V(name, params, args) \
  void name params {          \
    const Api& api_ = api();  \
    if (api_.ok) api_.name args; \
  }
BERTH_ARCHIVE_FNS(X)
BERTH_ARCHIVE_VOID_FNS(V)
#undef X
#undef V

const char* archive_error_string(struct archive* a) {
  const Api& api_ = api();
  if (!api_.ok) return api_.error.c_str();
  return api_.archive_error_string(a);
}

// Variadic: formatted here and handed over as "%s", since a va_list cannot
// be forwarded to a "..." function.
void archive_set_error(struct archive* a, int err, const char* fmt, ...) {
  const Api& api_ = api();
  if (!api_.ok) return;
  va_list ap;
  va_start(ap, fmt);
  char buf[512];
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n >= 0 && static_cast<size_t>(n) >= sizeof buf) {
    std::string big(static_cast<size_t>(n), '\0');
    va_start(ap, fmt);
    std::vsnprintf(big.data(), big.size() + 1, fmt, ap);
    va_end(ap);
    api_.archive_set_error(a, err, "%s", big.c_str());
    return;
  }
  api_.archive_set_error(a, err, "%s", n >= 0 ? buf : fmt);
}

}  // extern "C"

namespace berth::libarchive {

Status status() {
  const Api& a = api();
  if (!a.ok) return Error(Errc::unsupported, a.error);
  return Status{};
}

}  // namespace berth::libarchive
