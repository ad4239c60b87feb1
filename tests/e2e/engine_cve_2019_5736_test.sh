#!/usr/bin/env bash
# CVE-2019-5736 against the engine. `berth` runs the runtime in-process, so a
# process entering a container (the init, an exec'd process) runs the host's
# berth binary until it execs the container's program; an exec'd one is
# visible in the container's pid namespace meanwhile. A container process that
# opens /proc/<pid>/exe then could overwrite the host binary once berth exits.
# The runtime makes these processes non-dumpable from birth (spawn.h,
# NotDumpableAround), so without CAP_SYS_PTRACE (Docker's default set) the
# open is refused. berth-runtime additionally re-execs from a sealed memfd
# (runtime_cve_2019_5736_test.sh).
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/engine.sh"
for t in jq; do command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 0; }; done
engine_setup

# The attack on `berth exec`: a process in a default container watches for new
# processes and opens the exe of any that is a berth binary. With the binary
# before the fix it opened the host's berth in 5 of 30 execs (each runs
# berth's code in the container's pid namespace for about a millisecond); now
# readlink and open are refused every time.
N="atk$$"
b run -d --network none --name "$N" bb sh -c '
  : >/tmp/opened; : >/tmp/seen
  while :; do
    for e in /proc/[0-9]*/exe; do
      l=$(readlink "$e" 2>/dev/null) || continue
      case "$l" in *berth*) echo "$l" >>/tmp/seen; (exec 3<"$e") 2>/dev/null && echo "$e" >>/tmp/opened ;; esac
    done
  done' >/dev/null
check "attacker container running" engine_wait_status "$N" running
for _ in $(seq 30); do b exec "$N" true; done
expect_eq "no berth binary seen through /proc/<pid>/exe" "" "$(b exec "$N" cat /tmp/seen)"
expect_eq "no berth binary opened through /proc/<pid>/exe" "" "$(b exec "$N" cat /tmp/opened)"
b rm -f "$N" >/dev/null
e2e_finish
