// Registry verbs: login, logout, pull, push, copy (src/transport).
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>

#include "base/fs.h"
#include "cli.h"
#include "image/platform.h"
#include "transport/auth.h"
#include "transport/transport.h"

namespace berth::cli {

namespace {

using transport::Credentials;
using transport::ImageName;
using transport::Kind;

// Flags shared by the verbs that talk to a registry.
struct RegFlags {
  bool tls_verify = true;
  std::string cert_dir;
  std::string authfile;
  std::string creds;  // "user[:password]"
};

void add_reg_flags(CLI::App* c, RegFlags& f, const std::string& prefix = "") {
  // A flag, so a bare --tls-verify does not swallow the next argument; =false works too.
  c->add_flag("--" + prefix + "tls-verify", f.tls_verify,
              "Require HTTPS and verify certificates (=false also allows plain HTTP)");
  c->add_option("--" + prefix + "cert-dir", f.cert_dir, "Directory with *.crt CAs and *.cert/*.key client pairs");
  c->add_option("--" + prefix + "creds", f.creds, "Credentials USER[:PASSWORD] for the registry");
}

Result<transport::RegistryOptions> reg_options(const RegFlags& f, const std::string& authfile) {
  transport::RegistryOptions o;
  o.tls_verify = f.tls_verify;
  o.cert_dir = f.cert_dir;
  o.authfile = authfile;
  if (!f.creds.empty()) {
    auto c = f.creds.find(':');
    Credentials cr;
    cr.username = f.creds.substr(0, c);
    if (c != std::string::npos) cr.password = f.creds.substr(c + 1);
    if (cr.username.empty()) return Error(Errc::invalid_argument, "--creds: empty user name");
    o.credentials = cr;
  }
  // Testing knobs: force the chunked upload path on small blobs.
  if (const char* m = std::getenv("BERTH_PUSH_MONOLITHIC_MAX")) o.monolithic_max = std::strtoull(m, nullptr, 10);
  if (const char* m = std::getenv("BERTH_PUSH_CHUNK_SIZE"))
    o.chunk_size = std::max<uint64_t>(1, std::strtoull(m, nullptr, 10));
  return o;
}

std::string short_digest(const Digest& d) { return d.hex().substr(0, 12); }

// podman-style progress: bars redrawn in place on a terminal, one line per
// finished blob otherwise.
class CliProgress : public transport::ProgressSink {
 public:
  explicit CliProgress(bool tty) : tty_(tty) {}
  void blob_start(const image::Descriptor& d, std::string_view verb) override {
    std::lock_guard g(mu_);
    std::string v(verb);
    if (image::media::is_image_config(d.media_type) && v == "Copying blob") v = "Copying config";
    auto [it, inserted] = rows_.try_emplace(d.digest.str(), Row{v, d.size, 0, ""});
    if (inserted) order_.push_back(d.digest.str());
    else it->second = Row{v, d.size, 0, ""};
    if (tty_) redraw();
  }
  void blob_progress(const image::Descriptor& d, uint64_t done) override {
    if (!tty_) return;
    std::lock_guard g(mu_);
    auto it = rows_.find(d.digest.str());
    if (it == rows_.end()) return;
    it->second.done = done;
    auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    redraw();
  }
  void blob_done(const image::Descriptor& d, std::string_view outcome) override {
    std::lock_guard g(mu_);
    auto it = rows_.find(d.digest.str());
    if (it == rows_.end()) return;
    it->second.outcome = std::string(outcome);
    it->second.done = it->second.total;
    if (tty_) {
      redraw();
    } else {
      std::fprintf(stderr, "%s %s %s\n", it->second.verb.c_str(), short_digest(d.digest).c_str(), outcome.data());
    }
  }
  void message(std::string_view line) override {
    std::lock_guard g(mu_);
    // The rows drawn so far stay on screen as they are (messages come between
    // phases, when every row has its outcome); new rows start below.
    drawn_ = 0;
    rows_.clear();
    order_.clear();
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  }

 private:
  struct Row {
    std::string verb;
    uint64_t total = 0, done = 0;
    std::string outcome;
  };
  void redraw() {
    if (drawn_ > 0) std::fprintf(stderr, "\x1b[%zuA", drawn_);
    for (auto& k : order_) {
      const Row& r = rows_[k];
      std::string id = k.substr(k.find(':') + 1, 12);
      if (!r.outcome.empty()) {
        std::fprintf(stderr, "\x1b[2K%s %s %s\n", r.verb.c_str(), id.c_str(), r.outcome.c_str());
        continue;
      }
      int width = 30;
      int fill = r.total ? static_cast<int>(width * std::min<double>(1.0, double(r.done) / double(r.total))) : 0;
      std::string bar(static_cast<size_t>(fill), '=');
      bar.resize(static_cast<size_t>(width), ' ');
      std::fprintf(stderr, "\x1b[2K%s %s [%s] %s / %s\n", r.verb.c_str(), id.c_str(), bar.c_str(),
                   human_size(r.done).c_str(), human_size(r.total).c_str());
    }
    drawn_ = order_.size();
    std::fflush(stderr);
  }
  bool tty_;
  std::mutex mu_;
  std::map<std::string, Row> rows_;
  std::vector<std::string> order_;
  size_t drawn_ = 0;
  std::chrono::steady_clock::time_point last_{};
};

std::unique_ptr<CliProgress> make_progress(bool quiet) {
  if (quiet) return nullptr;
  return std::make_unique<CliProgress>(::isatty(2));
}

Result<std::optional<image::media::Compression>> parse_compression(const std::string& s) {
  if (s.empty() || s == "gzip") return std::optional(image::media::Compression::gzip);
  if (s == "zstd") return std::optional(image::media::Compression::zstd);
  if (s == "none" || s == "uncompressed") return std::optional<image::media::Compression>();
  return Error(Errc::invalid_argument, "--compression-format: \"" + s + "\" is not gzip, zstd or none");
}

// A registry argument to login/logout: "host[:port]", "docker://host", "https://host/v2/".
std::string registry_key(std::string s) {
  if (s.starts_with("docker://")) s = s.substr(9);
  return transport::normalize_auth_key(s);
}

Result<std::string> prompt(const char* what, bool echo) {
  if (!::isatty(0)) return Error(Errc::invalid_argument, std::string("login: no ") + what + " given and stdin is not a terminal");
  std::fprintf(stderr, "%s: ", what);
  std::fflush(stderr);
  termios old{};
  bool restore = false;
  if (!echo && ::tcgetattr(0, &old) == 0) {
    termios t = old;
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    restore = ::tcsetattr(0, TCSANOW, &t) == 0;
  }
  std::string line;
  std::getline(std::cin, line);
  if (restore) {
    ::tcsetattr(0, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  }
  return line;
}

Result<int> cmd_login(const std::string& registry, std::string user, std::string pass, bool pass_stdin,
                      const RegFlags& f) {
  if (registry.empty()) return Error(Errc::invalid_argument, "login: no registry given");
  std::string key = registry_key(registry);
  std::string host = key.substr(0, key.find('/'));
  if (pass_stdin) {
    if (!pass.empty()) return Error(Errc::invalid_argument, "login: --password and --password-stdin are exclusive");
    std::getline(std::cin, pass);
    while (!pass.empty() && (pass.back() == '\n' || pass.back() == '\r')) pass.pop_back();
  }
  if (user.empty()) {
    TRY_ASSIGN(user, prompt("Username", true));
  }
  if (pass.empty()) {
    TRY_ASSIGN(pass, prompt("Password", false));
  }
  if (user.empty() || pass.empty()) return Error(Errc::invalid_argument, "login: user name and password are required");
  TRY_ASSIGN(transport::RegistryOptions o, reg_options(f, f.authfile));
  o.credentials = Credentials{user, pass};
  TRY_ASSIGN(auto client, transport::RegistryClient::create(host, o));
  if (auto s = client->check_credentials(); !s.ok()) return std::move(s).error().wrap("login to " + host);
  std::string file = f.authfile.empty() ? transport::default_auth_file() : f.authfile;
  TRY_ASSIGN(transport::AuthFile af, transport::AuthFile::load(file));
  af.set(key, *o.credentials);
  TRY(af.save(file));
  std::puts("Login Succeeded!");
  return 0;
}

Result<int> cmd_logout(const std::string& registry, bool all, const std::string& authfile) {
  std::string file = authfile.empty() ? transport::default_auth_file() : authfile;
  TRY_ASSIGN(transport::AuthFile af, transport::AuthFile::load(file));
  if (all) {
    af.clear();
    TRY(af.save(file));
    std::puts("Removed login credentials for all registries");
    return 0;
  }
  if (registry.empty()) return Error(Errc::invalid_argument, "logout: give a registry or --all");
  std::string key = registry_key(registry);
  if (!af.erase(key)) return Error(Errc::not_found, "logout: not logged into " + key);
  TRY(af.save(file));
  std::printf("Removed login credentials for %s\n", key.c_str());
  return 0;
}

struct PullFlags {
  RegFlags reg;
  std::string platform;
  bool quiet = false;
  bool all = false;
};

Result<int> cmd_pull(const std::string& what, const PullFlags& f) {
  bool has_transport = what.starts_with("docker://") || what.starts_with("oci:") ||
                       what.starts_with("oci-archive:") || what.starts_with("docker-archive:");
  TRY_ASSIGN(ImageName src, transport::parse_image_name(has_transport ? what : "docker://" + what));
  if (src.kind == Kind::local) return Error(Errc::invalid_argument, "pull: " + what + " is already local");
  transport::CopyOptions o;
  TRY_ASSIGN(o.src_registry, reg_options(f.reg, f.reg.authfile));
  o.store_root = store_root();
  if (!f.platform.empty()) {
    TRY_ASSIGN(o.platform, image::parse_platform(f.platform));
  }
  o.all_platforms = f.all;
  auto progress = make_progress(f.quiet);
  o.progress = progress.get();
  ImageName dst;
  dst.kind = Kind::local;
  if (src.kind == Kind::docker) dst.ref = src.ref;
  if (progress) {
    if (src.kind == Kind::docker) progress->message("Trying to pull " + src.ref->str() + "...");
    progress->message("Getting image source signatures");
  }
  TRY_ASSIGN(transport::CopyResult r, transport::copy_image(src, dst, o));
  std::puts(r.config.hex().c_str());
  return 0;
}

struct PushFlags {
  RegFlags reg;
  std::string compression;
  std::string digestfile;
  bool quiet = false;
  bool all = false;
};

Result<int> cmd_push(const std::string& image, const std::string& dest, const PushFlags& f) {
  TRY_ASSIGN(ImageName src, transport::parse_image_name(image.starts_with("berth:") ? image : "berth:" + image));
  ImageName dst;
  if (dest.empty()) {
    dst.kind = Kind::docker;
    dst.ref = src.ref;
  } else {
    bool has_transport = dest.starts_with("docker://") || dest.starts_with("oci:") ||
                         dest.starts_with("oci-archive:") || dest.starts_with("docker-archive:");
    TRY_ASSIGN(dst, transport::parse_image_name(has_transport ? dest : "docker://" + dest));
  }
  transport::CopyOptions o;
  TRY_ASSIGN(o.dst_registry, reg_options(f.reg, f.reg.authfile));
  o.store_root = store_root();
  TRY_ASSIGN(o.compression, parse_compression(f.compression));
  o.all_platforms = f.all;
  auto progress = make_progress(f.quiet);
  o.progress = progress.get();
  if (progress) progress->message("Getting image source signatures");
  TRY_ASSIGN(transport::CopyResult r, transport::copy_image(src, dst, o));
  if (!f.digestfile.empty()) TRY(atomic_write_file(f.digestfile, r.top.digest.str()));
  return 0;
}

struct CopyFlags {
  RegFlags src, dst;
  std::string authfile;
  std::string platform;
  std::string compression;
  bool all = false;
  bool quiet = false;
};

Result<int> cmd_copy(const std::string& s, const std::string& d, const CopyFlags& f) {
  TRY_ASSIGN(ImageName src, transport::parse_image_name(s));
  TRY_ASSIGN(ImageName dst, transport::parse_image_name(d));
  transport::CopyOptions o;
  TRY_ASSIGN(o.src_registry, reg_options(f.src, f.authfile));
  TRY_ASSIGN(o.dst_registry, reg_options(f.dst, f.authfile));
  o.store_root = store_root();
  if (!f.platform.empty()) {
    TRY_ASSIGN(o.platform, image::parse_platform(f.platform));
  }
  TRY_ASSIGN(o.compression, parse_compression(f.compression));
  o.all_platforms = f.all;
  auto progress = make_progress(f.quiet);
  o.progress = progress.get();
  if (progress) progress->message("Getting image source signatures");
  TRY_ASSIGN(transport::CopyResult r, transport::copy_image(src, dst, o));
  (void)r;
  return 0;
}

}  // namespace

void register_registry_verbs(CLI::App& app) {
  {
    auto* c = app.add_subcommand("login", "Log in to a registry (credentials are verified, then stored)");
    auto reg = std::make_shared<std::string>();
    auto user = std::make_shared<std::string>(), pass = std::make_shared<std::string>();
    auto pass_stdin = std::make_shared<bool>(false);
    auto f = std::make_shared<RegFlags>();
    c->add_option("registry", *reg, "Registry host[:port]")->required();
    c->add_option("-u,--username", *user, "User name");
    c->add_option("-p,--password", *pass, "Password (prefer --password-stdin)");
    c->add_flag("--password-stdin", *pass_stdin, "Read the password from stdin");
    c->add_option("--authfile", f->authfile, "Credentials file (default: $BERTH_AUTH_FILE or ~/.config/berth/auth.json)");
    c->add_flag("--tls-verify", f->tls_verify, "Require HTTPS and verify certificates (=false also allows plain HTTP)");
    c->add_option("--cert-dir", f->cert_dir, "Directory with *.crt CAs and *.cert/*.key client pairs");
    set_action(c, [=] { return cmd_login(*reg, *user, *pass, *pass_stdin, *f); });
  }
  {
    auto* c = app.add_subcommand("logout", "Remove stored credentials for a registry");
    auto reg = std::make_shared<std::string>(), authfile = std::make_shared<std::string>();
    auto all = std::make_shared<bool>(false);
    c->add_option("registry", *reg, "Registry host[:port]");
    c->add_flag("-a,--all", *all, "Remove the credentials of every registry");
    c->add_option("--authfile", *authfile, "Credentials file");
    set_action(c, [=] { return cmd_logout(*reg, *all, *authfile); });
  }
  {
    auto* c = app.add_subcommand("pull", "Pull an image from a registry (or an archive) into the store");
    auto what = std::make_shared<std::string>();
    auto f = std::make_shared<PullFlags>();
    c->add_option("image", *what, "Image reference (docker://, oci:, oci-archive:, docker-archive: accepted)")->required();
    add_reg_flags(c, f->reg);
    c->add_option("--authfile", f->reg.authfile, "Credentials file");
    c->add_option("--platform", f->platform, "OS/ARCH[/VARIANT] to pull from a multi-platform image");
    c->add_flag("-a,--all-platforms", f->all, "Pull every platform of a multi-platform image");
    c->add_flag("-q,--quiet", f->quiet, "Print only the image ID");
    set_action(c, [=] { return cmd_pull(*what, *f); });
  }
  {
    auto* c = app.add_subcommand("push", "Push an image from the store to a registry");
    auto image = std::make_shared<std::string>(), dest = std::make_shared<std::string>();
    auto f = std::make_shared<PushFlags>();
    c->add_option("image", *image, "Local image")->required();
    c->add_option("destination", *dest, "Destination (docker://REF or REF; default: the image's name)");
    add_reg_flags(c, f->reg);
    c->add_option("--authfile", f->reg.authfile, "Credentials file");
    c->add_option("--compression-format", f->compression, "gzip (default), zstd or none: for uncompressed layers");
    c->add_option("--digestfile", f->digestfile, "Write the pushed manifest's digest to this file");
    c->add_flag("--all", f->all, "Push every platform of a multi-platform image");
    c->add_flag("-q,--quiet", f->quiet, "Print nothing");
    set_action(c, [=] { return cmd_push(*image, *dest, *f); });
  }
  {
    auto* c = app.add_subcommand("copy", "Copy an image between transports (docker://, berth:, oci:, oci-archive:, docker-archive:)");
    auto s = std::make_shared<std::string>(), d = std::make_shared<std::string>();
    auto f = std::make_shared<CopyFlags>();
    c->add_option("source", *s, "Source image")->required();
    c->add_option("destination", *d, "Destination image")->required();
    add_reg_flags(c, f->src, "src-");
    add_reg_flags(c, f->dst, "dest-");
    c->add_option("--authfile", f->authfile, "Credentials file");
    c->add_option("--platform", f->platform, "OS/ARCH[/VARIANT] to copy from a multi-platform image");
    c->add_option("--dest-compress-format,--compression-format", f->compression, "gzip (default), zstd or none");
    c->add_flag("-a,--all", f->all, "Copy every platform of a multi-platform image");
    c->add_flag("-q,--quiet", f->quiet, "Print nothing");
    set_action(c, [=] { return cmd_copy(*s, *d, *f); });
  }
}

}  // namespace berth::cli
