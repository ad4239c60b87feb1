#!/usr/bin/env bash
# `berth run --rm IMAGE true` vs `podman run --rm` vs `berth-runtime run` of a
# prepared bundle, interleaved in one run so load changes hit all alike; then
# 50 detached containers started concurrently and the monitors' memory.
#   bench/engine/run.sh [RUNS]    (root; podman, runc, busybox-static, jq)
# RUNS=0: only the 50 containers and the monitors' memory (no podman runs).
# BERTH_BIN defaults to build/bin. Prints medians (ms) and ratios.
set -euo pipefail
RUNS=${1:-20}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export BERTH_BIN=${BERTH_BIN:-$SRC/build/bin}
export BERTH_SRC=$SRC
source "$SRC/tests/e2e/lib/engine.sh"   # bundle.sh, image_fixtures.sh, engine_cleanup
T=$(e2e_tmpdir)
ROOT=$T/store
B=("$BERTH_BIN/berth" --root "$ROOT")
# Last out: containers, mounts and the store's /run/berth/<hash> (the bridge
# network's netns mount point) go with the store.
e2e_on_exit engine_cleanup
PM=(podman --root "$T/podman" --runroot "$T/podman-run" --runtime runc --cgroup-manager cgroupfs --events-backend file)
RS=$(mktemp -d /run/berth-bench.XXXXXX)
e2e_on_exit "rm -rf $RS"
e2e_on_exit "${B[*]} rm -f \$(${B[*]} ps -aq) >/dev/null 2>&1 || true"
e2e_on_exit "${PM[*]} rm -af >/dev/null 2>&1 || true; ${PM[*]} system reset -f >/dev/null 2>&1 || true"

fixture_rootfs "$T/rootfs"
tar -C "$T/rootfs" -cf "$T/bb.tar" .
"${B[@]}" import "$T/bb.tar" bench/bb >/dev/null
[ "$RUNS" -gt 0 ] && "${PM[@]}" import "$T/bb.tar" localhost/bench/bb >/dev/null
make_busybox_bundle "$T/bundle" true

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1e6}'; }
declare -A samples
sample() {  # name cmd...
  local name=$1; shift
  local t0 t1
  t0=$(now); "$@" >/dev/null; t1=$(now)
  samples[$name]+="$((t1 - t0)) "
}
m() { tr ' ' '\n' <<<"${samples[$1]}" | grep . | median; }

# Warm-up: first runs unpack snapshots, create bridges, fill caches.
"${B[@]}" run --rm --network none bench/bb true
if [ "$RUNS" -gt 0 ]; then
  "${B[@]}" run --rm bench/bb true
  "${PM[@]}" run --rm localhost/bench/bb true; "${PM[@]}" run --rm --network none localhost/bench/bb true
fi
cd "$T/bundle"
for i in $(seq "$RUNS"); do
  sample berth_none "${B[@]}" run --rm --network none bench/bb true
  sample berth_bridge "${B[@]}" run --rm bench/bb true
  sample podman_none "${PM[@]}" run --rm --network none localhost/bench/bb true
  sample podman_bridge "${PM[@]}" run --rm localhost/bench/bb true
  sample runtime "$BERTH_BIN/berth-runtime" --root "$RS" run "r$i"
done

# 50 containers started concurrently (detached, --network none), then the
# memory each monitor keeps while its container runs.
t0=$(now)
for i in $(seq 50); do "${B[@]}" run -d --network none --name "c$i" bench/bb sleep 300 >/dev/null & done
wait
t1=$(now)
running=$("${B[@]}" ps -q | wc -l)
# RSS counts the monitor binary's pages in full for each monitor; PSS splits
# pages shared by the 50 monitors among them: what one more container costs.
rss_all=()
pss_total=0
mon_file=0
mon_anon=0
for p in $(pgrep -f "berth-monitor --id .* --root $ROOT "); do
  r=$(ps -o rss= -p "$p" | tr -d ' ')
  q=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
  [ -n "$r" ] && [ -n "$q" ] || continue
  rss_all+=("$r")
  pss_total=$((pss_total + q))
  # Where one monitor's RSS is: pages of the binary file vs anonymous memory
  # (heap, stack, data, TLS).
  if [ "${#rss_all[@]}" = 1 ]; then
    read -r mon_file mon_anon < <(awk '/^Rss:/{r+=$2} /^Anonymous:/{a+=$2} END{print r-a, a}' "/proc/$p/smaps" 2>/dev/null)
  fi
done
n=${#rss_all[@]}
t2=$(now)
"${B[@]}" rm -f $("${B[@]}" ps -aq) >/dev/null
t3=$(now)

if [ "$RUNS" -gt 0 ]; then
printf 'engine run --rm true (median of %d, ms)\n' "$RUNS"
printf '  berth  --network none   %8s\n' "$(m berth_none)"
printf '  berth  (bridge)         %8s\n' "$(m berth_bridge)"
printf '  podman --network none   %8s\n' "$(m podman_none)"
printf '  podman (bridge)         %8s\n' "$(m podman_bridge)"
printf '  berth-runtime run       %8s   (prepared bundle, no image, no network)\n' "$(m runtime)"
awk -v a="$(m podman_none)" -v b="$(m berth_none)" 'BEGIN{printf "  podman/berth (none)     %8.1fx\n", a/b}'
awk -v a="$(m podman_bridge)" -v b="$(m berth_bridge)" 'BEGIN{printf "  podman/berth (bridge)   %8.1fx\n", a/b}'
awk -v a="$(m berth_none)" -v b="$(m runtime)" 'BEGIN{printf "  berth/runtime (none)    %8.2fx\n", a/b}'
fi
printf '50 concurrent run -d: %d running after %.2f s; rm -f of all 50: %.2f s\n' \
  "$running" "$(awk -v d=$((t1 - t0)) 'BEGIN{print d/1e9}')" "$(awk -v d=$((t3 - t2)) 'BEGIN{print d/1e9}')"
if [ "$n" -gt 0 ]; then
  read -r rss_mean rss_med rss_max < <(printf '%s\n' "${rss_all[@]}" | sort -n |
    awk '{a[NR]=$1; s+=$1} END{m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%d %d %d\n", s/NR, m, a[NR]}')
  printf 'monitor memory: %d monitors, RSS mean %d / median %d / max %d KiB, mean PSS %d KiB\n' \
    "$n" "$rss_mean" "$rss_med" "$rss_max" $((pss_total / n))
  printf '  one monitor: %d KiB of binary file pages, %d KiB anonymous; goal RSS <= 1024 KiB: %s\n' \
    "$mon_file" "$mon_anon" "$([ "$rss_max" -le 1024 ] && echo met || echo NOT met)"
fi

