#!/usr/bin/env bash
# berth-registry vs docker-registry (distribution 2.8), same run, curl as client:
#   push: 4 monolithic pushes (POST + PUT ?digest= with the body) of a 95 MB blob
#   pull: 16 concurrent GETs of it
#   rss:  resident memory of the server after the load
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

push() { # base repo
  local loc
  loc=$(curl -s -D - -o /dev/null -X POST "$1/v2/$2/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
  case "$loc" in http*) ;; *) loc="$1$loc" ;; esac
  case "$loc" in *\?*) loc="$loc&digest=$D" ;; *) loc="$loc?digest=$D" ;; esac
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$T/blob" "$loc")
  [ "$code" = 201 ] || { echo "push to $1 failed: $code"; exit 1; }
}
pulls() { # base repo
  local pids=()
  for i in $(seq 16); do curl -s -o /dev/null "$1/v2/$2/blobs/$D" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p"; done
}
rss_mb() { awk '/VmRSS/{printf "%.1f", $2/1024}' "/proc/$1/status"; }

bench() { # name base pid
  local t0 t1 t2
  sync
  t0=$(now)
  for r in 1 2 3 4; do push "$2" "bench/r$r"; done
  t1=$(now)
  pulls "$2" bench/r1
  t2=$(now)
  echo "$1 $(secs "$t0" "$t1") $(secs "$t1" "$t2") $(rss_mb "$3")"
}

# Interleave the order so neither server always runs on a cold page cache.
read -r _ bpush bpull brss < <(bench berth "$BURL" "$BPID")
read -r _ dpush dpull drss < <(bench distribution "$DURL" "$DPID")

echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GB", $2/1048576}' /proc/meminfo), $(uname -r); date: $(date -u +%FT%TZ)"
echo "blob: ${SIZE_MB} MB; 4 monolithic pushes; 16 concurrent GETs"
printf '%-14s %10s %10s %10s\n' server push_s pull16_s rss_MB
printf '%-14s %10s %10s %10s\n' berth "$bpush" "$bpull" "$brss"
printf '%-14s %10s %10s %10s\n' distribution "$dpush" "$dpull" "$drss"
python3 - "$bpush" "$dpush" "$bpull" "$dpull" "$brss" "$drss" <<'PY'
import sys
bp, dp, bl, dl, br, dr = map(float, sys.argv[1:])
print(f"ratio (distribution/berth): push {dp/bp:.2f}x, pull {dl/bl:.2f}x, rss {dr/br:.2f}x")
PY
