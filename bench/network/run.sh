#!/usr/bin/env bash
# Network setup + teardown cost: `berth run --rm` vs `podman run --rm` (podman
# 4.3 with its CNI backend: the same Debian plugins), each with --network
# bridge and --network none, interleaved so load changes hit all alike. The
# bridge-minus-none difference is what attaching (netns, CNI ADD: bridge,
# host-local, portmap, firewall) and detaching (CNI DEL) costs each engine.
#   bench/network/run.sh [RUNS]   (needs root, podman, umoci, jq, bc, the CNI plugins)
# BERTH_BIN defaults to build/bin.
set -euo pipefail
RUNS=${1:-20}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export BERTH_BIN=${BERTH_BIN:-$SRC/build/bin}
export BERTH_SRC=$SRC
source "$SRC/tests/e2e/lib/engine.sh"   # bundle.sh, image_fixtures.sh, engine_cleanup
T=$(e2e_tmpdir)
ROOT=$T/store
export BERTH_ROOT=$ROOT BERTH_BRIDGE=berthbench0 BERTH_SUBNET=10.233.0.0/24
# Last out: containers, mounts and the store's /run/berth/<hash> (netns mount point).
e2e_on_exit engine_cleanup
e2e_on_exit "ip link del berthbench0"
B=$BERTH_BIN/berth
P=(podman --root "$T/podman/root" --runroot "$T/podman/run" --storage-driver vfs --cgroup-manager cgroupfs
   --events-backend none)
e2e_on_exit "${P[*]} rm -af"

fixture_oci_layout
$B load -i "$T/oci" >/dev/null
# podman names an image pulled from oci:<dir> after the dir, which must then
# be lowercase; $T has mktemp's mixed case: pull through a lowercase link.
O=/tmp/berth-bench-oci-$$
ln -sfn "$T/oci" "$O"
e2e_on_exit "rm -f $O"
"${P[@]}" pull -q "oci:$O:busybox" >/dev/null
"${P[@]}" tag "$("${P[@]}" images -q | head -1)" localhost/busybox:latest

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.1f", m/1e6}'; }
declare -A samples
bench_run() {  # name cmd...
  local name=$1; shift
  local t0 t1
  t0=$(now); "$@" >/dev/null; t1=$(now)
  samples[$name]+="$((t1 - t0)) "
}
# Warm-up: first bridge creation, first iptables chains.
$B run --rm localhost/busybox true; "${P[@]}" run --rm localhost/busybox true
for _ in $(seq "$RUNS"); do
  bench_run berth_bridge $B run --rm -p 127.0.0.1::80 localhost/busybox true
  bench_run podman_bridge "${P[@]}" run --rm -p 127.0.0.1::80 localhost/busybox true
  bench_run berth_none $B run --rm --network none localhost/busybox true
  bench_run podman_none "${P[@]}" run --rm --network none localhost/busybox true
done
m() { tr ' ' '\n' <<<"${samples[$1]}" | grep . | median; }
bb=$(m berth_bridge); pb=$(m podman_bridge); bn=$(m berth_none); pn=$(m podman_none)
bd=$(echo "$bb - $bn" | bc -l); pd=$(echo "$pb - $pn" | bc -l)
echo "machine: $(nproc) cores, $(uname -r); $(date -u +%FT%TZ); runs=$RUNS; $(podman --version)"
printf '%-44s %10s %10s %8s\n' metric berth podman ratio
printf '%-44s %10s %10s %8.2f\n' "run --rm -p 127.0.0.1::80 true, bridge (ms)" "$bb" "$pb" "$(echo "$bb / $pb" | bc -l)"
printf '%-44s %10s %10s %8.2f\n' "run --rm true, --network none (ms)" "$bn" "$pn" "$(echo "$bn / $pn" | bc -l)"
printf '%-44s %10.1f %10.1f %8.2f\n' "network attach+detach = bridge - none (ms)" "$bd" "$pd" "$(echo "$bd / $pd" | bc -l)"
