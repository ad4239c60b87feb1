#!/usr/bin/env bash
# berth copy between every transport (oci:, oci-archive:, docker-archive:,
# docker://, berth:) and interop with skopeo in both directions. Manifests
# must keep their bytes (same digest) wherever no recompression is needed;
# layers compressed on the way to a registry must decompress to the config's
# diff_ids.
set -euo pipefail
B=${BERTH_BIN:?}/berth
[ -x "$B" ] || { echo "SKIP: $B not built"; exit 0; }
for t in docker-registry umoci skopeo python3 curl zstd; do
  command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 0; }
done

T=$(mktemp -d /tmp/berth-e2e-copy.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
export BERTH_ROOT=$T/root BERTH_AUTH_FILE=$T/auth.json
fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_registry() {  # start_registry NAME -> PORT
  PORT=$(free_port)
  mkdir -p "$T/$1"
  printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$T/$1/data" "$PORT" > "$T/$1/config.yml"
  docker-registry serve "$T/$1/config.yml" >"$T/$1/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/" && return 0; sleep 0.1; done
  fail "registry $1 did not start"
}
index_digest() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$1/index.json"; }
reg_digest() { skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$1"; }

source "${BERTH_SRC:?}/tests/e2e/lib/image_fixtures.sh"
fixture_oci_layout
want_manifest=$(index_digest "$T/oci")
want_config=$(python3 - "$T/oci" "$want_manifest" <<'PY'
import json, sys
print(json.load(open(f"{sys.argv[1]}/blobs/sha256/{sys.argv[2].split(':')[1]}"))["config"]["digest"])
PY
)

start_registry r1
R=127.0.0.1:$PORT
start_registry r2
R2=127.0.0.1:$PORT

echo "== skopeo pushes, berth pulls"
skopeo copy -q --dest-tls-verify=false "oci:$T/oci:busybox" "docker://$R/sk/bb:v1"
id=$($B pull -q --tls-verify=false "$R/sk/bb:v1")
[ "sha256:$id" = "$want_config" ] || fail "berth pull of skopeo's push: $id"

echo "== docker:// -> oci: keeps the manifest"
$B copy -q --src-tls-verify=false "docker://$R/sk/bb:v1" "oci:$T/o1:v1"
[ "$(index_digest "$T/o1")" = "$want_manifest" ] || fail "oci: copy changed the manifest"
umoci stat --image "$T/o1:v1" >/dev/null || fail "umoci cannot read berth's layout"

echo "== oci: -> oci-archive: -> docker://"
$B copy -q "oci:$T/o1:v1" "oci-archive:$T/a.tar:v1"
mkdir "$T/a" && tar -C "$T/a" -xf "$T/a.tar"
[ "$(index_digest "$T/a")" = "$want_manifest" ] || fail "oci-archive changed the manifest"
$B copy -q --dest-tls-verify=false "oci-archive:$T/a.tar:v1" "docker://$R/oa/bb:v1"
[ "$(reg_digest "$R/oa/bb:v1")" = "$want_manifest" ] || fail "oci-archive -> registry changed the manifest"

echo "== docker:// -> docker:// across registries (staged, verified)"
$B copy -q --src-tls-verify=false --dest-tls-verify=false "docker://$R/sk/bb:v1" "docker://$R2/copied/bb:v1"
[ "$(reg_digest "$R2/copied/bb:v1")" = "$want_manifest" ] || fail "registry -> registry changed the manifest"

echo "== berth: -> docker-archive: -> skopeo"
$B copy -q "berth:$R/sk/bb:v1" "docker-archive:$T/d.tar:localhost/bb:v1"
cfg=$(skopeo inspect --raw "docker-archive:$T/d.tar" | python3 -c 'import json,sys; print(json.load(sys.stdin)["config"]["digest"])')
[ "$cfg" = "$want_config" ] || fail "docker-archive config $cfg, want $want_config"

echo "== docker-archive: (uncompressed layers) -> docker:// compresses with gzip, then zstd"
check_layers() {  # check_layers REPO:TAG MAGIC-TOOL
  local ref=$1 tool=$2
  local man
  man=$(skopeo inspect --raw --tls-verify=false "docker://$ref")
  python3 - "$R" "$ref" "$tool" "$man" <<'PY' || fail "layers of $ref do not decompress to the diff_ids"
import hashlib, json, subprocess, sys, urllib.request
reg, ref, tool, man = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
repo = ref.split("/", 1)[1].rsplit(":", 1)[0]
get = lambda d: urllib.request.urlopen(f"http://{reg}/v2/{repo}/blobs/{d}").read()
cfg = json.loads(get(man["config"]["digest"]))
assert len(man["layers"]) == len(cfg["rootfs"]["diff_ids"])
for l, diff in zip(man["layers"], cfg["rootfs"]["diff_ids"]):
    assert l["mediaType"].endswith("+" + tool) or (tool == "gzip" and l["mediaType"].endswith(".tar.gzip")), l["mediaType"]
    blob = get(l["digest"])
    assert "sha256:" + hashlib.sha256(blob).hexdigest() == l["digest"]
    tar = subprocess.run([tool, "-dc"], input=blob, capture_output=True, check=True).stdout
    assert "sha256:" + hashlib.sha256(tar).hexdigest() == diff, (l["digest"], diff)
PY
}
$B copy -q --dest-tls-verify=false "docker-archive:$T/d.tar" "docker://$R/da/bb:v1"
check_layers "$R/da/bb:v1" gzip
$B copy -q --dest-tls-verify=false "docker-archive:$T/d.tar" "oci:$T/o2:v1"
$B copy -q --dest-tls-verify=false --compression-format zstd "oci:$T/o2:v1" "docker://$R/zs/bb:v1"
check_layers "$R/zs/bb:v1" zstd

echo "== berth pushes, skopeo pulls"
skopeo copy -q --src-tls-verify=false "docker://$R/da/bb:v1" "oci:$T/sk2:x"
skopeo copy -q --src-tls-verify=false "docker://$R/zs/bb:v1" "oci:$T/sk3:x"

echo "== archive -> berth: names the image from the archive"
$B copy -q "oci-archive:$T/a.tar:v1" "berth:localhost/fromarchive:v1"
$B copy -q "berth:localhost/fromarchive:v1" "oci:$T/o4:v1"
[ "$(index_digest "$T/o4")" = "$want_manifest" ] || fail "berth: round trip changed the manifest"
id=$($B pull -q "oci:$T/o1:v1")
[ "sha256:$id" = "$want_config" ] || fail "pull from oci: printed $id"

echo "== errors are one line"
if $B copy -q "oci:$T/o1:nope" "oci:$T/o5" 2>"$T/err"; then fail "copy of a missing tag succeeded"; fi
[ "$(wc -l < "$T/err")" = 1 ] || fail "multi-line error: $(cat $T/err)"
if $B copy -q "oci:$T/o1:v1" "ftp://x" 2>"$T/err"; then fail "unknown transport accepted"; fi
echo PASS
