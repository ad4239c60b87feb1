// berth/image: the image configuration (image-spec v1.1 config.md), with the
// Docker extensions berth honours (Healthcheck, OnBuild, Shell).
//
// Promises: parse_config enforces an 8 MiB limit, the referring descriptor's
// size/digest, required fields (architecture, os, rootfs of type "layers"
// with valid diff_ids) and field types, and keeps the original bytes: the
// image ID is the digest of those bytes, never of a re-serialisation.
// serialize() starts from `raw` when present, so fields berth does not model
// (Docker's container_config, docker_version, ...) survive an edit.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/descriptor.h"

namespace berth::image {

inline constexpr size_t kMaxConfigSize = 8 << 20;

struct Healthcheck {
  std::vector<std::string> test;  // ["NONE"], ["CMD", ...], ["CMD-SHELL", "..."]
  int64_t interval = 0, timeout = 0, start_period = 0, start_interval = 0;  // nanoseconds
  int64_t retries = 0;
};

// The "config" object: defaults for containers run from the image.
struct RunConfig {
  std::string user;
  std::vector<std::string> exposed_ports;  // "80/tcp", sorted, unique
  std::vector<std::string> env;            // "KEY=value"
  std::optional<std::vector<std::string>> entrypoint;
  std::optional<std::vector<std::string>> cmd;
  std::vector<std::string> volumes;  // sorted, unique
  std::string working_dir;
  std::map<std::string, std::string> labels;
  std::string stop_signal;
  std::optional<Healthcheck> healthcheck;
  bool args_escaped = false;
  std::vector<std::string> on_build;
  std::vector<std::string> shell;
};

struct History {
  std::string created;
  std::string created_by;
  std::string author;
  std::string comment;
  bool empty_layer = false;
};

struct ImageConfig {
  std::string created;  // RFC 3339
  std::string author;
  std::string architecture;
  std::string os;
  std::string os_version;
  std::vector<std::string> os_features;
  std::string variant;
  RunConfig config;
  std::vector<Digest> diff_ids;  // rootfs.diff_ids; rootfs.type is always "layers"
  std::vector<History> history;

  std::string raw;
  Digest digest;

  Platform platform() const;
};

Result<ImageConfig> parse_config(std::string_view bytes, const Descriptor* from = nullptr);
std::string serialize(const ImageConfig& c);

// "KEY=value" lookup/update on an env list (first '=' splits).
std::optional<std::string> env_get(const std::vector<std::string>& env, std::string_view key);
void env_set(std::vector<std::string>& env, std::string_view key, std::string_view value);

// RFC 3339 "2024-01-02T03:04:05Z" / "...05.123+01:00", as Go's time.Time accepts.
bool valid_timestamp(std::string_view s);
// Now, UTC, second precision: "2026-11-21T22:30:00Z".
std::string now_rfc3339();

}  // namespace berth::image
