#!/usr/bin/env bash
# Interop: podman and skopeo push/pull/copy against berth-registry with
# htpasswd basic auth, with bearer tokens, and with TLS (server certificate
# from a CA made here, then client-certificate login); the ACL holds
# throughout (pull-only user cannot push, anonymous sees nothing private).
set -euo pipefail
BERTH_BIN=${BERTH_BIN:-$(pwd)/build/bin}
for tool in podman skopeo htpasswd openssl busybox curl; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 0; }
done
T=$(mktemp -d /tmp/berth-reg-interop.XXXXXX)
PID=
stop() { if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; fi; }
cleanup() {
  stop
  podman --root "$T/proot" --runroot "$T/prun" --storage-driver vfs rmi -a -f >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT

start() { # extra serve flags...
  stop
  : >"$T/out"
  "$BERTH_BIN/berth-registry" serve --addr 127.0.0.1:0 --root "$T/root" --htpasswd "$T/htpasswd" --acl "$T/acl.yaml" \
    --access-log "$T/access.log" "$@" >"$T/out" 2>>"$T/err" &
  PID=$!
  for _ in $(seq 100); do grep -q listening "$T/out" 2>/dev/null && break; sleep 0.1; done
  PORT=$(awk '/listening/{print $NF}' "$T/out")
  R=127.0.0.1:$PORT
}
fails=0
expect_ok() { local n=$1; shift; if "$@" >"$T/cmd.log" 2>&1; then echo "ok   $n"; else echo "FAIL $n"; tail -5 "$T/cmd.log"; fails=$((fails + 1)); fi; }
expect_fail() { local n=$1; shift; if "$@" >"$T/cmd.log" 2>&1; then echo "FAIL $n (succeeded)"; fails=$((fails + 1)); else echo "ok   $n"; fi; }
pm() { podman --root "$T/proot" --runroot "$T/prun" --storage-driver vfs "$@"; }

htpasswd -cbB "$T/htpasswd" alice alicepw 2>/dev/null
htpasswd -bB "$T/htpasswd" bob bobpw 2>/dev/null
cat >"$T/acl.yaml" <<'YAML'
rules:
  - {user: alice, repos: "team/*", actions: [pull, push, delete]}
  - {user: bob, repos: "team/*", actions: [pull]}
  - {user: anonymous, repos: "public/*", actions: [pull]}
  - {user: alice, repos: "public/*", actions: [pull, push]}
YAML

# A tiny image: busybox-static imported by podman into private storage.
mkdir -p "$T/rootfs/bin"
cp "$(command -v busybox)" "$T/rootfs/bin/busybox"
ln -s busybox "$T/rootfs/bin/sh"
tar -C "$T/rootfs" -cf "$T/rootfs.tar" .
pm import "$T/rootfs.tar" localhost/bbx:1 >/dev/null

echo "== htpasswd basic auth"
start
expect_ok "podman push (alice)" pm push --tls-verify=false --creds alice:alicepw localhost/bbx:1 "$R/team/bbx:1"
expect_ok "podman push public (alice)" pm push --tls-verify=false --creds alice:alicepw localhost/bbx:1 "$R/public/bbx:1"
expect_ok "skopeo copy pull (bob)" skopeo copy --src-tls-verify=false --src-creds bob:bobpw "docker://$R/team/bbx:1" "oci:$T/oci:bbx"
expect_fail "skopeo copy push (bob, pull-only)" skopeo copy --dest-tls-verify=false --dest-creds bob:bobpw "oci:$T/oci:bbx" "docker://$R/team/bob:1"
expect_ok "skopeo copy push (alice)" skopeo copy --dest-tls-verify=false --dest-creds alice:alicepw "oci:$T/oci:bbx" "docker://$R/team/copy:1"
expect_fail "skopeo wrong password" skopeo inspect --tls-verify=false --creds alice:nope "docker://$R/team/copy:1"
expect_fail "anonymous private pull" skopeo inspect --tls-verify=false "docker://$R/team/copy:1"
expect_ok "anonymous public pull" skopeo inspect --tls-verify=false --no-creds "docker://$R/public/bbx:1"
pm rmi -f "$R/team/bbx:1" >/dev/null 2>&1 || true
expect_ok "podman pull (bob)" pm pull --tls-verify=false --creds bob:bobpw "$R/team/copy:1"
cat_anon=$(curl -s "http://$R/v2/_catalog")
[ "$cat_anon" = '{"repositories":["public/bbx"]}' ] && echo "ok   anonymous catalog hides private repos" ||
  { echo "FAIL anonymous catalog: $cat_anon"; fails=$((fails + 1)); }
cat_bob=$(curl -s -u bob:bobpw "http://$R/v2/_catalog")
[ "$cat_bob" = '{"repositories":["team/bbx","team/copy"]}' ] && echo "ok   bob's catalog" ||
  { echo "FAIL bob's catalog: $cat_bob"; fails=$((fails + 1)); }

echo "== bearer tokens"
head -c 48 /dev/urandom >"$T/token.key"
start --token-key "$T/token.key"
chal=$(curl -s -D - -o /dev/null "http://$R/v2/team/bbx/tags/list" | tr -d '\r' | grep -i '^www-authenticate' || true)
case "$chal" in *Bearer*realm=*service=*scope=*) echo "ok   bearer challenge";; *) echo "FAIL challenge: $chal"; fails=$((fails + 1));; esac
expect_ok "podman push with token (alice)" pm push --tls-verify=false --creds alice:alicepw localhost/bbx:1 "$R/team/tok:1"
expect_ok "skopeo pull with token (bob)" skopeo copy --src-tls-verify=false --src-creds bob:bobpw "docker://$R/team/tok:1" "oci:$T/oci2:tok"
expect_fail "skopeo push with token (bob)" skopeo copy --dest-tls-verify=false --dest-creds bob:bobpw "oci:$T/oci2:tok" "docker://$R/team/bob:2"
expect_ok "skopeo copy registry to registry (alice)" skopeo copy --src-tls-verify=false --dest-tls-verify=false \
  --src-creds alice:alicepw --dest-creds alice:alicepw "docker://$R/team/tok:1" "docker://$R/team/tok2:1"

echo "== TLS"
cd "$T"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=berth-test-ca -keyout ca.key -out ca.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout srv.key -out srv.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >srv.ext
openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile srv.ext -out srv.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=alice -keyout client.key -out client.csr 2>/dev/null
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out client.crt 2>/dev/null
mkdir -p certs clientcerts
cp ca.crt certs/ca.crt
cp ca.crt clientcerts/ca.crt
cp client.crt clientcerts/client.cert
cp client.key clientcerts/client.key
cd - >/dev/null
start --tls-cert "$T/srv.crt" --tls-key "$T/srv.key" --tls-client-ca "$T/ca.crt"
expect_ok "podman push over TLS (verified)" pm push --cert-dir "$T/certs" --creds alice:alicepw localhost/bbx:1 "$R/team/tls:1"
expect_ok "skopeo pull over TLS" skopeo copy --src-cert-dir "$T/certs" --src-creds bob:bobpw "docker://$R/team/tls:1" "oci:$T/oci3:tls"
expect_fail "TLS with unknown CA" skopeo inspect --creds bob:bobpw "docker://$R/team/tls:1"
expect_ok "client certificate login (CN=alice)" skopeo copy --dest-cert-dir "$T/clientcerts" "oci:$T/oci3:tls" "docker://$R/team/cert:1"
expect_fail "no credentials over TLS" skopeo copy --dest-cert-dir "$T/certs" "oci:$T/oci3:tls" "docker://$R/team/anon:1"
pm rmi -f -a >/dev/null 2>&1 || true
expect_ok "podman pull over TLS" pm pull --cert-dir "$T/certs" --creds bob:bobpw "$R/team/tls:1"

if [ "$fails" -ne 0 ]; then echo "$fails checks failed"; tail -20 "$T/err"; exit 1; fi
echo "interop: all checks passed"
