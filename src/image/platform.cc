#include "image/platform.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>

#include "image/media_types.h"

namespace berth::image {

static std::string lower(std::string_view s) {
  std::string o(s);
  std::transform(o.begin(), o.end(), o.begin(), [](unsigned char c) { return std::tolower(c); });
  return o;
}

Platform normalize(Platform p) {
  p.os = lower(p.os);
  if (p.os == "macos") p.os = "darwin";
  std::string a = lower(p.architecture);
  std::string v = lower(p.variant);
  if (a == "i386" || a == "i686" || a == "x86") {
    a = "386";
  } else if (a == "x86_64" || a == "x86-64" || a == "amd64") {
    a = "amd64";
    if (v == "v1") v.clear();
  } else if (a == "aarch64" || a == "arm64") {
    a = "arm64";
    if (v.empty() || v == "8" || v == "v8" || v == "v8.0") v = "v8";
  } else if (a == "armhf") {
    a = "arm";
    v = "v7";
  } else if (a == "armel") {
    a = "arm";
    v = "v6";
  } else if (a == "arm" || a == "armv7l" || a == "armv7") {
    if (a != "arm") v = "v7";
    a = "arm";
    if (v.empty() || v == "7") v = "v7";
    else if (v == "5" || v == "6" || v == "8") v = "v" + v;
  } else if (a == "armv6l") {
    a = "arm";
    v = "v6";
  }
  p.architecture = a;
  p.variant = v;
  return p;
}

Result<Platform> parse_platform(std::string_view s) {
  Platform p;
  std::vector<std::string> parts;
  size_t i = 0;
  while (true) {
    size_t j = s.find('/', i);
    parts.emplace_back(s.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  auto bad = [&](const char* why) {
    return Error(Errc::invalid_argument, "invalid platform \"" + std::string(s.substr(0, 100)) + "\": " + why);
  };
  if (parts.size() > 3) return bad("expected os/arch[/variant]");
  for (const auto& part : parts) {
    if (part.empty()) return bad("empty component");
    for (char c : part)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
        return bad("unexpected character");
  }
  if (parts.size() == 1) {
    p.os = "linux";
    p.architecture = parts[0];
  } else {
    p.os = parts[0];
    p.architecture = parts[1];
    if (parts.size() == 3) p.variant = parts[2];
  }
  return normalize(std::move(p));
}

const Platform& host_platform() {
  static const Platform host = [] {
    Platform p;
    p.os = "linux";
    struct utsname u;
    p.architecture = ::uname(&u) == 0 ? u.machine : "amd64";
    return normalize(std::move(p));
  }();
  return host;
}

bool platform_matches(const Platform& want_in, const Platform& have_in) {
  Platform want = normalize(want_in), have = normalize(have_in);
  if (want.os != have.os || want.architecture != have.architecture) return false;
  if (!want.os_version.empty() && !have.os_version.empty() && want.os_version != have.os_version) return false;
  if (want.variant.empty() || have.variant.empty()) return true;
  return want.variant == have.variant;
}

Result<Descriptor> select_platform(const Index& ix, const Platform& want) {
  const Descriptor* best = nullptr;
  int best_rank = 0;
  const Descriptor* unplatformed = nullptr;
  std::vector<std::string> available;
  Platform nw = normalize(want);
  for (const auto& d : ix.manifests) {
    if (!media::is_manifest(d.media_type) && !media::is_index(d.media_type)) continue;
    if (!d.platform) {
      if (!unplatformed) unplatformed = &d;
      continue;
    }
    if (d.platform->os == "unknown" || d.platform->architecture == "unknown") continue;  // attestations
    available.push_back(d.platform->str());
    if (!platform_matches(nw, *d.platform)) continue;
    int rank = normalize(*d.platform).variant == nw.variant ? 2 : 1;
    if (rank > best_rank) {
      best = &d;
      best_rank = rank;
    }
  }
  if (best) return *best;
  if (unplatformed) return *unplatformed;
  std::string list;
  for (const auto& a : available) list += (list.empty() ? "" : ", ") + a;
  return Error(Errc::not_found, "no manifest for platform " + want.str() + " in index" +
                                    (ix.digest.empty() ? std::string() : " " + ix.digest.str()) + "; available: " +
                                    (list.empty() ? std::string("none") : list));
}

}  // namespace berth::image
