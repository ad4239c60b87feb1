#include "image/change.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "image/json_util.h"

namespace berth::image {

namespace {

constexpr size_t kMaxExposed = 4096;

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) b++;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) e--;
  return std::string(s.substr(b, e - b));
}

// Expands $NAME, ${NAME}, ${NAME:-word} and ${NAME:+word} at s[i] == '$'
// from `env` (the image's Env, as Dockerfile instructions see it); unset
// names expand to "". Returns the index of the last character consumed.
size_t expand(std::string_view s, size_t i, const std::vector<std::string>& env, std::string& out) {
  auto name_char = [](char c, bool first) {
    return c == '_' || std::isalpha(static_cast<unsigned char>(c)) || (!first && std::isdigit(static_cast<unsigned char>(c)));
  };
  if (i + 1 < s.size() && s[i + 1] == '{') {
    size_t close = s.find('}', i + 2);
    if (close == std::string_view::npos) {
      out += '$';
      return i;
    }
    std::string_view body = s.substr(i + 2, close - i - 2);
    std::string_view name = body, word;
    char op = 0;
    if (auto c = body.find(':'); c != std::string_view::npos && c + 1 < body.size() && (body[c + 1] == '-' || body[c + 1] == '+')) {
      name = body.substr(0, c);
      op = body[c + 1];
      word = body.substr(c + 2);
    }
    auto v = env_get(env, name);
    bool set = v && !v->empty();
    if (op == '-') out += set ? *v : std::string(word);
    else if (op == '+') out += set ? std::string(word) : std::string();
    else if (v) out += *v;
    return close;
  }
  size_t j = i + 1;
  while (j < s.size() && name_char(s[j], j == i + 1)) j++;
  if (j == i + 1) {
    out += '$';
    return i;
  }
  if (auto v = env_get(env, s.substr(i + 1, j - i - 1))) out += *v;
  return j - 1;
}

// The Dockerfile word lexer: "..." (with \ escapes and $ expansion), '...'
// (literal), backslash escapes and $ expansion outside quotes. `split`:
// unquoted whitespace separates words (ENV, LABEL, EXPOSE, VOLUME); otherwise
// the whole argument is one word (WORKDIR, USER, STOPSIGNAL).
Result<std::vector<std::string>> lex(std::string_view s, const std::string& what, const std::vector<std::string>& env,
                                     bool split = true) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (quote == '\'') {
      if (c == quote) quote = 0;
      else cur += c;
      continue;
    }
    if (quote == '"') {
      if (c == '"') quote = 0;
      else if (c == '\\' && i + 1 < s.size()) cur += s[++i];
      else if (c == '$') i = expand(s, i, env, cur);
      else cur += c;
      continue;
    }
    if (split && std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) out.push_back(std::move(cur)), cur.clear(), in_word = false;
      continue;
    }
    in_word = true;
    if (c == '"' || c == '\'') quote = c;
    else if (c == '\\' && i + 1 < s.size()) cur += s[++i];
    else if (c == '$') i = expand(s, i, env, cur);
    else cur += c;
  }
  if (quote) return Error(Errc::invalid_argument, what + ": unterminated quote");
  if (in_word) out.push_back(std::move(cur));
  return out;
}

Result<std::string> word(std::string_view s, const std::string& what, const std::vector<std::string>& env) {
  TRY_ASSIGN(auto ws, lex(s, what, env, false));
  return ws.empty() ? std::string() : ws[0];
}

// JSON array of strings, or nullopt when `s` is not one (shell form).
std::optional<std::vector<std::string>> json_array(const std::string& s) {
  if (s.empty() || s[0] != '[') return std::nullopt;
  auto j = detail::parse_json(s, "change", 1 << 20);
  if (!j.ok() || !j->is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& e : *j) {
    if (!e.is_string()) return std::nullopt;
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::vector<std::string> command(const std::string& args) {
  if (auto a = json_array(args)) return *a;
  return {"/bin/sh", "-c", args};
}

Result<std::vector<std::pair<std::string, std::string>>> pairs(const std::string& args, const std::string& what,
                                                               const std::vector<std::string>& env) {
  TRY_ASSIGN(auto ws, lex(args, what, env));
  if (ws.empty()) return Error(Errc::invalid_argument, what + ": needs at least one argument");
  std::vector<std::pair<std::string, std::string>> out;
  if (ws[0].find('=') == std::string::npos) {
    // Legacy "ENV key value with spaces": the rest of the line is the value.
    size_t ws_at = args.find_first_of(" \t");
    std::string rest = ws_at == std::string::npos ? std::string() : trim(std::string_view(args).substr(ws_at));
    if (rest.empty()) return Error(Errc::invalid_argument, what + ": \"" + ws[0].substr(0, 100) + "\" needs a value");
    TRY_ASSIGN(std::string v, word(rest, what, env));
    out.emplace_back(ws[0], v);
    return out;
  }
  for (const auto& w : ws) {
    auto eq = w.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error(Errc::invalid_argument, what + ": \"" + w.substr(0, 100) + "\" is not key=value");
    out.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  return out;
}

Status expose(RunConfig& cfg, const std::string& args, const std::string& what) {
  TRY_ASSIGN(auto ws, lex(args, what, cfg.env));
  if (ws.empty()) return Error(Errc::invalid_argument, what + ": needs at least one port");
  std::set<std::string> ports(cfg.exposed_ports.begin(), cfg.exposed_ports.end());
  for (const auto& w : ws) {
    auto slash = w.find('/');
    std::string spec = w.substr(0, slash);
    std::string proto = slash == std::string::npos ? "tcp" : w.substr(slash + 1);
    std::transform(proto.begin(), proto.end(), proto.begin(), [](unsigned char c) { return std::tolower(c); });
    if (proto != "tcp" && proto != "udp" && proto != "sctp")
      return Error(Errc::invalid_argument, what + ": \"" + w.substr(0, 64) + "\": protocol must be tcp, udp or sctp");
    auto num = [&](const std::string& s) -> Result<int> {
      if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), ::isdigit))
        return Error(Errc::invalid_argument, what + ": \"" + w.substr(0, 64) + "\" is not a port");
      int v = std::stoi(s);
      if (v < 1 || v > 65535) return Error(Errc::invalid_argument, what + ": port " + s + " out of range");
      return v;
    };
    auto dash = spec.find('-');
    TRY_ASSIGN(int lo, num(spec.substr(0, dash)));
    int hi = lo;
    if (dash != std::string::npos) {
      TRY_ASSIGN(hi, num(spec.substr(dash + 1)));
      if (hi < lo) return Error(Errc::invalid_argument, what + ": \"" + w.substr(0, 64) + "\": empty port range");
    }
    for (int p = lo; p <= hi; p++) {
      ports.insert(std::to_string(p) + "/" + proto);
      if (ports.size() > kMaxExposed)
        return Error(Errc::limit, what + ": more than " + std::to_string(kMaxExposed) + " exposed ports");
    }
  }
  cfg.exposed_ports.assign(ports.begin(), ports.end());
  return Status{};
}

std::string clean_path(const std::string& p) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string c = p.substr(i, j - i);
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!c.empty() && c != ".") {
      parts.push_back(c);
    }
    i = j + 1;
  }
  std::string out;
  for (const auto& c : parts) out += "/" + c;
  return out.empty() ? "/" : out;
}

bool valid_signal(const std::string& s) {
  if (s.empty() || s.size() > 32) return false;
  if (std::all_of(s.begin(), s.end(), ::isdigit)) return std::stoi(s) > 0 && std::stoi(s) < 65;
  for (char c : s)
    if (!std::isupper(static_cast<unsigned char>(c)) && !std::isdigit(static_cast<unsigned char>(c)) && c != '+' && c != '-')
      return false;
  return true;
}

}  // namespace

Status apply_changes(RunConfig& cfg, const std::vector<std::string>& changes) {
  bool cmd_set = false;
  for (const auto& raw : changes) {
    std::string line = trim(raw);
    size_t sp = 0;
    while (sp < line.size() && !std::isspace(static_cast<unsigned char>(line[sp]))) sp++;
    std::string kw = line.substr(0, sp);
    std::transform(kw.begin(), kw.end(), kw.begin(), [](unsigned char c) { return std::toupper(c); });
    std::string args = trim(std::string_view(line).substr(sp));
    std::string what = "change \"" + line.substr(0, 120) + "\"";
    if (kw.empty()) return Error(Errc::invalid_argument, "change: empty instruction");
    if (args.empty()) return Error(Errc::invalid_argument, what + ": " + kw + " needs an argument");

    if (kw == "CMD") {
      cfg.cmd = command(args);
      cmd_set = true;
    } else if (kw == "ENTRYPOINT") {
      cfg.entrypoint = command(args);
      if (!cmd_set) cfg.cmd.reset();
    } else if (kw == "ENV") {
      // Every pair sees the Env from before this instruction, as in Docker.
      TRY_ASSIGN(auto kvs, pairs(args, what, cfg.env));
      for (const auto& [k, v] : kvs) env_set(cfg.env, k, v);
    } else if (kw == "LABEL") {
      TRY_ASSIGN(auto kvs, pairs(args, what, cfg.env));
      for (const auto& [k, v] : kvs) cfg.labels[k] = v;
    } else if (kw == "WORKDIR") {
      TRY_ASSIGN(std::string dir, word(args, what, cfg.env));
      if (dir.empty()) return Error(Errc::invalid_argument, what + ": empty path");
      std::string base = cfg.working_dir.empty() ? "/" : cfg.working_dir;
      cfg.working_dir = clean_path(dir[0] == '/' ? dir : base + "/" + dir);
    } else if (kw == "USER") {
      TRY_ASSIGN(auto ws, lex(args, what, cfg.env));
      if (ws.size() != 1) return Error(Errc::invalid_argument, what + ": USER takes exactly one argument");
      cfg.user = ws[0];
    } else if (kw == "EXPOSE") {
      TRY(expose(cfg, args, what));
    } else if (kw == "VOLUME") {
      std::vector<std::string> vols;
      if (auto a = json_array(args)) {
        vols = *a;
      } else {
        TRY_ASSIGN(vols, lex(args, what, cfg.env));
      }
      std::set<std::string> all(cfg.volumes.begin(), cfg.volumes.end());
      for (const auto& v : vols) {
        if (trim(v).empty()) return Error(Errc::invalid_argument, what + ": empty volume path");
        all.insert(v);
      }
      cfg.volumes.assign(all.begin(), all.end());
    } else if (kw == "STOPSIGNAL") {
      TRY_ASSIGN(std::string sig, word(args, what, cfg.env));
      if (!valid_signal(sig)) return Error(Errc::invalid_argument, what + ": \"" + sig.substr(0, 32) + "\" is not a signal");
      cfg.stop_signal = sig;
    } else if (kw == "ONBUILD") {
      std::string inner = args.substr(0, args.find_first_of(" \t"));
      std::transform(inner.begin(), inner.end(), inner.begin(), [](unsigned char c) { return std::toupper(c); });
      if (inner == "ONBUILD" || inner == "FROM" || inner == "MAINTAINER")
        return Error(Errc::invalid_argument, what + ": ONBUILD " + inner + " is not allowed");
      cfg.on_build.push_back(args);
    } else {
      return Error(Errc::invalid_argument,
                   what + ": unsupported instruction \"" + kw.substr(0, 32) +
                       "\" (supported: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)");
    }
  }
  return Status{};
}

}  // namespace berth::image
