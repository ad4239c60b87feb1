// berth-registry: an OCI distribution-spec v1.1 registry server.
//   berth-registry serve --addr HOST:PORT --root DIR [--htpasswd F] [--acl F]
//                        [--tls-cert F --tls-key F [--tls-client-ca F]] [--read-only] [--config F]
//   berth-registry gc --root DIR [--grace 10m]
#include <cstdio>

#include <CLI/CLI.hpp>

#include "registry/registry.h"
#include "registry/server.h"

using namespace berth;
using namespace berth::registry;

static int fail(const Error& e) {
  std::fprintf(stderr, "berth-registry: %s\n", e.str().c_str());
  return 1;
}

int main(int argc, char** argv) {
  CLI::App app{"berth-registry: OCI distribution-spec v1.1 registry"};
  app.require_subcommand(1);

  Config cfg;
  std::string config_file, addr, root, htpasswd, acl, cert, key, client_ca, token_key, gc_interval, gc_grace, expiry,
      access_log;
  bool read_only = false;
  int threads = 0;
  auto* serve = app.add_subcommand("serve", "serve the registry");
  serve->add_option("--config", config_file, "YAML configuration file (flags override it)");
  serve->add_option("--addr", addr, "listen address HOST:PORT (port 0: any free port, printed on stdout)");
  serve->add_option("--root", root, "storage root");
  serve->add_option("--htpasswd", htpasswd, "htpasswd file with bcrypt entries (htpasswd -B)");
  serve->add_option("--acl", acl, "per-repository access rules (YAML)");
  serve->add_option("--token-key", token_key, "HMAC key file: enables Bearer tokens from GET /token");
  serve->add_option("--tls-cert", cert, "TLS certificate chain (PEM)");
  serve->add_option("--tls-key", key, "TLS private key (PEM)");
  serve->add_option("--tls-client-ca", client_ca, "CA for client certificates (subject CN = user)");
  serve->add_flag("--read-only", read_only, "serve pulls only");
  serve->add_option("--threads", threads, "I/O threads");
  serve->add_option("--gc-interval", gc_interval, "run online GC this often (e.g. 1h)");
  serve->add_option("--gc-grace", gc_grace, "online GC keeps anything pushed within this period (default 10m)");
  serve->add_option("--upload-expiry", expiry, "drop upload sessions idle this long (default 24h)");
  serve->add_option("--access-log", access_log, "access log: - (stderr, default), a file, or 'off'");

  std::string gc_root, grace = "10m";
  auto* gc = app.add_subcommand("gc", "garbage-collect unreferenced blobs and untagged manifests");
  gc->add_option("--root", gc_root, "storage root")->required();
  gc->add_option("--grace", grace, "keep anything pushed within this period (default 10m)");

  CLI11_PARSE(app, argc, argv);

  if (gc->parsed()) {
    cfg.root = gc_root;
    auto g = parse_duration(grace);
    if (!g) return fail(g.error());
    auto reg = Registry::open(cfg);
    if (!reg) return fail(reg.error());
    auto st = (*reg)->gc(*g);
    if (!st) return fail(st.error());
    std::printf("gc: removed %llu manifests, %llu blob links, %llu blobs (%llu bytes), %llu stale uploads\n",
                (unsigned long long)st->manifests_removed, (unsigned long long)st->links_removed,
                (unsigned long long)st->blobs_removed, (unsigned long long)st->bytes_removed,
                (unsigned long long)st->uploads_expired);
    return 0;
  }

  if (!config_file.empty())
    if (auto s = load_config_file(config_file, &cfg); !s) return fail(s.error());
  if (!addr.empty()) cfg.addr = addr;
  if (!root.empty()) cfg.root = root;
  if (!htpasswd.empty()) cfg.htpasswd = htpasswd;
  if (!acl.empty()) cfg.acl = acl;
  if (!token_key.empty()) cfg.token_key = token_key;
  if (!cert.empty()) cfg.tls_cert = cert;
  if (!key.empty()) cfg.tls_key = key;
  if (!client_ca.empty()) cfg.tls_client_ca = client_ca;
  if (read_only) cfg.read_only = true;
  if (threads > 0) cfg.threads = threads;
  if (!access_log.empty()) cfg.access_log = access_log == "off" ? "" : access_log;
  for (auto [flag, out] : {std::pair{&gc_interval, &cfg.gc_interval}, std::pair{&gc_grace, &cfg.gc_grace},
                            std::pair{&expiry, &cfg.upload_expiry}}) {
    if (flag->empty()) continue;
    auto d = parse_duration(*flag);
    if (!d) return fail(d.error());
    *out = *d;
  }
  auto reg = Registry::open(cfg);
  if (!reg) return fail(reg.error());
  // Sessions left by a previous run that crashed are resumable until they expire.
  if (auto e = (*reg)->expire_uploads(); !e) return fail(e.error());
  auto srv = Server::create(**reg, cfg);
  if (!srv) return fail(srv.error());
  std::printf("berth-registry listening on %s port %u\n", cfg.addr.c_str(), (*srv)->port());
  std::fflush(stdout);
  if (auto s = (*srv)->run(true); !s) return fail(s.error());
  return 0;
}
