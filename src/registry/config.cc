#include "registry/config.h"

#include <charconv>

#include <yaml-cpp/yaml.h>

#include "base/fs.h"

namespace berth::registry {

Result<int64_t> parse_duration(std::string_view s) {
  if (s.empty()) return Error(Errc::invalid_argument, "empty duration");
  int64_t mult = 1;
  std::string_view num = s;
  switch (s.back()) {
    case 's': mult = 1; num.remove_suffix(1); break;
    case 'm': mult = 60; num.remove_suffix(1); break;
    case 'h': mult = 3600; num.remove_suffix(1); break;
    case 'd': mult = 86400; num.remove_suffix(1); break;
    default: break;
  }
  int64_t v = 0;
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
  if (ec != std::errc() || p != num.data() + num.size() || v < 0 || v > (int64_t{1} << 40))
    return Error(Errc::invalid_argument, "invalid duration \"" + std::string(s.substr(0, 32)) + "\" (want e.g. 90s, 10m, 24h)");
  return v * mult;
}

Status load_config_file(const std::string& path, Config* c) {
  TRY_ASSIGN(std::string text, read_file(path, 1 << 20));
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) return Error(Errc::invalid_input, path + ": expected a mapping at top level");
    for (const auto& kv : root) {
      std::string k = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      auto dur = [&](int64_t* out) -> Status {
        TRY_ASSIGN(*out, parse_duration(v.as<std::string>()));
        return Status{};
      };
      if (k == "addr") c->addr = v.as<std::string>();
      else if (k == "root") c->root = v.as<std::string>();
      else if (k == "read_only") c->read_only = v.as<bool>();
      else if (k == "htpasswd") c->htpasswd = v.as<std::string>();
      else if (k == "acl") c->acl = v.as<std::string>();
      else if (k == "token_key") c->token_key = v.as<std::string>();
      else if (k == "token_issuer") c->token_issuer = v.as<std::string>();
      else if (k == "token_service") c->token_service = v.as<std::string>();
      else if (k == "token_realm") c->token_realm = v.as<std::string>();
      else if (k == "token_ttl") TRY(dur(&c->token_ttl));
      else if (k == "tls_cert") c->tls_cert = v.as<std::string>();
      else if (k == "tls_key") c->tls_key = v.as<std::string>();
      else if (k == "tls_client_ca") c->tls_client_ca = v.as<std::string>();
      else if (k == "threads") c->threads = v.as<int>();
      else if (k == "max_connections") c->max_connections = v.as<int>();
      else if (k == "header_limit") c->header_limit = v.as<uint64_t>();
      else if (k == "manifest_limit") c->manifest_limit = v.as<uint64_t>();
      else if (k == "idle_timeout") TRY(dur(&c->idle_timeout));
      else if (k == "read_timeout") TRY(dur(&c->read_timeout));
      else if (k == "upload_expiry") TRY(dur(&c->upload_expiry));
      else if (k == "max_uploads") c->max_uploads = v.as<int64_t>();
      else if (k == "gc_interval") TRY(dur(&c->gc_interval));
      else if (k == "gc_grace") TRY(dur(&c->gc_grace));
      else if (k == "access_log") c->access_log = v.as<std::string>();
      else return Error(Errc::invalid_input, path + ": unknown key \"" + k + "\"");
    }
  } catch (const YAML::Exception& e) {
    return Error(Errc::invalid_input, path + ": " + e.what());
  }
  if (c->threads < 1 || c->threads > 256) return Error(Errc::invalid_input, path + ": threads must be 1..256");
  return Status{};
}

}  // namespace berth::registry
