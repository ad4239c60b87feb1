// berth/transport: when to retry a registry request, and how long to wait.
//
// Pure functions so the policy is unit-tested without a network. Promise:
// retries are bounded (max_attempts), the delay grows exponentially from
// base_ms up to max_ms, with "full jitter" (a random point in [d/2, d]) so a
// crowd of pullers does not hammer a recovering registry in lockstep.
#pragma once

#include <cstdint>

namespace berth::transport {

struct RetryPolicy {
  int max_attempts = 5;  // total tries, including the first
  int64_t base_ms = 250;
  int64_t max_ms = 8000;
};

// What came back from one attempt.
struct AttemptOutcome {
  bool transport_error = false;  // no HTTP status: connect/reset/timeout/partial body
  long status = 0;               // HTTP status when transport_error is false
};

// Retry 5xx except 501/505 (they will not change), 408, 429, and
// connection-level failures. Never 4xx answers: they are the registry's verdict.
bool is_retryable(const AttemptOutcome& o);

// Should attempt number `attempt` (1-based, just failed with `o`) be followed by another?
bool should_retry(const RetryPolicy& p, int attempt, const AttemptOutcome& o);

// Milliseconds to wait after failed attempt `attempt` (1-based). `unit` in
// [0,1) supplies the jitter (pass a random number; tests pass fixed ones).
// A server's Retry-After (seconds, >= 0) wins when present, capped at max_ms.
int64_t backoff_ms(const RetryPolicy& p, int attempt, double unit, int64_t retry_after_s = -1);

}  // namespace berth::transport
