#!/usr/bin/env bash
# OCI runtime-tools validation suite against berth-runtime and runc.
#   bench/runtime/runtime-tools.sh /path/to/runtime-tools-checkout [TEST...]
# Builds runtimetest and validation/*.t from the checkout (vendored modules,
# no network; needs go >= 1.21, e.g. golang-1.23-go from bookworm-backports),
# runs every test (or the named ones) with RUNTIME=berth-runtime and RUNTIME=runc,
# and prints per-test TAP pass/fail counts and totals. Needs root.
set -uo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
CHECKOUT=${1:?usage: $0 RUNTIME_TOOLS_CHECKOUT [TEST...]}
shift
BERTH_BIN=${BERTH_BIN:-$SRC/build/bin}
export PATH=/usr/lib/go-1.23/bin:$PATH GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local
cd "$CHECKOUT"
make runtimetest validation-executables >/dev/null || { echo "build failed" >&2; exit 1; }
tests=("$@")
[ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(find validation -name '*.t' | sort)

declare -A total_pass total_fail
printf '%-52s %12s %12s\n' test berth-runtime runc
for t in "${tests[@]}"; do
  row=$(printf '%-52s' "${t#validation/}")
  for rt in "$BERTH_BIN/berth-runtime" runc; do
    out=$(RUNTIME=$rt timeout 120 "./$t" 2>/dev/null)
    p=$(grep -c '^ok' <<<"$out")
    f=$(grep -c '^not ok' <<<"$out")
    total_pass[$rt]=$(( ${total_pass[$rt]:-0} + p ))
    total_fail[$rt]=$(( ${total_fail[$rt]:-0} + f ))
    row+=$(printf ' %12s' "$p/$((p + f))")
  done
  echo "$row"
done
printf '%-52s %12s %12s\n' TOTAL "${total_pass[$BERTH_BIN/berth-runtime]}/$(( ${total_pass[$BERTH_BIN/berth-runtime]} + ${total_fail[$BERTH_BIN/berth-runtime]} ))" \
  "${total_pass[runc]}/$(( ${total_pass[runc]} + ${total_fail[runc]} ))"
