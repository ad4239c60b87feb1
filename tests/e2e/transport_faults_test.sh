#!/usr/bin/env bash
# Transfers that survive faults, through a fault-injecting proxy in front of
# docker-registry: a blob download cut in the middle resumes with Range, a 503
# is retried, a PATCH whose connection dies mid-upload continues from the
# offset the registry reports; and platform selection from a two-platform index.
set -euo pipefail
B=${BERTH_BIN:?}/berth
[ -x "$B" ] || { echo "SKIP: $B not built"; exit 0; }
for t in docker-registry umoci skopeo python3 curl; do
  command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 0; }
done

T=$(mktemp -d /tmp/berth-e2e-faults.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
export BERTH_ROOT=$T/root BERTH_AUTH_FILE=$T/auth.json
fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 100); do curl -s -o /dev/null "http://$1/v2/" && return 0; sleep 0.1; done; fail "$1 did not start"; }

RP=$(free_port)
mkdir -p "$T/reg"
printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n' \
  "$T/reg/data" "$RP" > "$T/reg/config.yml"
docker-registry serve "$T/reg/config.yml" >"$T/reg/log" 2>&1 &
pids+=($!)
wait_http "127.0.0.1:$RP"

PP=$(free_port)
cat > "$T/proxy.py" <<'PY'
# Forwards to the registry; injects one fault of each kind and logs what it did.
import http.client, socketserver, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
up_port, port, log_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
seen = {"cut": set(), "503": False, "patch": 0, "stall": False}
def log(s):
    with lock, open(log_path, "a") as f: f.write(s + "\n")
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        if self.command == "PATCH":
            with lock:
                seen["patch"] += 1
                k = seen["patch"]
            if k == 2:
                log("FAULT patch-dropped")
                self.close_connection = True
                self.connection.shutdown(2)
                return
        if self.command == "GET" and "/manifests/" in self.path:
            with lock:
                first = not seen["503"]
                seen["503"] = True
            if first:
                log("FAULT 503")
                self.send_response(503); self.send_header("Content-Length", "0"); self.end_headers(); return
        if "Range" in self.headers and "/blobs/sha256:" in self.path:
            log("RANGE " + self.headers["Range"] + " " + self.path)
        c = http.client.HTTPConnection("127.0.0.1", up_port)
        hdrs = {k: v for k, v in self.headers.items()}
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        cut = False
        if self.command == "GET" and "/blobs/sha256:" in self.path and r.status == 200 and len(data) > 1000:
            with lock:
                cut = self.path not in seen["cut"]
                seen["cut"].add(self.path)
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "HEAD": return
        if self.command == "GET" and r.status == 200 and len(data) > (4 << 20) and "Range" not in self.headers:
            with lock:
                stall = not seen["stall"]
                seen["stall"] = True
            if stall:  # half the body, then silence: the client is killed meanwhile
                self.wfile.write(data[: len(data) // 2]); self.wfile.flush()
                log("FAULT stall")
                import time; time.sleep(600)
                return
        if cut:
            log("FAULT cut " + self.path)
            self.wfile.write(data[: len(data) // 2]); self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(data)
    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = forward
ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
python3 "$T/proxy.py" "$RP" "$PP" "$T/proxy.log" 2>"$T/proxy.err" &
pids+=($!)
wait_http "127.0.0.1:$PP"
P=127.0.0.1:$PP

source "${BERTH_SRC:?}/tests/e2e/lib/image_fixtures.sh"
fixture_oci_layout
want_manifest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$T/oci/index.json")
want_config=$(python3 - "$T/oci" "$want_manifest" <<'PY'
import json, sys
print(json.load(open(f"{sys.argv[1]}/blobs/sha256/{sys.argv[2].split(':')[1]}"))["config"]["digest"])
PY
)

echo "== chunked push through a PATCH that dies continues from the registry's offset"
BERTH_PUSH_MONOLITHIC_MAX=1 BERTH_PUSH_CHUNK_SIZE=200000 \
  $B copy -q --dest-tls-verify=false "oci:$T/oci:busybox" "docker://$P/f/bb:v1"
grep -q "FAULT patch-dropped" "$T/proxy.log" || fail "no PATCH fault was injected"
got=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://127.0.0.1:$RP/f/bb:v1")
[ "$got" = "$want_manifest" ] || fail "pushed manifest $got"

echo "== pull through a 503 and cut connections: retried and resumed with Range"
id=$($B pull -q --tls-verify=false "$P/f/bb:v1")
[ "sha256:$id" = "$want_config" ] || fail "pull printed $id"
grep -q "FAULT 503" "$T/proxy.log" || fail "no 503 injected"
grep -q "FAULT cut" "$T/proxy.log" || fail "no cut injected"
grep -q "RANGE bytes=[1-9]" "$T/proxy.log" || fail "the cut download was not resumed with Range: $(cat $T/proxy.log)"

echo "== a pull killed mid-blob resumes from its ingest in the next process"
python3 - "$T/big" <<'PY'
import hashlib, io, json, os, sys, tarfile
d = sys.argv[1]; b = f"{d}/blobs/sha256"; os.makedirs(b)
def put(data):
    h = hashlib.sha256(data).hexdigest(); open(f"{b}/{h}", "wb").write(data); return "sha256:" + h, len(data)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    data = os.urandom(8 << 20); ti = tarfile.TarInfo("big.bin"); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
ld, ln = put(buf.getvalue())
cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [ld]}, "config": {}}).encode()
cd, cn = put(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
  "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": ln}]}).encode()
md, mn = put(man)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn,
  "annotations": {"org.opencontainers.image.ref.name": "big"}}]}, open(f"{d}/index.json", "w"))
open(f"{d}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
open(f"{d}/config-digest", "w").write(cd)
open(f"{d}/layer-digest", "w").write(ld)
PY
$B copy -q --compression-format none --dest-tls-verify=false "oci:$T/big:big" "docker://127.0.0.1:$RP/big/bb:v1"
export BERTH_ROOT=$T/root-kill
$B pull -q --tls-verify=false "$P/big/bb:v1" >/dev/null 2>&1 &
bpid=$!
for _ in $(seq 200); do grep -q "FAULT stall" "$T/proxy.log" && break; sleep 0.1; done
grep -q "FAULT stall" "$T/proxy.log" || { kill -9 $bpid; fail "no stall injected"; }
sleep 1
kill -9 $bpid; wait $bpid 2>/dev/null || true
id=$($B pull -q --tls-verify=false "$P/big/bb:v1")
[ "sha256:$id" = "$(cat "$T/big/config-digest")" ] || fail "resumed pull printed $id"
grep -q "RANGE bytes=[1-9][0-9]*- .*$(cat "$T/big/layer-digest")" "$T/proxy.log" ||
  fail "the second pull did not resume: $(cat $T/proxy.log)"
export BERTH_ROOT=$T/root

echo "== a two-platform index: push it all, pull each platform"
python3 - "$T/oci" "$T/multi" <<'PY'
import hashlib, json, os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
shutil.copytree(src, dst)
blobs = f"{dst}/blobs/sha256"
def put(b):
    d = hashlib.sha256(b).hexdigest()
    open(f"{blobs}/{d}", "wb").write(b)
    return "sha256:" + d
ix = json.load(open(f"{dst}/index.json"))
m0 = ix["manifests"][0]
man = json.load(open(f"{blobs}/{m0['digest'].split(':')[1]}"))
cfg = json.load(open(f"{blobs}/{man['config']['digest'].split(':')[1]}"))
entries = []
for arch, variant in (("amd64", None), ("arm64", "v8")):
    c = dict(cfg, architecture=arch)
    if variant: c["variant"] = variant
    cb = json.dumps(c).encode()
    m = dict(man, config=dict(man["config"], digest=put(cb), size=len(cb)))
    mb = json.dumps(m).encode()
    p = {"architecture": arch, "os": "linux"}
    if variant: p["variant"] = variant
    entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(mb), "size": len(mb), "platform": p})
    open(f"{dst}/config-{arch}", "w").write(put(cb))
ixb = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}).encode()
d = put(ixb)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": d, "size": len(ixb), "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}, open(f"{dst}/index.json", "w"))
PY
$B copy -q -a --dest-tls-verify=false "oci:$T/multi:multi" "docker://127.0.0.1:$RP/multi/bb:v1"
mt=$(skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$RP/multi/bb:v1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["mediaType"])')
[ "$mt" = "application/vnd.oci.image.index.v1+json" ] || fail "pushed top is $mt"
for arch in amd64 arm64; do
  export BERTH_ROOT=$T/root-$arch
  id=$($B pull -q --tls-verify=false --platform "linux/$arch" "127.0.0.1:$RP/multi/bb:v1")
  [ "sha256:$id" = "$(cat "$T/multi/config-$arch")" ] || fail "--platform linux/$arch pulled $id"
done
if $B pull -q --tls-verify=false --platform linux/s390x "127.0.0.1:$RP/multi/bb:v1" 2>"$T/err"; then fail "s390x pulled"; fi
grep -q "arm64" "$T/err" || fail "platform error does not list what exists: $(cat $T/err)"
echo PASS
