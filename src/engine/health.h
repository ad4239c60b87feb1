// berth/engine: Docker-style health checks.
//
// A probe is the container's HEALTHCHECK (or --health-cmd) run with exec;
// exit 0 is healthy. The record <dir>/health.json has Docker's shape
// (Status starting|healthy|unhealthy, FailingStreak, the last 5 Log
// entries); failures during --health-start-period don't count while the
// container is still "starting"; `retries` consecutive failures make it
// unhealthy. A status change appends a "health_status: <status>" event.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"

namespace berth::engine {

// ["CMD-SHELL", "x"] -> /bin/sh -c x; ["CMD", a...] -> a...; NONE/empty -> {}.
std::vector<std::string> health_probe_args(const nlohmann::json& test);

// Runs one probe now and records it; returns the resulting status.
Result<std::string> run_healthcheck(Engine& e, const std::string& ref);

}  // namespace berth::engine
