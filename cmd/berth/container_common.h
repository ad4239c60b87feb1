// Shared by the container verbs: opening the store + engine, filters, and
// Docker's ways of printing a container.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "store/store.h"

namespace berth::cli {

struct EngineCtx {
  std::unique_ptr<Store> owned;  // on the heap: the engine keeps pointers into it
  Store& store;
  engine::Engine engine;
  EngineCtx(std::unique_ptr<Store> s, engine::Engine e) : owned(std::move(s)), store(*owned), engine(std::move(e)) {}
  static Result<std::unique_ptr<EngineCtx>> open();
};

// Docker's ps/prune filters: id=, name=, label=k[=v], status=, exited=N,
// ancestor=IMAGE. The same key repeated is OR, different keys AND.
bool matches_filters(const engine::Container& c, const std::vector<std::string>& filters);

// "Up 3 seconds", "Exited (0) 2 minutes ago", "Created", "Up 1 minute (Paused)",
// with " (healthy)" etc. when the container has a health check.
std::string status_text(const engine::Engine& e, const engine::Container& c);
std::string command_text(const engine::Container& c, bool trunc);
std::string ports_text(const engine::Container& c);
std::string duration_text(int64_t seconds);  // "3 seconds", "About a minute", "2 hours"
std::string rfc3339_ns(int64_t ns);
// The health record written by `berth healthcheck run`: status, failing streak, log.
nlohmann::json read_health(const engine::Engine& e, const engine::Container& c);

}  // namespace berth::cli
