#!/usr/bin/env bash
# berth-registry vs docker-registry (distribution 2.8), same run, curl as client:
#   push: 4 monolithic pushes (POST + PUT ?digest= with the body) of a 95 MB blob
#   pull: 16 concurrent GETs of it
#   rss:  resident memory of the server after the load
#   push_distinct: 4 monolithic pushes of 4 different 95 MB blobs (no dedup possible:
#         berth-registry verifies a blob it already has by hashing the upload without rewriting it)
# Usage: bench/registry/run.sh [build-dir]   (default: build)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$SRC/build}
BIN=$BUILD/bin/berth-registry
[ -x "$BIN" ] || { echo "build berth-registry first ($BIN)"; exit 1; }
command -v docker-registry >/dev/null || { echo "docker-registry not installed"; exit 1; }
T=$(mktemp -d /tmp/berth-reg-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT

SIZE_MB=${SIZE_MB:-95}
head -c $((SIZE_MB * 1000 * 1000)) /dev/urandom >"$T/blob"
D=sha256:$(sha256sum "$T/blob" | cut -d' ' -f1)
for i in 1 2 3 4; do head -c $((SIZE_MB * 1000 * 1000)) /dev/urandom >"$T/blob$i"; done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.3f}')"; }
wait_up() { for _ in $(seq 200); do curl -sf -o /dev/null "$1/v2/" && return 0; sleep 0.05; done; echo "server at $1 did not start"; exit 1; }

# berth-registry
"$BIN" serve --addr 127.0.0.1:0 --root "$T/berth" --access-log off >"$T/berth.out" 2>&1 &
PIDS+=($!)
BPID=$!
for _ in $(seq 100); do grep -q listening "$T/berth.out" 2>/dev/null && break; sleep 0.05; done
BURL=http://127.0.0.1:$(awk '/listening/{print $NF}' "$T/berth.out")

# docker-registry
DPORT=$(free_port)
cat >"$T/dist.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $T/dist}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$DPORT}
YAML
docker-registry serve "$T/dist.yml" >"$T/dist.out" 2>&1 &
PIDS+=($!)
DPID=$!
DURL=http://127.0.0.1:$DPORT
wait_up "$BURL"
wait_up "$DURL"

# Prints the seconds curl spent on the POST and the PUT: on a loaded host the
# shell's own process spawning would otherwise dominate the figures.
push() { # base repo [file]
  local f=${3:-$T/blob} d=$D loc out t1 code t2
  [ -n "${3:-}" ] && d=sha256:$(sha256sum "$f" | cut -d' ' -f1)
  out=$(curl -s -D - -o /dev/null -w 'TIME %{time_total}\n' -X POST "$1/v2/$2/blobs/uploads/" | tr -d '\r')
  loc=$(echo "$out" | awk 'tolower($1)=="location:"{print $2}')
  t1=$(echo "$out" | awk '$1=="TIME"{print $2}')
  case "$loc" in http*) ;; *) loc="$1$loc" ;; esac
  case "$loc" in *\?*) loc="$loc&digest=$d" ;; *) loc="$loc?digest=$d" ;; esac
  read -r code t2 < <(curl -s -o /dev/null -w '%{http_code} %{time_total}' -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$f" "$loc")
  [ "$code" = 201 ] || { echo "push to $1 failed: $code" >&2; exit 1; }
  python3 -c "print($t1 + $t2)"
}
pulls() { # base repo
  local pids=()
  for i in $(seq 16); do curl -s -o /dev/null "$1/v2/$2/blobs/$D" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
}
rss_mb() { awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$1/status"; }

sum() { python3 -c "import sys; print(f'{sum(map(float, sys.stdin.read().split())):.3f}')"; }
bench() { # name base pid
  local push_s pull_s rss dist_s t1 t2
  sync
  push_s=$(for r in 1 2 3 4; do push "$2" "bench/r$r"; done | sum)
  t1=$(now)
  pulls "$2" bench/r1
  t2=$(now)
  pull_s=$(secs "$t1" "$t2")
  rss=$(rss_mb "$3")
  sync
  dist_s=$(for r in 1 2 3 4; do push "$2" "bench/d$r" "$T/blob$r"; done | sum)
  echo "$1 $push_s $pull_s $rss $dist_s"
}

read -r _ bpush bpull brss bdist < <(bench berth "$BURL" "$BPID")
read -r _ dpush dpull drss ddist < <(bench distribution "$DURL" "$DPID")

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GB", $2/1048576}' /proc/meminfo), $(uname -r); date: $(date -u +%FT%TZ)"
echo "blob: ${SIZE_MB} MB; push = sum of curl time_total of POST+PUT for 4 pushes; pull16 = wall time of 16 concurrent GETs"
printf '%-14s %10s %10s %10s %16s\n' server push_s pull16_s rss_MB push_distinct_s
printf '%-14s %10s %10s %10s %16s\n' berth "$bpush" "$bpull" "$brss" "$bdist"
printf '%-14s %10s %10s %10s %16s\n' distribution "$dpush" "$dpull" "$drss" "$ddist"
python3 - "$bpush" "$dpush" "$bpull" "$dpull" "$brss" "$drss" "$bdist" "$ddist" <<'PY'
import sys
bp, dp, bl, dl, br, dr, bd, dd = map(float, sys.argv[1:])
print(f"ratio (distribution/berth): push {dp/bp:.2f}x, pull {dl/bl:.2f}x, rss {dr/br:.2f}x, push_distinct {dd/bd:.2f}x")
PY
