// berth/transport: from an image reference to registry URLs, and the
// per-registry connection settings (TLS, certificates, scheme).
//
// Decisions (documented in docs/transport.md):
//  - "docker.io" is served by registry-1.docker.io (as Docker does).
//  - HTTPS is the default. With tls_verify=false, loopback registries
//    (localhost, 127.0.0.0/8, [::1]) are tried over plain HTTP first and
//    other hosts over unverified HTTPS first, then plain HTTP (podman's
//    insecure-registry behaviour). With tls_verify=true plain HTTP is never used.
//  - Certificates follow the containers-certs.d layout: in the cert dir,
//    *.crt are extra CAs, NAME.cert + NAME.key a client pair. Without
//    --cert-dir, /etc/containers/certs.d/HOST[:PORT] and
//    /etc/docker/certs.d/HOST[:PORT] are read when they exist.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "digest/digest.h"
#include "transport/http.h"

namespace berth::transport {

// "docker.io" -> "registry-1.docker.io"; others unchanged.
std::string api_host(std::string_view domain);
// localhost, 127.0.0.0/8, ::1 (with or without a port).
bool is_loopback(std::string_view host_port);
// "https" / "http" in the order they are tried.
std::vector<std::string> candidate_schemes(std::string_view host_port, bool tls_verify);

// URL builders; `base` is "scheme://host[:port]".
std::string v2_url(std::string_view base);
std::string manifest_url(std::string_view base, std::string_view repo, std::string_view tag_or_digest);
std::string blob_url(std::string_view base, std::string_view repo, const Digest& d);
std::string upload_start_url(std::string_view base, std::string_view repo);
std::string mount_url(std::string_view base, std::string_view repo, const Digest& d, std::string_view from_repo);
std::string token_url(std::string_view realm, std::string_view service, const std::vector<std::string>& scopes);

// Reads a containers-certs.d directory (missing dir: nothing added).
Result<TlsOptions> load_cert_dir(const std::string& dir, TlsOptions base);
// The cert dir for a host when the user gave none ("" when none exists).
std::string default_cert_dir(std::string_view host_port);

// Parses an upload's "Range: 0-1023" (or "bytes=0-1023") into the next
// offset (1024). nullopt when absent or malformed.
std::optional<uint64_t> parse_upload_range(std::string_view v);

}  // namespace berth::transport
