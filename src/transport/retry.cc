#include "transport/retry.h"

#include <algorithm>

namespace berth::transport {

bool is_retryable(const AttemptOutcome& o) {
  if (o.transport_error) return true;
  if (o.status == 408 || o.status == 429) return true;
  if (o.status >= 500 && o.status <= 599) return o.status != 501 && o.status != 505;
  return false;
}

bool should_retry(const RetryPolicy& p, int attempt, const AttemptOutcome& o) {
  return attempt < p.max_attempts && is_retryable(o);
}

int64_t backoff_ms(const RetryPolicy& p, int attempt, double unit, int64_t retry_after_s) {
  if (retry_after_s >= 0) return std::min(retry_after_s * 1000, p.max_ms);
  if (attempt < 1) attempt = 1;
  int64_t d = p.base_ms;
  for (int i = 1; i < attempt && d < p.max_ms; i++) d *= 2;
  d = std::min(d, p.max_ms);
  unit = std::clamp(unit, 0.0, 1.0);
  return d / 2 + static_cast<int64_t>(static_cast<double>(d - d / 2) * unit);
}

}  // namespace berth::transport
