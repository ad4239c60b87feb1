#!/usr/bin/env bash
# berth push/pull/login/logout against Debian's docker-registry (distribution
# 2.8): plain HTTP on 127.0.0.1 with --tls-verify=false, htpasswd (Basic)
# auth, TLS with a CA made here, pull by digest, cross-repository mounts,
# chunked uploads, a tampered blob on the registry's disk, and berth-registry
# when it has been built.
set -euo pipefail
B=${BERTH_BIN:?}/berth
[ -x "$B" ] || { echo "SKIP: $B not built"; exit 0; }
for t in docker-registry umoci skopeo htpasswd openssl python3 curl; do
  command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 0; }
done

T=$(mktemp -d /tmp/berth-e2e-transport.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
export BERTH_ROOT=$T/root BERTH_AUTH_FILE=$T/auth.json HOME=$T/home XDG_CONFIG_HOME=$T/home/.config
mkdir -p "$HOME"
fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_registry NAME [extra yaml for http:] [auth yaml]  -> sets PORT
start_registry() {
  local name=$1 http_extra=${2:-} auth=${3:-}
  PORT=$(free_port)
  mkdir -p "$T/$name"
  cat > "$T/$name/config.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $T/$name/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
$http_extra
$auth
YML
  docker-registry serve "$T/$name/config.yml" >"$T/$name/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    curl -sk -o /dev/null "http://127.0.0.1:$PORT/v2/" && return 0
    curl -sk -o /dev/null "https://127.0.0.1:$PORT/v2/" && return 0
    sleep 0.1
  done
  cat "$T/$name/log" >&2
  fail "registry $name did not start"
}

source "${BERTH_SRC:?}/tests/e2e/lib/image_fixtures.sh"
fixture_oci_layout
want_manifest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$T/oci/index.json")
want_config=$(python3 - "$T/oci" "$want_manifest" <<'PY'
import json, sys
d = sys.argv[2].split(":")[1]
print(json.load(open(f"{sys.argv[1]}/blobs/sha256/{d}"))["config"]["digest"])
PY
)

# ---- plain HTTP on loopback -------------------------------------------------
start_registry plain
R=127.0.0.1:$PORT
echo "== push to docker-registry at $R (plain HTTP)"
$B copy -q --dest-tls-verify=false "oci:$T/oci:busybox" "docker://$R/e2e/busybox:v1"
got=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/e2e/busybox:v1")
[ "$got" = "$want_manifest" ] || fail "registry manifest $got, want $want_manifest (bytes must be kept)"

echo "== without --tls-verify=false plain HTTP is refused"
if $B pull -q "$R/e2e/busybox:v1" >"$T/out" 2>&1; then fail "pull over HTTP without --tls-verify=false succeeded"; fi

echo "== pull by tag prints the image ID"
id=$($B pull -q --tls-verify=false "$R/e2e/busybox:v1")
[ "sha256:$id" = "$want_config" ] || fail "pull printed $id, want $want_config"
$B pull --tls-verify=false "$R/e2e/busybox:v1" >"$T/pull.out" 2>"$T/pull.err"
grep -q "skipped: already exists" "$T/pull.err" || fail "second pull re-downloaded blobs: $(cat $T/pull.err)"

echo "== pull by digest, verified"
id2=$($B pull -q --tls-verify=false "$R/e2e/busybox@$want_manifest")
[ "$id2" = "$id" ] || fail "pull by digest: $id2"
if $B pull -q --tls-verify=false "$R/e2e/busybox@sha256:$(printf '%064d' 0)" 2>"$T/err"; then fail "unknown digest pulled"; fi
grep -qi "manifest" "$T/err" || fail "unknown digest error: $(cat $T/err)"

echo "== push to another repository mounts the blobs"
$B push --tls-verify=false "$R/e2e/busybox:v1" "$R/other/bb:v2" 2>"$T/push.err"
grep -q mounted "$T/push.err" || fail "no cross-repository mount: $(cat $T/push.err)"
got=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/other/bb:v2")
[ "$got" = "$want_manifest" ] || fail "pushed manifest $got"

echo "== chunked upload (PATCH) of every blob"
BERTH_PUSH_MONOLITHIC_MAX=1 BERTH_PUSH_CHUNK_SIZE=262144 \
  $B copy -q --dest-tls-verify=false "oci:$T/oci:busybox" "docker://$R/chunked/bb:v1"
skopeo copy -q --src-tls-verify=false "docker://$R/chunked/bb:v1" "oci:$T/skopeo-chunked:x"
got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$T/skopeo-chunked/index.json")
[ "$got" = "$want_manifest" ] || fail "chunked push read back as $got"

echo "== a tampered blob on the registry fails the pull and leaves the store unchanged"
$B copy -q --dest-tls-verify=false "oci:$T/oci:busybox" "docker://$R/tamper/bb:v1"
layer=$(python3 - "$T/oci" "$want_manifest" <<'PY'
import json, sys
d = sys.argv[2].split(":")[1]
m = json.load(open(f"{sys.argv[1]}/blobs/sha256/{d}"))
print(max(m["layers"], key=lambda l: l["size"])["digest"].split(":")[1])
PY
)
blob=$T/plain/data/docker/registry/v2/blobs/sha256/${layer:0:2}/$layer/data
[ -f "$blob" ] || fail "registry blob $blob not found"
python3 - "$blob" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xff
open(p, "wb").write(b)
PY
export BERTH_ROOT=$T/root-tamper
if $B pull --tls-verify=false "$R/tamper/bb:v1" >"$T/out" 2>"$T/err"; then fail "tampered pull succeeded"; fi
grep -q "sha256:$layer" "$T/err" || fail "error does not name the blob: $(cat $T/err)"
grep -qi "digest" "$T/err" || fail "error does not say digest: $(cat $T/err)"
[ "$(wc -l < "$T/err")" -le 12 ] || fail "error is not short"
if $B copy -q "berth:$R/tamper/bb:v1" "oci:$T/never:x" 2>/dev/null; then fail "the failed pull named an image"; fi
[ -z "$($B images -q 2>/dev/null)" ] || fail "images after a failed pull: $($B images)"
[ ! -e "$BERTH_ROOT/blobs/sha256/$layer" ] || fail "the tampered blob is in the store"
ingests=$(find "$BERTH_ROOT/ingest" -mindepth 1 -maxdepth 1 ! -name '.*' 2>/dev/null | wc -l)
[ "$ingests" = 0 ] || fail "$ingests ingest entries left behind"

echo "== a registry serving other bytes for a manifest digest is caught"
$B copy -q --dest-tls-verify=false "oci:$T/oci:busybox" "docker://$R/mtamper/bb:v1"
mblob=$T/plain/data/docker/registry/v2/blobs/sha256/${want_manifest:7:2}/${want_manifest:7}/data
printf '\n ' >> "$mblob"
if $B pull -q --tls-verify=false "$R/mtamper/bb@$want_manifest" 2>"$T/err"; then fail "tampered manifest pulled by digest"; fi
grep -q "digest" "$T/err" || fail "manifest tamper error: $(cat $T/err)"
if $B pull -q --tls-verify=false "$R/mtamper/bb:v1" 2>"$T/err"; then fail "tampered manifest pulled by tag"; fi
grep -q "Docker-Content-Digest" "$T/err" || fail "manifest tamper (tag) error: $(cat $T/err)"
[ -z "$($B images -q 2>/dev/null)" ] || fail "images after failed manifest pulls: $($B images)"
export BERTH_ROOT=$T/root

# ---- htpasswd (Basic) auth ---------------------------------------------------
echo "== htpasswd auth: login, push, pull, logout"
htpasswd -Bbn alice 's3cr:et' > "$T/htpasswd"
start_registry auth "" "auth:
  htpasswd:
    realm: berth-e2e
    path: $T/htpasswd"
A=127.0.0.1:$PORT
if $B copy -q --dest-tls-verify=false "oci:$T/oci:busybox" "docker://$A/priv/bb:v1" 2>"$T/err"; then fail "anonymous push accepted"; fi
grep -qi "unauthorized\|log in" "$T/err" || fail "anonymous push error: $(cat $T/err)"
if $B login --tls-verify=false -u alice -p wrong "$A" 2>"$T/err"; then fail "login with a wrong password succeeded"; fi
[ ! -e "$BERTH_AUTH_FILE" ] || fail "failed login wrote the auth file"
printf 's3cr:et\n' | $B login --tls-verify=false -u alice --password-stdin "$A" | grep -q "Login Succeeded"
[ "$(stat -c %a "$BERTH_AUTH_FILE")" = 600 ] || fail "auth file mode $(stat -c %a "$BERTH_AUTH_FILE")"
python3 - "$BERTH_AUTH_FILE" "$A" <<'PY' || fail "auth file content"
import json, sys, base64
a = json.load(open(sys.argv[1]))["auths"][sys.argv[2]]["auth"]
assert base64.b64decode(a).decode() == "alice:s3cr:et", a
PY
$B copy -q --dest-tls-verify=false "oci:$T/oci:busybox" "docker://$A/priv/bb:v1"
export BERTH_ROOT=$T/root-auth
id=$($B pull -q --tls-verify=false "$A/priv/bb:v1")
[ "sha256:$id" = "$want_config" ] || fail "authenticated pull: $id"
skopeo inspect --tls-verify=false --authfile "$BERTH_AUTH_FILE" "docker://$A/priv/bb:v1" >/dev/null || fail "skopeo cannot use berth's auth file"
$B logout "$A" | grep -q "Removed login credentials for $A"
if $B pull -q --tls-verify=false "$A/priv/bb:v1" 2>/dev/null; then fail "pull after logout succeeded"; fi
if $B logout "$A" 2>/dev/null; then fail "second logout succeeded"; fi
id=$($B pull -q --tls-verify=false --creds 'alice:s3cr:et' "$A/priv/bb:v1")
[ "sha256:$id" = "$want_config" ] || fail "--creds pull"
export BERTH_ROOT=$T/root

# ---- TLS with our own CA -------------------------------------------------------
echo "== TLS: --cert-dir with ca.crt, unknown CA refused, --tls-verify=false"
mkdir -p "$T/pki" "$T/certs"
(
  cd "$T/pki"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=berth e2e CA" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=127.0.0.1" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > ext
  openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 2 -extfile ext 2>/dev/null
)
cp "$T/pki/ca.crt" "$T/certs/ca.crt"
start_registry tls "  tls:
    certificate: $T/pki/srv.crt
    key: $T/pki/srv.key"
S=127.0.0.1:$PORT
if $B copy -q "oci:$T/oci:busybox" "docker://$S/tls/bb:v1" 2>"$T/err"; then fail "unknown CA accepted"; fi
grep -qi "certificate\|SSL" "$T/err" || fail "TLS error: $(cat $T/err)"
$B copy -q --dest-cert-dir "$T/certs" "oci:$T/oci:busybox" "docker://$S/tls/bb:v1"
export BERTH_ROOT=$T/root-tls
id=$($B pull -q --cert-dir "$T/certs" "$S/tls/bb:v1")
[ "sha256:$id" = "$want_config" ] || fail "TLS pull: $id"
id=$($B pull -q --tls-verify=false "$S/tls/bb:v1")
[ "sha256:$id" = "$want_config" ] || fail "TLS pull without verification: $id"
export BERTH_ROOT=$T/root

# ---- berth-registry: anonymous, then Bearer tokens (htpasswd + ACL) -------------
if [ -x "$BERTH_BIN/berth-registry" ]; then
  echo "== berth-registry (anonymous)"
  BP=$(free_port)
  "$BERTH_BIN/berth-registry" serve --addr "127.0.0.1:$BP" --root "$T/br" --access-log off >"$T/br.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$BP/v2/" && break; sleep 0.1; done
  $B copy -q --dest-tls-verify=false "oci:$T/oci:busybox" "docker://127.0.0.1:$BP/e2e/bb:v1"
  export BERTH_ROOT=$T/root-br
  id=$($B pull -q --tls-verify=false "127.0.0.1:$BP/e2e/bb:v1")
  [ "sha256:$id" = "$want_config" ] || fail "berth-registry pull: $id"

  echo "== berth-registry with Bearer token auth"
  htpasswd -Bbn bob 'pw' > "$T/br-htpasswd"
  head -c 32 /dev/urandom > "$T/br-token.key"
  printf 'rules:\n  - user: bob\n    repos: "*"\n    actions: [pull, push]\n' > "$T/br-acl.yml"
  TP=$(free_port)
  "$BERTH_BIN/berth-registry" serve --addr "127.0.0.1:$TP" --root "$T/br-tok" --htpasswd "$T/br-htpasswd" \
    --token-key "$T/br-token.key" --acl "$T/br-acl.yml" --access-log off >"$T/br-tok.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$TP/v2/" && break; sleep 0.1; done
  curl -si "http://127.0.0.1:$TP/v2/" | grep -qi "www-authenticate: bearer" || fail "berth-registry does not ask for a token"
  if $B login --tls-verify=false -u bob -p nope "127.0.0.1:$TP" 2>"$T/err"; then fail "token login with a wrong password"; fi
  $B login --tls-verify=false -u bob -p pw "127.0.0.1:$TP" >/dev/null
  $B copy -q --dest-tls-verify=false "oci:$T/oci:busybox" "docker://127.0.0.1:$TP/team/bb:v1"
  export BERTH_ROOT=$T/root-br-tok
  id=$($B pull -q --tls-verify=false "127.0.0.1:$TP/team/bb:v1")
  [ "sha256:$id" = "$want_config" ] || fail "berth-registry token pull: $id"
  $B push --tls-verify=false "127.0.0.1:$TP/team/bb:v1" "127.0.0.1:$TP/team2/bb:v1" 2>"$T/err"
  grep -q mounted "$T/err" || fail "no mount with a two-scope token: $(cat $T/err)"
  $B logout --all >/dev/null
  if $B pull -q --tls-verify=false "127.0.0.1:$TP/team/bb:v1" 2>/dev/null; then fail "pull after logout --all"; fi
  export BERTH_ROOT=$T/root
fi
echo PASS
