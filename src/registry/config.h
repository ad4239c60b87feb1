// berth/registry: server configuration (flags and/or a YAML file).
//
// YAML keys mirror the struct (see docs/registry.md); durations accept
// "90s", "10m", "24h" or plain seconds. Unknown keys are an error so a typo
// never silently weakens security.
#pragma once

#include <cstdint>
#include <string>

#include "base/error.h"

namespace berth::registry {

struct Config {
  std::string addr = "127.0.0.1:5000";
  std::string root;
  bool read_only = false;
  std::string htpasswd;  // basic auth users
  std::string acl;       // per-repository rules (auth.h)

  // Token auth: when token_key is set, clients get Bearer challenges and
  // fetch tokens from GET /token (authenticating there with htpasswd).
  std::string token_key;            // file with the HMAC key (>= 32 bytes)
  std::string token_issuer = "berth-registry";
  std::string token_service = "berth-registry";
  std::string token_realm;          // default: <scheme>://<Host>/token
  int64_t token_ttl = 300;

  std::string tls_cert, tls_key, tls_client_ca;

  int threads = 4;
  int max_connections = 1024;
  uint64_t header_limit = 16 << 10;
  uint64_t manifest_limit = 4 << 20;
  int64_t idle_timeout = 60;  // seconds a connection may sit between requests / in the header
  int64_t read_timeout = 60;  // seconds without progress while reading a body or writing a response
  int64_t upload_expiry = 24 * 3600;
  int64_t max_uploads = 10000;  // open upload sessions; beyond: 429 TOOMANYREQUESTS
  int64_t gc_interval = 0;    // 0: no online GC while serving
  int64_t gc_grace = 600;
  std::string access_log = "-";  // "-" stderr, "" off, else a file path (appended)
};

Result<int64_t> parse_duration(std::string_view s);
// Overlays the YAML file onto *cfg.
Status load_config_file(const std::string& path, Config* cfg);

}  // namespace berth::registry
