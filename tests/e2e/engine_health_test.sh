#!/usr/bin/env bash
# Health checks: starting -> unhealthy -> healthy, seen in inspect, ps and
# the event journal; `berth healthcheck run` exit codes (Docker's semantics).
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/engine.sh"
engine_setup
N="hc$$"
health() { b inspect --format '{{.State.Health.Status}}' "$N" 2>/dev/null; }
wait_health() {  # wait_health STATUS: poll (never a timing assertion)
  local i
  for ((i = 0; i < 300; i++)); do [ "$(health)" = "$1" ] && return 0; sleep 0.1; done
  return 1
}

b run -d --network none --name "$N" --health-cmd 'test -f /ok' --health-interval 1s --health-retries 2 bb sleep 1000 >/dev/null
engine_wait_status "$N" running
st=$(health)
check "health starts as starting or already unhealthy ($st)" test "$st" = starting -o "$st" = unhealthy
check "becomes unhealthy after 2 failed probes" wait_health unhealthy
check "ps STATUS shows (unhealthy)" sh -c "'$BERTH_BIN/berth' --root '$ROOT' ps --filter name=$N | grep -q '(unhealthy)'"
b exec "$N" touch /ok
check "becomes healthy once /ok exists" wait_health healthy
check "ps STATUS shows (healthy)" sh -c "'$BERTH_BIN/berth' --root '$ROOT' ps --filter name=$N | grep -q '(healthy)'"
check "health_status: unhealthy event" grep -q 'health_status: unhealthy' "$ROOT/events.jsonl"
check "health_status: healthy event" grep -q 'health_status: healthy' "$ROOT/events.jsonl"
log=$(b inspect "$N" | jq '.[0].State.Health.Log | length')
check "inspect keeps the probe log (1..5 entries: $log)" test "${log:-0}" -ge 1 -a "${log:-0}" -le 5
expect_eq "FailingStreak reset when healthy" 0 "$(b inspect "$N" | jq '.[0].State.Health.FailingStreak')"

expect_eq "healthcheck run: healthy prints healthy" healthy "$(b healthcheck run "$N")"
b healthcheck run "$N" >/dev/null; expect_eq "healthcheck run: exit 0 when healthy" 0 $?
b exec "$N" rm /ok
b healthcheck run "$N" >/dev/null; b healthcheck run "$N" >/dev/null; rc=$?
expect_eq "healthcheck run: exit 1 when unhealthy" 1 $rc
b run -d --network none --name "$N-none" bb sleep 1000 >/dev/null
engine_wait_status "$N-none" running
b healthcheck run "$N-none" >/dev/null 2>&1; rc=$?
check "healthcheck run without a healthcheck fails ($rc)" test $rc -ne 0 -a $rc -ne 1
b stop -t 1 "$N" >/dev/null
b healthcheck run "$N" >/dev/null 2>&1; rc=$?
check "healthcheck run on a stopped container fails ($rc)" test $rc -ne 0 -a $rc -ne 1
e2e_finish
