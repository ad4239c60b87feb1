#!/usr/bin/env bash
# Crash safety: 20 concurrent pushes (blob + config + tagged manifest; half of
# them as chunked sessions), kill -9 the registry mid-way, restart it, and
# check that every push that got its 201 is intact, that nothing partial is
# visible anywhere, and that the registry keeps working.
set -euo pipefail
BERTH_BIN=${BERTH_BIN:-$(pwd)/build/bin}
T=$(mktemp -d /tmp/berth-reg-dur.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT

start() {
  : >"$T/out"
  "$BERTH_BIN/berth-registry" serve --addr 127.0.0.1:${1:-0} --root "$T/root" --access-log off >"$T/out" 2>>"$T/err" &
  PID=$!
  for _ in $(seq 100); do grep -q listening "$T/out" 2>/dev/null && break; sleep 0.1; done
  PORT=$(awk '/listening/{print $NF}' "$T/out")
  B=http://127.0.0.1:$PORT
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
start
echo '{"architecture":"amd64","os":"linux"}' >"$T/config"
C=sha256:$(sha "$T/config")
CS=$(stat -c %s "$T/config")

push() { # i: push blob i (rate-limited so the kill lands mid-way), its config and a tagged manifest
  local i=$1 repo=dur/r$1 f=$T/blob$1
  local d=sha256:$(sha "$f") size
  size=$(stat -c %s "$f")
  if [ $((i % 2)) -eq 0 ]; then
    [ "$(curl -s -o /dev/null -w '%{http_code}' --limit-rate 4M -X POST --data-binary @"$f" "$B/v2/$repo/blobs/uploads/?digest=$d")" = 201 ] || return 0
  else
    local loc half=$((size / 2))
    loc=$(curl -s -D - -o /dev/null -X POST "$B/v2/$repo/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
    [ -n "$loc" ] || return 0
    head -c $half "$f" >"$f.a"; tail -c +$((half + 1)) "$f" >"$f.b"
    [ "$(curl -s -o /dev/null -w '%{http_code}' --limit-rate 4M -X PATCH --data-binary @"$f.a" -H "Content-Range: 0-$((half - 1))" "$B$loc")" = 202 ] || return 0
    [ "$(curl -s -o /dev/null -w '%{http_code}' --limit-rate 4M -X PUT --data-binary @"$f.b" "$B$loc?digest=$d")" = 201 ] || return 0
  fi
  [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$T/config" "$B/v2/$repo/blobs/uploads/?digest=$C")" = 201 ] || return 0
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
    "$C" "$CS" "$d" "$size" >"$T/man$i"
  [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$T/man$i" "$B/v2/$repo/manifests/latest")" = 201 ] || return 0
  echo "$i" >>"$T/done"
}

# Sizes from 1 to 20 MiB: at 4 MiB/s the small pushes finish well before the big ones.
for i in $(seq 1 20); do head -c $((i * 1048576)) /dev/urandom >"$T/blob$i"; done
: >"$T/done"
for i in $(seq 1 20); do push "$i" & done
# Kill once some pushes completed and others are still streaming.
for _ in $(seq 600); do [ "$(wc -l <"$T/done")" -ge 3 ] && break; sleep 0.1; done
kill -9 "$PID"
wait "$PID" 2>/dev/null || true
wait || true
completed=$(sort -n "$T/done" | tr '\n' ' ')
echo "completed before the crash: $completed"
[ "$(wc -l <"$T/done")" -ge 3 ] || { echo "FAIL: fewer than 3 pushes completed"; exit 1; }
[ "$(wc -l <"$T/done")" -lt 20 ] || echo "note: every push finished before the kill"

start
fails=0
for i in $completed; do
  d=sha256:$(sha "$T/blob$i")
  got=$(curl -s "$B/v2/dur/r$i/blobs/$d" | sha256sum | cut -d' ' -f1)
  [ "sha256:$got" = "$d" ] || { echo "FAIL: push $i blob lost or corrupt after crash"; fails=$((fails + 1)); }
  m=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$B/v2/dur/r$i/manifests/latest" | sha256sum | cut -d' ' -f1)
  [ "$m" = "$(sha "$T/man$i")" ] || { echo "FAIL: push $i manifest lost after crash"; fails=$((fails + 1)); }
done
# No partial blob is ever visible: every published file hashes to its name.
n=0
for f in "$T"/root/content/blobs/sha256/*; do
  [ -e "$f" ] || continue
  n=$((n + 1))
  [ "$(sha "$f")" = "$(basename "$f")" ] || { echo "FAIL: $f does not match its digest"; fails=$((fails + 1)); }
done
echo "verified $n published blobs"
# Incomplete pushes are absent or complete, never partial.
for i in $(seq 1 20); do
  d=sha256:$(sha "$T/blob$i")
  code=$(curl -s -o "$T/get" -w '%{http_code}' "$B/v2/dur/r$i/blobs/$d")
  if [ "$code" = 200 ] && [ "sha256:$(sha "$T/get")" != "$d" ]; then echo "FAIL: push $i serves a partial blob"; fails=$((fails + 1)); fi
done
# The registry still takes pushes, including a retry of an interrupted one.
: >"$T/done"
push 20
[ "$(cat "$T/done")" = 20 ] || { echo "FAIL: push after restart"; fails=$((fails + 1)); }
[ "$fails" -eq 0 ] || { cat "$T/err"; exit 1; }
echo "durability: all completed pushes survived kill -9"
