#include "registry/names.h"

#include <charconv>
#include <vector>

namespace berth::registry {

static bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: alnum runs joined by exactly one of ".", "_", "__" or "-+".
static bool valid_component(std::string_view c) {
  if (c.empty() || !lower_alnum(c.front()) || !lower_alnum(c.back())) return false;
  size_t i = 0;
  while (i < c.size()) {
    if (lower_alnum(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < c.size() && !lower_alnum(c[j])) ++j;
    std::string_view sep = c.substr(i, j - i);
    bool ok = sep == "." || sep == "_" || sep == "__" || sep.find_first_not_of('-') == std::string_view::npos;
    if (!ok) return false;
    i = j;
  }
  return true;
}

bool valid_repo_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  size_t start = 0;
  for (;;) {
    size_t slash = name.find('/', start);
    std::string_view comp = name.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!valid_component(comp)) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

bool valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  auto word = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; };
  if (!word(tag[0])) return false;
  for (char c : tag.substr(1))
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

Route parse_route(std::string_view path) {
  Route r;
  if (path == "/token") {
    r.endpoint = Endpoint::token;
    return r;
  }
  if (path == "/v2/" || path == "/v2") {
    r.endpoint = Endpoint::base;
    return r;
  }
  if (path.substr(0, 4) != "/v2/") return r;
  std::string_view rest = path.substr(4);
  if (rest == "_catalog") {
    r.endpoint = Endpoint::catalog;
    return r;
  }
  // Names contain slashes, so the endpoint is recognised from the tail.
  std::vector<std::string_view> segs;
  size_t s = 0;
  for (;;) {
    size_t p = rest.find('/', s);
    segs.push_back(rest.substr(s, p == std::string_view::npos ? std::string_view::npos : p - s));
    if (p == std::string_view::npos) break;
    s = p + 1;
  }
  size_t n = segs.size();
  auto name_upto = [&](size_t count) {
    // The name is the first `count` segments joined by '/'.
    size_t len = 0;
    for (size_t i = 0; i < count; ++i) len += segs[i].size() + (i ? 1 : 0);
    return std::string(rest.substr(0, len));
  };
  auto set = [&](Endpoint e, size_t name_segs, std::string_view ref) {
    if (name_segs == 0) return;
    r.endpoint = e;
    r.name = name_upto(name_segs);
    r.ref = std::string(ref);
  };
  if (n >= 3 && segs[n - 2] == "tags" && segs[n - 1] == "list") {
    set(Endpoint::tags_list, n - 2, "");
  } else if (n >= 3 && segs[n - 2] == "uploads" && segs[n - 3] == "blobs" && n >= 4) {
    if (segs[n - 1].empty()) set(Endpoint::upload_start, n - 3, "");
    else set(Endpoint::upload, n - 3, segs[n - 1]);
  } else if (n >= 3 && segs[n - 2] == "blobs" && segs[n - 1] == "uploads") {
    set(Endpoint::upload_start, n - 2, "");
  } else if (n >= 3 && segs[n - 2] == "manifests" && !segs[n - 1].empty()) {
    set(Endpoint::manifest, n - 2, segs[n - 1]);
  } else if (n >= 3 && segs[n - 2] == "blobs" && !segs[n - 1].empty()) {
    set(Endpoint::blob, n - 2, segs[n - 1]);
  } else if (n >= 3 && segs[n - 2] == "referrers" && !segs[n - 1].empty()) {
    set(Endpoint::referrers, n - 2, segs[n - 1]);
  }
  return r;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int h = hexval(in[i + 1]), l = hexval(in[i + 2]);
      if (h < 0 || l < 0) return false;
      char d = static_cast<char>(h * 16 + l);
      if (d == '\0') return false;
      out->push_back(d);
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

std::string percent_encode(std::string_view in) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~' || c == '/' || c == ':') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

bool parse_query(std::string_view query, std::multimap<std::string, std::string>* out) {
  size_t s = 0;
  while (s <= query.size()) {
    size_t amp = query.find('&', s);
    std::string_view kv = query.substr(s, amp == std::string_view::npos ? std::string_view::npos : amp - s);
    if (!kv.empty()) {
      size_t eq = kv.find('=');
      std::string k, v;
      std::string kraw(kv.substr(0, eq));
      std::string vraw(eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1));
      for (std::string* x : {&kraw, &vraw})
        for (char& c : *x)
          if (c == '+') c = ' ';
      if (!percent_decode(kraw, &k) || !percent_decode(vraw, &v)) return false;
      out->emplace(std::move(k), std::move(v));
    }
    if (amp == std::string_view::npos) break;
    s = amp + 1;
  }
  return true;
}

static bool parse_u64(std::string_view s, uint64_t* v) {
  if (s.empty() || s.size() > 20) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

bool parse_content_range(std::string_view v, uint64_t* start, uint64_t* end) {
  if (v.substr(0, 6) == "bytes=" || v.substr(0, 6) == "bytes ") v.remove_prefix(6);
  auto slash = v.find('/');  // "start-end/total" form: total is ignored
  if (slash != std::string_view::npos) v = v.substr(0, slash);
  auto dash = v.find('-');
  if (dash == std::string_view::npos) return false;
  if (!parse_u64(v.substr(0, dash), start) || !parse_u64(v.substr(dash + 1), end)) return false;
  return *start <= *end;
}

}  // namespace berth::registry
