#!/usr/bin/env bash
# Content ingest throughput: berth content::Writer vs containerd 1.6 (`ctr content ingest`).
# Both stream the same file from stdin, hash it, verify digest+size, fsync and publish.
# Usage: bench/content/run.sh [SIZE_MB=250] [ROUNDS=3]   (env BERTH_BUILD: a configured build dir)
set -euo pipefail
SIZE_MB=${1:-250}
ROUNDS=${2:-3}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BERTH_BUILD:-$REPO/build}
ninja -C "$BUILD" berth_content >/dev/null

T=$(mktemp -d /var/tmp/berth-bench-content.XXXXXX)
CTRD_PID=
cleanup() {
  [ -n "$CTRD_PID" ] && kill "$CTRD_PID" 2>/dev/null && wait "$CTRD_PID" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

g++ -O2 -std=c++20 -I"$REPO/src" "$REPO/bench/content/ingest.cc" \
  "$BUILD/src/content/libberth_content.a" "$BUILD/src/digest/libberth_digest.a" \
  "$BUILD/src/base/libberth_base.a" -lcrypto -o "$T/berth-ingest"


cat > "$T/containerd.toml" <<CONF
version = 2
root = "$T/ctrd-root"
state = "$T/ctrd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$T/ctrd.sock"
[ttrpc]
  address = "$T/ctrd.sock.ttrpc"
CONF
containerd --config "$T/containerd.toml" >"$T/containerd.log" 2>&1 &
CTRD_PID=$!
for _ in $(seq 100); do [ -S "$T/ctrd.sock" ] && break; sleep 0.1; done

now() { date +%s.%N; }
berth_times=() ctr_times=()
for r in $(seq "$ROUNDS"); do
  # Fresh bytes every round: both stores short-cut content they already hold.
  head -c "${SIZE_MB}M" /dev/urandom > "$T/data"
  DIGEST=sha256:$(sha256sum "$T/data" | cut -d' ' -f1)
  SIZE=$(stat -c %s "$T/data")
  sync
  rm -rf "$T/berth-root"
  s=$(now); "$T/berth-ingest" "$T/berth-root" "$DIGEST" "$SIZE" < "$T/data" >/dev/null; e=$(now)
  berth_times+=("$(echo "$e - $s" | bc)")
  sync
  s=$(now); ctr -a "$T/ctrd.sock" content ingest --expected-digest "$DIGEST" --expected-size "$SIZE" "bench-$r" < "$T/data"; e=$(now)
  ctr_times+=("$(echo "$e - $s" | bc)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
B=$(median "${berth_times[@]}")
C=$(median "${ctr_times[@]}")
echo "content ingest ${SIZE_MB} MiB, median of $ROUNDS: berth ${B}s  containerd ${C}s  (berth runs: ${berth_times[*]}; containerd: ${ctr_times[*]})"
echo "ratio containerd/berth: $(echo "scale=2; $C / $B" | bc)x"
