#!/usr/bin/env bash
# berth-runtime vs runc on the same busybox bundle, interleaved so load
# changes hit both alike. Prints medians (ms), peak RSS (KiB) and ratios.
#   bench/runtime/run.sh [RUNS]      (needs root, runc, busybox-static, jq, time)
# BERTH_BIN defaults to build/bin.
set -euo pipefail
RUNS=${1:-50}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export BERTH_BIN=${BERTH_BIN:-$SRC/build/bin}
export BERTH_SRC=$SRC
source "$SRC/tests/e2e/lib/bundle.sh"
RUNC=${RUNC:-runc}
T=$(e2e_tmpdir)
make_busybox_bundle "$T/b" true
# Same config for both: no terminal, default namespaces, masks and cgroup.
# State roots on tmpfs under /run, like both runtimes' defaults (state writes
# are fsynced; on a disk that alone would dominate).
S=$(mktemp -d /run/berth-bench.XXXXXX)
e2e_on_exit "rm -rf $S"
BERTH=("$BERTH_BIN/berth-runtime" --root "$S/berth")
RUNCR=("$RUNC" --root "$S/runc")
e2e_on_exit "for c in \$(ls $S/berth 2>/dev/null); do ${BERTH[*]} delete -f \$c; done; for c in \$(ls $S/runc 2>/dev/null); do ${RUNCR[*]} delete -f \$c; done"

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m/1e6}'; }

declare -A samples
bench_run() {  # name cmd...
  local name=$1; shift
  local t0 t1
  t0=$(now); "$@" >/dev/null; t1=$(now)
  samples[$name]+="$((t1 - t0)) "
}
lifecycle() {  # rt id: create + start + wait-for-exit + delete
  local -n rt=$1
  "${rt[@]}" create --bundle "$T/b" "$2"
  "${rt[@]}" start "$2"
  for _ in $(seq 1000); do [ "$("${rt[@]}" state "$2" | jq -r .status)" = stopped ] && break; done
  "${rt[@]}" delete "$2"
}

cd "$T/b"
for i in $(seq "$RUNS"); do
  bench_run berth_run "${BERTH[@]}" run "b$i"
  bench_run runc_run "${RUNCR[@]}" run "r$i"
  bench_run berth_life lifecycle BERTH "bl$i"
  bench_run runc_life lifecycle RUNCR "rl$i"
done
rss() {
  local max=0 v
  for i in $(seq 5); do
    v=$( { /usr/bin/time -f %M "$@" >/dev/null; } 2>&1 | tail -1)
    [ "$v" -gt "$max" ] && max=$v
  done
  echo "$max"
}
berth_rss=$(rss "${BERTH[@]}" run rssb)
runc_rss=$(rss "${RUNCR[@]}" run rssr)

m() { tr ' ' '\n' <<<"${samples[$1]}" | grep . | median; }
br=$(m berth_run); rr=$(m runc_run); bl=$(m berth_life); rl=$(m runc_life)
echo "machine: $(nproc) cores, $(uname -r); $(date -u +%FT%TZ); runs=$RUNS; $($RUNC --version | head -1)"
printf '%-28s %10s %10s %8s\n' metric berth runc ratio
printf '%-28s %10s %10s %8.2f\n' "run true (ms, median)" "$br" "$rr" "$(echo "$br / $rr" | bc -l)"
printf '%-28s %10s %10s %8.2f\n' "create+start+delete (ms)" "$bl" "$rl" "$(echo "$bl / $rl" | bc -l)"
printf '%-28s %10s %10s %8.2f\n' "peak RSS run (KiB, max/5)" "$berth_rss" "$runc_rss" "$(echo "$berth_rss / $runc_rss" | bc -l)"
