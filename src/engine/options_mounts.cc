// -v, --mount and --tmpfs, with the rules of Docker's Linux mount parser
// (volume/mounts/linux_parser.go) and CLI (opts/mount.go).
#include <unistd.h>

#include <cctype>
#include <cstring>

#include "engine/options.h"
#include "engine/options_util.h"

namespace berth::engine {

using detail::bad;
using detail::quote;

namespace {

bool is_propagation(std::string_view m) {
  return m == "shared" || m == "rshared" || m == "slave" || m == "rslave" || m == "private" || m == "rprivate";
}

// Docker's local volume names: [a-zA-Z0-9][a-zA-Z0-9_.-]+
bool valid_volume_name(std::string_view n) {
  if (n.size() < 2 || !std::isalnum(static_cast<unsigned char>(n[0]))) return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

Result<std::string> absolute(std::string_view p, const std::string& cwd, std::string_view flag,
                             std::string_view whole) {
  if (!p.empty() && p[0] == '/') return detail::clean_path(p);
  std::string base = cwd;
  if (base.empty()) {
    char buf[4096];
    if (!::getcwd(buf, sizeof buf)) return bad(flag, whole, "cannot resolve a relative path: getcwd failed");
    base = buf;
  }
  return detail::clean_path(base + "/" + std::string(p));
}

Result<std::string> target_path(std::string_view t, std::string_view flag, std::string_view whole) {
  if (t.empty()) return bad(flag, whole, "empty container path");
  if (t[0] != '/') return bad(flag, whole, "container path " + quote(t) + " must be absolute");
  std::string c = detail::clean_path(t);
  if (c == "/") return bad(flag, whole, "the container path cannot be \"/\"");
  return c;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t i = 0;
  for (;;) {
    size_t j = s.find(sep, i);
    out.push_back(s.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  return out;
}

// strconv.ParseBool, which --mount uses for readonly= and volume-nocopy=.
std::optional<bool> parse_bool(std::string_view v) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"})
    if (v == t) return true;
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"})
    if (v == f) return false;
  return std::nullopt;
}

// Go's encoding/csv for one record: fields split at ',', a field that
// starts with '"' is quoted and may contain ',' and '""'.
Result<std::vector<std::string>> csv_fields(std::string_view s, std::string_view whole) {
  std::vector<std::string> out;
  size_t i = 0;
  for (;;) {
    std::string f;
    if (i < s.size() && s[i] == '"') {
      i++;
      for (;;) {
        if (i >= s.size()) return bad("--mount", whole, "unterminated quote");
        if (s[i] == '"') {
          if (i + 1 < s.size() && s[i + 1] == '"') {
            f += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        f += s[i++];
      }
      if (i < s.size() && s[i] != ',') return bad("--mount", whole, "extraneous text after a quoted field");
    } else {
      size_t j = s.find(',', i);
      if (j == std::string_view::npos) j = s.size();
      f.assign(s.substr(i, j - i));
      if (f.find('"') != std::string::npos) return bad("--mount", whole, "bare \" in an unquoted field");
      i = j;
    }
    out.push_back(std::move(f));
    if (i >= s.size()) break;
    i++;  // the ','
  }
  return out;
}

// tmpfs option values the kernel would otherwise reject at start time.
Status check_tmpfs_option(std::string& opt, std::string_view flag, std::string_view whole) {
  std::string_view o = opt;
  size_t eq = o.find('=');
  std::string_view key = o.substr(0, eq);
  std::string_view val = eq == std::string_view::npos ? std::string_view() : o.substr(eq + 1);
  static const char* kFlags[] = {"exec",    "noexec", "suid",   "nosuid",      "dev",        "nodev",
                                 "atime",   "noatime", "relatime", "norelatime", "strictatime", "nodiratime",
                                 "diratime", "sync",   "async",  "dirsync",     "tmpcopyup",  "notmpcopyup",
                                 "mand",    "nomand"};
  if (eq == std::string_view::npos) {
    for (const char* f : kFlags)
      if (key == f) return {};
    return bad(flag, whole, "unknown tmpfs option " + quote(key));
  }
  if (key == "size") {
    if (!val.empty() && val.back() == '%') {
      auto pct = detail::parse_int(val.substr(0, val.size() - 1));
      if (!pct || *pct <= 0 || *pct > 100) return bad(flag, whole, "invalid size " + quote(val));
      return {};
    }
    auto n = parse_bytes(val, flag);
    if (!n.ok()) return bad(flag, whole, "invalid size " + quote(val));
    opt = "size=" + std::to_string(*n);
    return {};
  }
  if (key == "mode") {
    if (val.empty() || val.size() > 5 || val.find_first_not_of("01234567") != std::string_view::npos)
      return bad(flag, whole, "mode must be octal, got " + quote(val));
    return {};
  }
  if (key == "uid" || key == "gid" || key == "nr_inodes" || key == "nr_blocks") {
    auto n = detail::parse_int(val);
    if (!n || *n < 0 || *n > UINT32_MAX) return bad(flag, whole, "invalid " + std::string(key) + " " + quote(val));
    return {};
  }
  return bad(flag, whole, "unknown tmpfs option " + quote(key));
}

}  // namespace

Result<MountRequest> parse_volume(std::string_view s, const std::string& cwd) {
  constexpr std::string_view flag = "-v";
  if (s.find('\0') != std::string_view::npos) return bad(flag, s, "contains a NUL byte");
  auto parts = split(s, ':');
  if (parts.size() > 3 || parts[0].empty()) return bad(flag, s, "expected [source:]container-path[:options]");
  MountRequest m;
  std::string_view mode;
  if (parts.size() == 1) {
    m.kind = MountRequest::anonymous;
    TRY_ASSIGN(m.target, target_path(parts[0], flag, s));
    return m;
  }
  // "/ctr:ro" is a mode without a source: Docker refuses it rather than
  // guessing an anonymous volume.
  if (parts.size() == 2 && (parts[1] == "ro" || parts[1] == "rw"))
    return bad(flag, s, "a volume needs a source before its options");
  TRY_ASSIGN(m.target, target_path(parts[1], flag, s));
  if (parts.size() == 3) mode = parts[2];
  std::string_view src = parts[0];
  if (src[0] == '/' || src[0] == '.') {
    m.kind = MountRequest::bind;
    TRY_ASSIGN(m.source, absolute(src, cwd, flag, s));
    m.create_source = true;  // -v creates a missing host directory (Docker)
  } else {
    if (!valid_volume_name(src))
      return bad(flag, s,
                 quote(src) + " is not a valid volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+); a host path must be "
                 "absolute or start with \".\"");
    m.kind = MountRequest::volume;
    m.source = std::string(src);
  }
  bool seen_rw = false, seen_label = false, seen_copy = false;
  if (parts.size() == 3 && mode.empty()) return bad(flag, s, "empty options");
  for (auto o : mode.empty() ? std::vector<std::string_view>{} : split(mode, ',')) {
    auto once = [&](bool& seen) -> Status {
      if (seen) return bad(flag, s, "conflicting options " + quote(mode));
      seen = true;
      return {};
    };
    if (o == "ro" || o == "rw") {
      TRY(once(seen_rw));
      m.readonly = o == "ro";
    } else if (o == "z" || o == "Z") {
      TRY(once(seen_label));  // SELinux relabel requests: no SELinux here, nothing to relabel
    } else if (is_propagation(o)) {
      if (!m.propagation.empty()) return bad(flag, s, "conflicting options " + quote(mode));
      m.propagation = std::string(o);
    } else if (o == "nocopy" || o == "copy") {
      TRY(once(seen_copy));
      if (m.kind != MountRequest::volume) return bad(flag, s, quote(o) + " applies to named volumes only");
      m.no_copy = o == "nocopy";
    } else {
      return bad(flag, s, "unknown option " + quote(o));
    }
  }
  return m;
}

Result<MountRequest> parse_mount(std::string_view s, const std::string& cwd) {
  constexpr std::string_view flag = "--mount";
  if (s.find('\0') != std::string_view::npos) return bad(flag, s, "contains a NUL byte");
  TRY_ASSIGN(auto fields, csv_fields(s, s));
  MountRequest m;
  m.kind = MountRequest::volume;  // Docker's default type
  std::string type = "volume", source, target;
  bool any_bind = false, any_volume = false, any_tmpfs = false;
  std::vector<std::string> tmpfs_opts;
  for (auto& f : fields) {
    size_t eq = f.find('=');
    std::string key = f.substr(0, eq);
    for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool has_val = eq != std::string::npos;
    std::string val = has_val ? f.substr(eq + 1) : "";
    auto boolean = [&](bool& out) -> Status {
      if (!has_val) {
        out = true;
        return {};
      }
      auto b = parse_bool(val);
      if (!b) return bad(flag, s, "invalid value for " + key + ": " + quote(val));
      out = *b;
      return {};
    };
    if (key == "readonly" || key == "ro") {
      TRY(boolean(m.readonly));
      continue;
    }
    if (key == "volume-nocopy") {
      TRY(boolean(m.no_copy));
      any_volume = true;
      continue;
    }
    if (!has_val) return bad(flag, s, "field " + quote(f) + " must be a key=value pair");
    if (key == "type") {
      type = val;
    } else if (key == "source" || key == "src") {
      source = val;
    } else if (key == "target" || key == "dst" || key == "destination") {
      target = val;
    } else if (key == "consistency") {
      // macOS-only in Docker; accepted everywhere, meaningless on Linux
    } else if (key == "bind-propagation") {
      if (!is_propagation(val)) return bad(flag, s, "invalid bind-propagation " + quote(val));
      m.propagation = val;
      any_bind = true;
    } else if (key == "volume-driver") {
      if (val != "local") return Error(Errc::unsupported, "invalid --mount " + quote(s) + ": only the local volume driver exists");
      any_volume = true;
    } else if (key == "volume-label") {
      any_volume = true;  // labels of a volume created on the fly: berth's volumes carry none
    } else if (key == "tmpfs-size") {
      TRY_ASSIGN(int64_t n, parse_bytes(val, "--mount tmpfs-size"));
      tmpfs_opts.push_back("size=" + std::to_string(n));
      any_tmpfs = true;
    } else if (key == "tmpfs-mode") {
      if (val.empty() || val.size() > 5 || val.find_first_not_of("01234567") != std::string::npos)
        return bad(flag, s, "tmpfs-mode must be octal, got " + quote(val));
      tmpfs_opts.push_back("mode=" + val);
      any_tmpfs = true;
    } else {
      return bad(flag, s, "unexpected key " + quote(key));
    }
  }
  if (type == "bind") m.kind = MountRequest::bind;
  else if (type == "volume") m.kind = source.empty() ? MountRequest::anonymous : MountRequest::volume;
  else if (type == "tmpfs") m.kind = MountRequest::tmpfs;
  else return Error(Errc::unsupported, "invalid --mount " + quote(s) + ": type " + quote(type) + " is not supported (bind, volume, tmpfs)");
  if (target.empty()) return bad(flag, s, "target is required");
  TRY_ASSIGN(m.target, target_path(target, flag, s));
  if (any_bind && m.kind != MountRequest::bind) return bad(flag, s, "bind-* options need type=bind");
  if (any_volume && m.kind != MountRequest::volume && m.kind != MountRequest::anonymous)
    return bad(flag, s, "volume-* options need type=volume");
  if (any_tmpfs && m.kind != MountRequest::tmpfs) return bad(flag, s, "tmpfs-* options need type=tmpfs");
  switch (m.kind) {
    case MountRequest::bind: {
      if (source.empty()) return bad(flag, s, "source is required for a bind mount");
      TRY_ASSIGN(m.source, absolute(source, cwd, flag, s));
      m.create_source = false;  // Docker: "bind source path does not exist"
      break;
    }
    case MountRequest::volume:
      if (!valid_volume_name(source))
        return bad(flag, s, quote(source) + " is not a valid volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)");
      m.source = source;
      break;
    case MountRequest::anonymous:
      break;
    case MountRequest::tmpfs:
      if (!source.empty()) return bad(flag, s, "a tmpfs mount takes no source");
      m.options = std::move(tmpfs_opts);
      break;
  }
  return m;
}

Result<MountRequest> parse_tmpfs(std::string_view s) {
  constexpr std::string_view flag = "--tmpfs";
  if (s.find('\0') != std::string_view::npos) return bad(flag, s, "contains a NUL byte");
  size_t colon = s.find(':');
  MountRequest m;
  m.kind = MountRequest::tmpfs;
  TRY_ASSIGN(m.target, target_path(s.substr(0, colon), flag, s));
  if (colon == std::string_view::npos) return m;
  std::string_view opts = s.substr(colon + 1);
  if (opts.empty()) return m;
  for (auto o : split(opts, ',')) {
    if (o.empty()) return bad(flag, s, "empty option");
    if (o == "ro" || o == "rw") {
      m.readonly = o == "ro";
      continue;
    }
    std::string opt(o);
    TRY(check_tmpfs_option(opt, flag, s));
    m.options.push_back(std::move(opt));
  }
  return m;
}

}  // namespace berth::engine
