#include "registry/api.h"

#include <nlohmann/json.hpp>

namespace berth::registry {

std::string_view Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

const char* api_code_name(ApiCode c) {
  switch (c) {
    case ApiCode::BLOB_UNKNOWN: return "BLOB_UNKNOWN";
    case ApiCode::BLOB_UPLOAD_INVALID: return "BLOB_UPLOAD_INVALID";
    case ApiCode::BLOB_UPLOAD_UNKNOWN: return "BLOB_UPLOAD_UNKNOWN";
    case ApiCode::DIGEST_INVALID: return "DIGEST_INVALID";
    case ApiCode::MANIFEST_BLOB_UNKNOWN: return "MANIFEST_BLOB_UNKNOWN";
    case ApiCode::MANIFEST_INVALID: return "MANIFEST_INVALID";
    case ApiCode::MANIFEST_UNKNOWN: return "MANIFEST_UNKNOWN";
    case ApiCode::NAME_INVALID: return "NAME_INVALID";
    case ApiCode::NAME_UNKNOWN: return "NAME_UNKNOWN";
    case ApiCode::SIZE_INVALID: return "SIZE_INVALID";
    case ApiCode::UNAUTHORIZED: return "UNAUTHORIZED";
    case ApiCode::DENIED: return "DENIED";
    case ApiCode::UNSUPPORTED: return "UNSUPPORTED";
    case ApiCode::TOOMANYREQUESTS: return "TOOMANYREQUESTS";
    case ApiCode::RANGE_INVALID: return "RANGE_INVALID";
  }
  return "UNKNOWN";
}

Response api_error(int status, ApiCode code, std::string_view message, std::string_view detail) {
  nlohmann::json e = {{"code", api_code_name(code)}, {"message", std::string(message)}};
  // Messages may quote hostile input; dump() with replace keeps the body valid UTF-8.
  if (!detail.empty()) e["detail"] = std::string(detail);
  else e["detail"] = nullptr;
  Response r;
  r.status = status;
  r.body = nlohmann::json{{"errors", nlohmann::json::array({e})}}.dump(-1, ' ', false,
                                                                        nlohmann::json::error_handler_t::replace);
  r.set("Content-Type", "application/json");
  return r;
}

}  // namespace berth::registry
