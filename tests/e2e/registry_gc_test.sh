#!/usr/bin/env bash
# Online GC: `berth-registry gc` runs again and again (a second process on the
# same root) while 8 clients keep pushing images. Garbage older than the grace
# period goes; every push succeeds and stays fully pullable; tagged content
# is never touched.
set -euo pipefail
BERTH_BIN=${BERTH_BIN:-$(pwd)/build/bin}
T=$(mktemp -d /tmp/berth-reg-gc.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
GRACE=20  # seconds; pushes below take far less, garbage is aged past it

"$BERTH_BIN/berth-registry" serve --addr 127.0.0.1:0 --root "$T/root" --access-log off >"$T/out" 2>"$T/err" &
PID=$!
for _ in $(seq 100); do grep -q listening "$T/out" 2>/dev/null && break; sleep 0.1; done
B=http://127.0.0.1:$(awk '/listening/{print $NF}' "$T/out")
sha() { sha256sum "$1" | cut -d' ' -f1; }
post() { curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$2" "$B/v2/$1/blobs/uploads/?digest=sha256:$(sha "$2")"; }
push_image() { # repo ref dir -> 0 when every step got 201
  local repo=$1 ref=$2 d=$3
  [ "$(post "$repo" "$d/layer")" = 201 ] && [ "$(post "$repo" "$d/config")" = 201 ] || return 1
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$(sha "$d/config")" "$(stat -c %s "$d/config")" "$(sha "$d/layer")" "$(stat -c %s "$d/layer")" >"$d/manifest"
  [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$d/manifest" "$B/v2/$repo/manifests/$ref")" = 201 ]
}
verify_image() { # repo ref dir
  local repo=$1 ref=$2 d=$3
  [ "$(curl -s "$B/v2/$repo/manifests/$ref" | sha256sum | cut -d' ' -f1)" = "$(sha "$d/manifest")" ] &&
    [ "$(curl -s "$B/v2/$repo/blobs/sha256:$(sha "$d/layer")" | sha256sum | cut -d' ' -f1)" = "$(sha "$d/layer")" ] &&
    [ "$(curl -s "$B/v2/$repo/blobs/sha256:$(sha "$d/config")" | sha256sum | cut -d' ' -f1)" = "$(sha "$d/config")" ]
}
mkimg() { mkdir -p "$1"; head -c "$2" /dev/urandom >"$1/layer"; echo "{\"id\":\"$1\"}" >"$1/config"; }

fails=0
mkimg "$T/keep" 200000
push_image keep v1 "$T/keep"
mkimg "$T/junk" 300000
push_image junk "sha256:$(printf x | sha256sum | cut -d' ' -f1)" "$T/junk" 2>/dev/null || true  # digest mismatch: not stored
push_image junk tmp "$T/junk"
JM=$(sha "$T/junk/manifest")
curl -s -o /dev/null -X DELETE "$B/v2/junk/manifests/tmp"  # untag: manifest becomes garbage
head -c 100000 /dev/urandom >"$T/orphan"
post junk "$T/orphan" >/dev/null
echo "aging the garbage past the ${GRACE}s grace period"
sleep $((GRACE + 2))

: >"$T/results"
pusher() { # id
  for n in 1 2 3 4 5; do
    mkimg "$T/p$1-$n" $((50000 + RANDOM))
    if push_image "live/p$1" "v$n" "$T/p$1-$n"; then echo "ok p$1 v$n" >>"$T/results"; else echo "FAIL p$1 v$n" >>"$T/results"; fi
  done
}
pids=()
for i in 1 2 3 4 5 6 7 8; do pusher "$i" & pids+=($!); done
runs=0
while kill -0 "${pids[@]}" 2>/dev/null; do
  "$BERTH_BIN/berth-registry" gc --root "$T/root" --grace ${GRACE}s >>"$T/gc.log" 2>&1 || { echo "FAIL: gc errored"; cat "$T/gc.log"; fails=$((fails + 1)); break; }
  runs=$((runs + 1))
done
for p in "${pids[@]}"; do wait "$p"; done
"$BERTH_BIN/berth-registry" gc --root "$T/root" --grace ${GRACE}s >>"$T/gc.log" 2>&1
echo "gc ran $((runs + 1)) times during the pushes; last: $(tail -1 "$T/gc.log")"

bad=$(grep -c FAIL "$T/results" || true)
[ "$bad" = 0 ] && echo "ok   40 concurrent pushes succeeded" || { echo "FAIL $bad pushes failed"; fails=$((fails + 1)); }
for i in 1 2 3 4 5 6 7 8; do for n in 1 2 3 4 5; do
  verify_image "live/p$i" "v$n" "$T/p$i-$n" || { echo "FAIL live/p$i:v$n not intact"; fails=$((fails + 1)); }
done; done
verify_image keep v1 "$T/keep" && echo "ok   tagged image intact" || { echo "FAIL tagged image damaged"; fails=$((fails + 1)); }
[ "$(curl -s -o /dev/null -w '%{http_code}' "$B/v2/junk/manifests/sha256:$JM")" = 404 ] && echo "ok   untagged manifest collected" ||
  { echo "FAIL untagged manifest survived"; fails=$((fails + 1)); }
[ ! -e "$T/root/content/blobs/sha256/$(sha "$T/orphan")" ] && echo "ok   orphan blob removed from disk" ||
  { echo "FAIL orphan blob survived"; fails=$((fails + 1)); }
[ ! -e "$T/root/content/blobs/sha256/$(sha "$T/junk/layer")" ] && echo "ok   garbage layer removed from disk" ||
  { echo "FAIL garbage layer survived"; fails=$((fails + 1)); }

# The same sweep inside the server: --gc-interval, with a 1 s grace period.
kill "$PID"; wait "$PID" 2>/dev/null || true
"$BERTH_BIN/berth-registry" serve --addr 127.0.0.1:0 --root "$T/root" --access-log off --gc-interval 1s --gc-grace 1s \
  >"$T/out" 2>>"$T/err" &
PID=$!
for _ in $(seq 100); do grep -q listening "$T/out" 2>/dev/null && break; sleep 0.1; done
B=http://127.0.0.1:$(awk '/listening/{print $NF}' "$T/out")
head -c 100000 /dev/urandom >"$T/orphan2"
post junk "$T/orphan2" >/dev/null
gone=
for _ in $(seq 300); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$B/v2/junk/blobs/sha256:$(sha "$T/orphan2")")" = 404 ] && { gone=1; break; }
  sleep 0.2
done
[ -n "$gone" ] && echo "ok   online GC (--gc-interval) collected an orphan" || { echo "FAIL online GC did not run"; fails=$((fails + 1)); }
verify_image keep v1 "$T/keep" && echo "ok   tagged image intact after online GC" || { echo "FAIL tagged image damaged by online GC"; fails=$((fails + 1)); }
[ "$fails" -eq 0 ] || { cat "$T/err"; exit 1; }
echo "gc: all checks passed"
