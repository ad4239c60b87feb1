// berth/metadata: helpers shared by the implementation files. Not a public header.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/error.h"

struct sqlite3;

namespace berth::metadata::detail {

// Maps an SQLite result code to an Error (busy, already_exists for
// constraints, ...) with the connection's message.
Error sqlite_error(sqlite3* db, int rc, std::string_view what);
int64_t now_seconds();

}  // namespace berth::metadata::detail
