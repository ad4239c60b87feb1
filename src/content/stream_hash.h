// berth/content: resumable ingests keep their hash's midstate on disk
// (digest's Hasher::midstate), in a self-checking record. Not a public header.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "digest/digest.h"

namespace berth::content::detail {

// magic | algorithm | offset | midstate | sha256 of all that.
std::string save_hash(const Hasher& h);
// nullopt if the record is damaged, of another algorithm, or from an
// incompatible build.
std::optional<Hasher> load_hash(std::string_view saved, DigestAlg alg);

}  // namespace berth::content::detail
