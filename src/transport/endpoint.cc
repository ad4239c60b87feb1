#include "transport/endpoint.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>

#include "base/fs.h"

namespace berth::transport {

std::string api_host(std::string_view domain) {
  if (domain == "docker.io" || domain == "index.docker.io") return "registry-1.docker.io";
  return std::string(domain);
}

bool is_loopback(std::string_view hp) {
  std::string_view host = hp;
  if (host.starts_with("[")) {
    host = host.substr(1, host.find(']') - 1);
  } else if (auto c = host.rfind(':'); c != std::string_view::npos) {
    host = host.substr(0, c);
  }
  if (host == "localhost" || host == "::1") return true;
  if (host.starts_with("127.")) {
    int dots = 0;
    for (char c : host) {
      if (c == '.') dots++;
      else if (c < '0' || c > '9') return false;
    }
    return dots == 3;
  }
  return false;
}

std::vector<std::string> candidate_schemes(std::string_view hp, bool tls_verify) {
  if (tls_verify) return {"https"};
  if (is_loopback(hp)) return {"http", "https"};
  return {"https", "http"};
}

std::string v2_url(std::string_view base) { return std::string(base) + "/v2/"; }

std::string manifest_url(std::string_view base, std::string_view repo, std::string_view ref) {
  return std::string(base) + "/v2/" + std::string(repo) + "/manifests/" + std::string(ref);
}

std::string blob_url(std::string_view base, std::string_view repo, const Digest& d) {
  return std::string(base) + "/v2/" + std::string(repo) + "/blobs/" + d.str();
}

std::string upload_start_url(std::string_view base, std::string_view repo) {
  return std::string(base) + "/v2/" + std::string(repo) + "/blobs/uploads/";
}

std::string mount_url(std::string_view base, std::string_view repo, const Digest& d, std::string_view from) {
  return add_query(add_query(upload_start_url(base, repo), "mount", d.str()), "from", from);
}

std::string token_url(std::string_view realm, std::string_view service, const std::vector<std::string>& scopes) {
  std::string u(realm);
  if (!service.empty()) u = add_query(u, "service", service);
  for (auto& s : scopes) u = add_query(u, "scope", s);
  return u;
}

Result<TlsOptions> load_cert_dir(const std::string& dir, TlsOptions base) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT) return base;
    return sys_error("opening cert dir " + dir);
  }
  std::vector<std::string> names;
  while (auto* e = ::readdir(d)) names.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (auto& n : names) {
    std::string p = dir + "/" + n;
    if (n.ends_with(".crt")) {
      TRY_ASSIGN(std::string pem, read_file(p, 1 << 20));
      base.extra_ca_pem += pem;
      base.extra_ca_pem += "\n";
    } else if (n.ends_with(".cert")) {
      std::string key = dir + "/" + n.substr(0, n.size() - 5) + ".key";
      if (!path_exists(key))
        return Error(Errc::invalid_argument, "cert dir " + dir + ": client certificate " + n + " has no matching key " +
                                                 n.substr(0, n.size() - 5) + ".key");
      base.client_cert = p;
      base.client_key = key;
    } else if (n.ends_with(".key")) {
      std::string cert = n.substr(0, n.size() - 4) + ".cert";
      if (!path_exists(dir + "/" + cert))
        return Error(Errc::invalid_argument, "cert dir " + dir + ": key " + n + " has no matching certificate " + cert);
    }
  }
  return base;
}

std::string default_cert_dir(std::string_view hp) {
  for (const char* root : {"/etc/containers/certs.d/", "/etc/docker/certs.d/"}) {
    std::string d = root + std::string(hp);
    struct stat st;
    if (::stat(d.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return d;
  }
  return "";
}

std::optional<uint64_t> parse_upload_range(std::string_view v) {
  if (v.starts_with("bytes=")) v.remove_prefix(6);
  auto dash = v.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  uint64_t a = 0, b = 0;
  auto r1 = std::from_chars(v.data(), v.data() + dash, a);
  auto r2 = std::from_chars(v.data() + dash + 1, v.data() + v.size(), b);
  if (r1.ec != std::errc() || r1.ptr != v.data() + dash || r2.ec != std::errc() || r2.ptr != v.data() + v.size())
    return std::nullopt;
  if (a != 0 || b < a) return std::nullopt;
  return b + 1;
}

}  // namespace berth::transport
