#include "container_common.h"

#include <time.h>

#include <map>

#include "base/fs.h"
#include "cli.h"
#include "journal/time.h"

namespace berth::cli {

Result<std::unique_ptr<EngineCtx>> EngineCtx::open() {
  TRY_ASSIGN(Store s, Store::open(store_root()));
  auto sp = std::make_unique<Store>(std::move(s));
  TRY_ASSIGN(auto e, engine::Engine::open(*sp));
  return std::make_unique<EngineCtx>(std::move(sp), std::move(e));
}

std::string duration_text(int64_t s) {
  if (s < 1) return "Less than a second";
  if (s < 60) return std::to_string(s) + (s == 1 ? " second" : " seconds");
  int64_t m = s / 60;
  if (m == 1) return "About a minute";
  if (m < 60) return std::to_string(m) + " minutes";
  int64_t h = m / 60;
  if (h == 1) return "About an hour";
  if (h < 48) return std::to_string(h) + " hours";
  int64_t d = h / 24;
  if (d < 14) return std::to_string(d) + " days";
  if (d < 60) return std::to_string(d / 7) + " weeks";
  if (d < 730) return std::to_string(d / 30) + " months";
  return std::to_string(d / 365) + " years";
}

std::string rfc3339_ns(int64_t ns) {
  if (ns <= 0) return "0001-01-01T00:00:00Z";  // Docker's zero time: never started/finished
  return journal::format_rfc3339nano(ns);
}

nlohmann::json read_health(const engine::Engine& e, const engine::Container& c) {
  auto t = read_file(e.paths().health_file(c.id), 1 << 20);
  if (!t.ok()) return nullptr;
  auto j = nlohmann::json::parse(*t, nullptr, false);
  return j.is_discarded() ? nlohmann::json(nullptr) : j;
}

std::string status_text(const engine::Engine& e, const engine::Container& c) {
  int64_t now = engine::now_ns();
  switch (c.state) {
    case engine::State::created: return "Created";
    case engine::State::removing: return "Removal In Progress";
    case engine::State::exited:
      return "Exited (" + std::to_string(c.exit_code) + ") " + duration_text((now - c.finished_ns) / 1000000000) + " ago";
    case engine::State::running:
    case engine::State::paused: {
      std::string s = "Up " + duration_text((now - c.started_ns) / 1000000000);
      if (c.state == engine::State::paused) return s + " (Paused)";
      auto h = read_health(e, c);
      if (h.is_object() && h.contains("Status")) {
        std::string hs = h["Status"].get<std::string>();
        s += hs == "starting" ? " (health: starting)" : " (" + hs + ")";
      } else if (c.config.contains("health") && c.config["health"].is_object() && c.config["health"].contains("test")) {
        s += " (health: starting)";
      }
      return s;
    }
  }
  return "";
}

std::string command_text(const engine::Container& c, bool trunc) {
  std::string s;
  for (const auto& a : c.config.value("args", nlohmann::json::array())) {
    if (!s.empty()) s += ' ';
    s += a.get<std::string>();
  }
  if (trunc && s.size() > 20) s = s.substr(0, 19) + "…";
  return "\"" + s + "\"";
}

std::string ports_text(const engine::Container& c) {
  std::string out;
  if (c.state != engine::State::running && c.state != engine::State::paused) return out;
  auto st = c.config.value("network_status", nlohmann::json::object());
  for (const auto& p : st.value("ports", nlohmann::json::array())) {
    if (!out.empty()) out += ", ";
    std::string ip = p.value("host_ip", "");
    out += (ip.empty() ? "0.0.0.0" : ip) + ":" + std::to_string(p.value("host_port", 0)) + "->" +
           std::to_string(p.value("container_port", 0)) + "/" + p.value("protocol", "tcp");
  }
  return out;
}

bool matches_filters(const engine::Container& c, const std::vector<std::string>& filters) {
  std::map<std::string, std::vector<std::string>> by;
  for (const auto& f : filters) {
    auto eq = f.find('=');
    if (eq == std::string::npos) by[f].push_back("");
    else by[f.substr(0, eq)].push_back(f.substr(eq + 1));
  }
  auto labels = c.config.value("labels", nlohmann::json::object());
  for (const auto& [key, vals] : by) {
    bool any = false;
    for (const auto& v : vals) {
      if (key == "id") any |= c.id.rfind(v, 0) == 0;
      else if (key == "name") any |= c.name.find(v) != std::string::npos;
      else if (key == "status") any |= v == engine::state_name(c.state);
      else if (key == "exited") any |= c.state == engine::State::exited && std::to_string(c.exit_code) == v;
      else if (key == "ancestor") any |= c.image == v || c.image_id == v || c.image_id.substr(7).rfind(v, 0) == 0;
      else if (key == "label") {
        auto e2 = v.find('=');
        std::string k = v.substr(0, e2);
        if (labels.contains(k))
          any |= e2 == std::string::npos || labels[k].get<std::string>() == v.substr(e2 + 1);
      } else if (key == "until") {
        any |= true;  // time filters are applied by the caller when it supports them
      }
    }
    if (!any) return false;
  }
  return true;
}

}  // namespace berth::cli
