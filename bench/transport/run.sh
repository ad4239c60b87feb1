#!/usr/bin/env bash
# berth vs skopeo: push an OCI layout to docker-registry and pull it back, on
# 127.0.0.1 over plain HTTP. The image: 4 layers of 16 MiB of random bytes
# (uncompressed tar) + config. Both tools gzip such layers on the way to a
# registry (skopeo: the docker destination asks for compression; berth:
# --compression-format defaults to gzip), so both pushes compress 64 MiB. Each run uses a
# fresh repository (push) or a fresh destination (pull); median of $RUNS.
# Usage: BERTH_BIN=build/bin bench/transport/run.sh
set -euo pipefail
B=${BERTH_BIN:?}/berth
RUNS=${RUNS:-3}
T=$(mktemp -d /var/tmp/berth-bench-transport.XXXXXX)
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
# A fresh registry for every measurement: skopeo remembers where blobs live
# (blob-info-cache) and would mount instead of uploading on a known registry.
pids=()
start_reg() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$T/reg-$port"
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$T/reg-$port/data" "$port" > "$T/reg-$port/config.yml"
  docker-registry serve "$T/reg-$port/config.yml" >"$T/reg-$port/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
  R=127.0.0.1:$port
}

python3 - "$T/oci" <<'PY'
import hashlib, io, json, os, sys, tarfile
d = sys.argv[1]; b = f"{d}/blobs/sha256"; os.makedirs(b)
def put(data):
    h = hashlib.sha256(data).hexdigest(); open(f"{b}/{h}", "wb").write(data); return "sha256:" + h, len(data)
layers, diffs = [], []
for i in range(4):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        data = os.urandom(16 << 20); ti = tarfile.TarInfo(f"layer{i}.bin"); ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    dg, n = put(buf.getvalue())
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": dg, "size": n}); diffs.append(dg)
cfg = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diffs}, "config": {}}).encode()
cd, cn = put(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn}, "layers": layers}).encode()
md, mn = put(man)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn,
           "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}, open(f"{d}/index.json", "w"))
open(f"{d}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY

secs() {
  local s=$(date +%s.%N)
  "$@" >/dev/null 2>"$T/err" || { echo "failed: $* $(cat "$T/err")" >&2; exit 1; }
  awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f\n", b - a }'
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# berth push from its own store (the image loaded once; each push to a fresh repo).
env BERTH_ROOT="$T/root-push" "$B" pull -q "oci:$T/oci:bench" >/dev/null
declare -a bp sp bl sl bs
for i in $(seq "$RUNS"); do
  start_reg
  bs+=($(secs env BERTH_ROOT="$T/root-push" "$B" push -q --tls-verify=false localhost/bench:latest "$R/bs$i/bench:v1"))
  start_reg
  sp+=($(secs skopeo copy -q --dest-tls-verify=false "oci:$T/oci:bench" "docker://$R/sk$i/bench:v1"))
  sl+=($(secs skopeo copy -q --src-tls-verify=false "docker://$R/sk$i/bench:v1" "oci:$T/pull-sk$i:x"))
  start_reg
  bp+=($(secs "$B" copy -q --dest-tls-verify=false "oci:$T/oci:bench" "docker://$R/be$i/bench:v1"))
  bl+=($(secs env BERTH_ROOT="$T/root$i" "$B" pull -q --tls-verify=false "$R/be$i/bench:v1"))
  rm -rf "$T/pull-sk$i" "$T/root$i"
done
mb=$(median "${bs[@]}"); mp=$(median "${bp[@]}"); ms=$(median "${sp[@]}"); ml=$(median "${bl[@]}"); mk=$(median "${sl[@]}")
echo "push 64 MiB (4 layers) oci: -> docker://  berth ${mp}s  skopeo ${ms}s  berth/skopeo $(awk -v a="$mp" -v b="$ms" 'BEGIN { printf "%.2f", a / b }')"
echo "push 64 MiB (4 layers) store -> docker://  berth push ${mb}s  skopeo(oci:) ${ms}s  berth/skopeo $(awk -v a="$mb" -v b="$ms" 'BEGIN { printf "%.2f", a / b }')"
echo "pull 64 MiB (4 layers) docker:// -> local  berth ${ml}s  skopeo(oci:) ${mk}s  berth/skopeo $(awk -v a="$ml" -v b="$mk" 'BEGIN { printf "%.2f", a / b }')"
