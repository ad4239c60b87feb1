// berth/libarchive: the archive_* functions berth calls, loaded with dlopen.
//
// Why: linking libarchive makes the dynamic loader map and relocate it and
// its chain (libxml2 -> ICU, nettle, acl, lz4, ...) at every start of
// `berth`, ~1.5 ms of a ~6 ms `berth --version`, while only the verbs that
// read or write tar (pull, load, save, import, build, cp, export...) use it
// (docs/startup.md has the numbers).
//
// How: libarchive.cc DEFINES the archive_* functions berth calls, with
// libarchive's own prototypes from <archive.h>/<archive_entry.h>, so call
// sites do not change: they link berth_libarchive instead of libarchive.
// The first call of any of them dlopens "libarchive.so.13" (RTLD_NOW |
// RTLD_LOCAL) and resolves all of them, once per process (thread-safe); the
// library is never unloaded.
//
// Promises when libarchive.so.13 cannot be loaded or lacks a symbol:
//  - archive_read_new/archive_write_new/archive_entry_new return a non-null
//    placeholder (so a caller's "if (!a) ... failed" check does not hide the
//    cause); every function taking it is a no-op: int results are
//    ARCHIVE_FATAL (archive_entry_* counters 0, xattr_next ARCHIVE_WARN),
//    byte counts ARCHIVE_FATAL, other getters 0 or nullptr.
//  - archive_error_string(any) returns the one-line cause:
//    "libarchive.so.13 could not be loaded (needed for tar): <dlerror>", and
//    archive_errno(any) returns 0 (callers append strerror of a non-zero
//    one, which would say the same twice), so the callers' usual
//    "<what>: archive_error_string(a)" reports it on one line.
//  - A function berth starts to call must be added to the list in
//    libarchive.cc, or the link fails with an undefined archive_* symbol.
#pragma once

#include "base/error.h"

namespace berth::libarchive {

// Loads the library if not yet done; OK when it is usable, else the cause.
Status status();

}  // namespace berth::libarchive
