#include "image/config.h"

#include <algorithm>
#include <ctime>

#include "image/json_util.h"
#include "image/media_types.h"

namespace berth::image {

using detail::json;
using detail::Obj;

Platform ImageConfig::platform() const {
  Platform p;
  p.architecture = architecture;
  p.os = os;
  p.os_version = os_version;
  p.os_features = os_features;
  p.variant = variant;
  return p;
}

bool valid_timestamp(std::string_view s) {
  auto digits = [&](size_t pos, size_t n) {
    if (pos + n > s.size()) return false;
    for (size_t i = pos; i < pos + n; i++)
      if (s[i] < '0' || s[i] > '9') return false;
    return true;
  };
  // YYYY-MM-DDTHH:MM:SS
  if (!digits(0, 4) || s.size() < 20 || s[4] != '-' || !digits(5, 2) || s[7] != '-' || !digits(8, 2) ||
      (s[10] != 'T' && s[10] != 't') || !digits(11, 2) || s[13] != ':' || !digits(14, 2) || s[16] != ':' ||
      !digits(17, 2))
    return false;
  size_t i = 19;
  if (s[i] == '.') {
    size_t j = i + 1;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') j++;
    if (j == i + 1) return false;
    i = j;
  }
  if (i >= s.size()) return false;
  if (s[i] == 'Z' || s[i] == 'z') return i + 1 == s.size();
  if (s[i] != '+' && s[i] != '-') return false;
  return i + 6 == s.size() && digits(i + 1, 2) && s[i + 3] == ':' && digits(i + 4, 2);
}

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::string> env_get(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& e : env) {
    auto eq = e.find('=');
    if (std::string_view(e).substr(0, eq) == key) return eq == std::string::npos ? std::string() : e.substr(eq + 1);
  }
  return std::nullopt;
}

void env_set(std::vector<std::string>& env, std::string_view key, std::string_view value) {
  std::string kv = std::string(key) + "=" + std::string(value);
  for (auto& e : env) {
    if (std::string_view(e).substr(0, e.find('=')) == key) {
      e = kv;
      return;
    }
  }
  env.push_back(std::move(kv));
}

namespace {

Status check_time(const Obj& o, const char* key, const std::string& v) {
  if (!v.empty() && !valid_timestamp(v)) return o.err(key, "\"" + v.substr(0, 64) + "\" is not an RFC 3339 timestamp");
  return Status{};
}

Result<RunConfig> read_run_config(const Obj& o) {
  RunConfig c;
  TRY(o.fields({"User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels", "StopSignal",
                "ArgsEscaped", "OnBuild", "Shell", "Healthcheck"}));
  TRY_ASSIGN(c.user, o.str("User"));
  TRY_ASSIGN(c.exposed_ports, o.key_set("ExposedPorts"));
  TRY_ASSIGN(c.env, o.str_array("Env"));
  TRY_ASSIGN(c.entrypoint, o.opt_str_array("Entrypoint"));
  TRY_ASSIGN(c.cmd, o.opt_str_array("Cmd"));
  TRY_ASSIGN(c.volumes, o.key_set("Volumes"));
  TRY_ASSIGN(c.working_dir, o.str("WorkingDir"));
  TRY_ASSIGN(c.labels, o.str_map("Labels"));
  TRY_ASSIGN(c.stop_signal, o.str("StopSignal"));
  TRY_ASSIGN(c.args_escaped, o.boolean("ArgsEscaped"));
  TRY_ASSIGN(c.on_build, o.str_array("OnBuild"));
  TRY_ASSIGN(c.shell, o.str_array("Shell"));
  if (o.has("Healthcheck")) {
    TRY_ASSIGN(Obj h, o.obj("Healthcheck"));
    Healthcheck hc;
    TRY(h.fields({"Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"}));
    TRY_ASSIGN(hc.test, h.str_array("Test"));
    TRY_ASSIGN(hc.interval, h.int64("Interval"));
    TRY_ASSIGN(hc.timeout, h.int64("Timeout"));
    TRY_ASSIGN(hc.start_period, h.int64("StartPeriod"));
    TRY_ASSIGN(hc.start_interval, h.int64("StartInterval"));
    TRY_ASSIGN(hc.retries, h.int64("Retries"));
    c.healthcheck = std::move(hc);
  }
  for (size_t i = 0; i < c.env.size(); i++)
    if (c.env[i].empty() || c.env[i][0] == '=')
      return o.err("Env[" + std::to_string(i) + "]", "\"" + c.env[i].substr(0, 64) + "\" is not KEY=value");
  return c;
}

}  // namespace

Result<ImageConfig> parse_config(std::string_view bytes, const Descriptor* from) {
  std::string what = from ? "config " + from->digest.str() : std::string("config");
  if (from && from->size > kMaxConfigSize)
    return Error(Errc::limit, what + ": descriptor size " + std::to_string(from->size) + " is over the limit of " +
                                  std::to_string(kMaxConfigSize) + " bytes");
  if (from) {
    if (!media::is_image_config(from->media_type))
      return Error(Errc::unsupported, what + ": media type \"" + from->media_type.substr(0, 100) + "\" is not an image config");
    TRY(verify(*from, bytes, what));
  }
  TRY_ASSIGN(json j, detail::parse_json(bytes, what, kMaxConfigSize));
  TRY_ASSIGN(Obj o, Obj::of(j, what, ""));
  ImageConfig c;
  TRY(o.fields({"created", "author", "architecture", "os", "os.version", "os.features", "variant", "config", "rootfs",
                "history"}));
  TRY_ASSIGN(c.created, o.str("created"));
  TRY(check_time(o, "created", c.created));
  TRY_ASSIGN(c.author, o.str("author"));
  TRY_ASSIGN(c.architecture, o.str("architecture", true));
  TRY_ASSIGN(c.os, o.str("os", true));
  TRY_ASSIGN(c.os_version, o.str("os.version"));
  TRY_ASSIGN(c.os_features, o.str_array("os.features"));
  TRY_ASSIGN(c.variant, o.str("variant"));
  if (o.has("config")) {
    TRY_ASSIGN(Obj co, o.obj("config"));
    TRY_ASSIGN(c.config, read_run_config(co));
  }
  TRY_ASSIGN(Obj rootfs, o.obj("rootfs"));
  TRY(rootfs.fields({"type", "diff_ids"}));
  TRY_ASSIGN(std::string type, rootfs.str("type", true));
  if (type != "layers") return rootfs.err("type", "must be \"layers\", got \"" + type.substr(0, 64) + "\"");
  TRY_ASSIGN(auto ids, rootfs.str_array("diff_ids"));
  c.diff_ids.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); i++) {
    auto d = Digest::parse(ids[i]);
    if (!d.ok()) return rootfs.err("diff_ids[" + std::to_string(i) + "]", d.error().message);
    c.diff_ids.push_back(std::move(*d));
  }
  TRY_ASSIGN(auto hist, o.obj_array("history"));
  for (const auto& h : hist) {
    History e;
    TRY(h.fields({"created", "created_by", "author", "comment", "empty_layer"}));
    TRY_ASSIGN(e.created, h.str("created"));
    TRY(check_time(h, "created", e.created));
    TRY_ASSIGN(e.created_by, h.str("created_by"));
    TRY_ASSIGN(e.author, h.str("author"));
    TRY_ASSIGN(e.comment, h.str("comment"));
    TRY_ASSIGN(e.empty_layer, h.boolean("empty_layer"));
    c.history.push_back(std::move(e));
  }
  c.raw = std::string(bytes);
  c.digest = Digest::of(bytes);
  return c;
}

namespace {

void set_or_erase(json& j, const char* key, const std::string& v) {
  if (v.empty())
    j.erase(key);
  else
    j[key] = v;
}

json key_set_json(const std::vector<std::string>& keys) {
  json o = json::object();
  for (const auto& k : keys) o[k] = json::object();
  return o;
}

}  // namespace

std::string serialize(const ImageConfig& c) {
  json j = json::object();
  if (!c.raw.empty()) {
    auto parsed = detail::parse_json(c.raw, "config", kMaxConfigSize);
    if (parsed.ok() && parsed->is_object()) j = std::move(*parsed);
  }
  set_or_erase(j, "created", c.created);
  set_or_erase(j, "author", c.author);
  j["architecture"] = c.architecture;
  j["os"] = c.os;
  set_or_erase(j, "os.version", c.os_version);
  if (c.os_features.empty())
    j.erase("os.features");
  else
    j["os.features"] = c.os_features;
  set_or_erase(j, "variant", c.variant);

  json rc = j.contains("config") && j["config"].is_object() ? j["config"] : json::object();
  const RunConfig& r = c.config;
  set_or_erase(rc, "User", r.user);
  if (r.exposed_ports.empty()) rc.erase("ExposedPorts"); else rc["ExposedPorts"] = key_set_json(r.exposed_ports);
  if (r.env.empty()) rc.erase("Env"); else rc["Env"] = r.env;
  if (r.entrypoint) rc["Entrypoint"] = *r.entrypoint; else rc.erase("Entrypoint");
  if (r.cmd) rc["Cmd"] = *r.cmd; else rc.erase("Cmd");
  if (r.volumes.empty()) rc.erase("Volumes"); else rc["Volumes"] = key_set_json(r.volumes);
  set_or_erase(rc, "WorkingDir", r.working_dir);
  if (r.labels.empty()) rc.erase("Labels"); else rc["Labels"] = r.labels;
  set_or_erase(rc, "StopSignal", r.stop_signal);
  if (r.args_escaped) rc["ArgsEscaped"] = true; else rc.erase("ArgsEscaped");
  if (r.on_build.empty()) rc.erase("OnBuild"); else rc["OnBuild"] = r.on_build;
  if (r.shell.empty()) rc.erase("Shell"); else rc["Shell"] = r.shell;
  if (r.healthcheck) {
    const auto& h = *r.healthcheck;
    json hj = json::object();
    hj["Test"] = h.test;
    if (h.interval) hj["Interval"] = h.interval;
    if (h.timeout) hj["Timeout"] = h.timeout;
    if (h.start_period) hj["StartPeriod"] = h.start_period;
    if (h.start_interval) hj["StartInterval"] = h.start_interval;
    if (h.retries) hj["Retries"] = h.retries;
    rc["Healthcheck"] = hj;
  } else {
    rc.erase("Healthcheck");
  }
  if (rc.empty()) j.erase("config"); else j["config"] = rc;

  json ids = json::array();
  for (const auto& d : c.diff_ids) ids.push_back(d.str());
  j["rootfs"] = json{{"type", "layers"}, {"diff_ids", ids}};
  if (c.history.empty()) {
    j.erase("history");
  } else {
    json hs = json::array();
    for (const auto& h : c.history) {
      json e = json::object();
      if (!h.created.empty()) e["created"] = h.created;
      if (!h.created_by.empty()) e["created_by"] = h.created_by;
      if (!h.author.empty()) e["author"] = h.author;
      if (!h.comment.empty()) e["comment"] = h.comment;
      if (h.empty_layer) e["empty_layer"] = true;
      hs.push_back(std::move(e));
    }
    j["history"] = std::move(hs);
  }
  return detail::dump(j);
}

}  // namespace berth::image
