#!/usr/bin/env bash
# Limits: a YAML config sets a short idle timeout and a connection cap; a
# slowloris client (half a request line, then silence) is disconnected, the
# connection cap answers 503 instead of queueing forever, and the server keeps
# serving normal clients throughout.
set -euo pipefail
BERTH_BIN=${BERTH_BIN:-$(pwd)/build/bin}
T=$(mktemp -d /tmp/berth-reg-limits.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; exec 3>&- 4>&- 5>&- 6>&- 7>&- 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
cat >"$T/config.yaml" <<YAML
addr: 127.0.0.1:0
root: $T/root
idle_timeout: 2s
read_timeout: 2s
max_connections: 4
threads: 2
access_log: $T/access.log
YAML
"$BERTH_BIN/berth-registry" serve --config "$T/config.yaml" >"$T/out" 2>"$T/err" &
PID=$!
for _ in $(seq 100); do grep -q listening "$T/out" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/listening/{print $NF}' "$T/out")
B=http://127.0.0.1:$PORT
fails=0
check() { if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: expected '$2', got '$3'"; fails=$((fails + 1)); fi; }

# Slowloris: open, send half a request line, go quiet.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /v2/ HT' >&3
# The server must hang up by itself (read returns EOF); give it generous time.
if timeout 60 cat <&3 >/dev/null; then echo "ok   slow client disconnected"; else echo "FAIL slow client still connected"; fails=$((fails + 1)); fi
exec 3>&-

# Fill the connection cap with idle connections; one more is refused with 503.
exec 4<>"/dev/tcp/127.0.0.1/$PORT" 5<>"/dev/tcp/127.0.0.1/$PORT" 6<>"/dev/tcp/127.0.0.1/$PORT" 7<>"/dev/tcp/127.0.0.1/$PORT"
sleep 0.5
check "over the connection cap" 503 "$(curl -s -o /dev/null -w '%{http_code}' $B/v2/)"
exec 4>&- 5>&- 6>&- 7>&-
# Once they are gone (closed by us, or by the idle timeout), service resumes.
ok=
for _ in $(seq 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' $B/v2/)" = 200 ] && { ok=1; break; }
  sleep 0.2
done
check "serving after the cap clears" 1 "${ok:-0}"

# A body that stalls mid-way is cut off by the read timeout, and nothing is published.
head -c 100000 /dev/urandom >"$T/blob"
D=sha256:$(sha256sum "$T/blob" | cut -d' ' -f1)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /v2/slow/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n' "$D" >&3
head -c 1000 "$T/blob" >&3
if timeout 60 cat <&3 >/dev/null; then echo "ok   stalled body disconnected"; else echo "FAIL stalled body still connected"; fails=$((fails + 1)); fi
exec 3>&-
check "stalled upload not published" 404 "$(curl -s -o /dev/null -w '%{http_code}' $B/v2/slow/blobs/$D)"
check "access log has lines" 1 "$(awk 'END{print (NR>0)}' "$T/access.log")"
[ "$fails" -eq 0 ] || { cat "$T/err"; exit 1; }
echo "limits: all checks passed"
