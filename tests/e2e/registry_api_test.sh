#!/usr/bin/env bash
# berth-registry over real HTTP, driven by curl: every endpoint of the
# distribution-spec and its error codes, keep-alive, Expect: 100-continue,
# chunked bodies, limits and the access log.
set -euo pipefail
BERTH_BIN=${BERTH_BIN:-$(pwd)/build/bin}
T=$(mktemp -d /tmp/berth-reg-api.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT

"$BERTH_BIN/berth-registry" serve --addr 127.0.0.1:0 --root "$T/root" --access-log "$T/access.log" >"$T/out" 2>"$T/err" &
PID=$!
for _ in $(seq 100); do grep -q listening "$T/out" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/listening/{print $NF}' "$T/out")
B=http://127.0.0.1:$PORT
fails=0
check() { # name expected actual
  if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: expected '$2', got '$3'"; fails=$((fails + 1)); fi
}
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
code() { curl -s "$@" | sed -n 's/.*"code":"\([A-Z_]*\)".*/\1/p'; }
hdr() { # header-name curl-args...
  local h=$1; shift
  curl -s -D - -o /dev/null "$@" | tr -d '\r' | awk -v h="$(echo "$h" | tr A-Z a-z)" 'tolower($0) ~ "^"h": " {sub(/^[^:]*: /,""); print}'
}
sha() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }

check "GET /v2/" 200 "$(status $B/v2/)"
check "API version header" "registry/2.0" "$(hdr Docker-Distribution-API-Version $B/v2/)"

head -c 3000000 /dev/urandom >"$T/layer"
L=$(sha "$T/layer")
echo '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$T/config"
C=$(sha "$T/config")

# Monolithic POST (curl sends Expect: 100-continue for large bodies).
check "monolithic push" 201 "$(status -X POST --data-binary @"$T/layer" "$B/v2/e2e/app/blobs/uploads/?digest=$L")"
check "monolithic wrong digest" DIGEST_INVALID "$(code -X POST --data-binary @"$T/config" "$B/v2/e2e/app/blobs/uploads/?digest=$L")"
check "blob GET verifies" "$L" "sha256:$(curl -s $B/v2/e2e/app/blobs/$L | sha256sum | cut -d' ' -f1)"
check "blob HEAD length" 3000000 "$(hdr Content-Length -I $B/v2/e2e/app/blobs/$L)"
check "blob range 206" 206 "$(status -H 'Range: bytes=100-199' $B/v2/e2e/app/blobs/$L)"
check "blob range bytes" 100 "$(curl -s -H 'Range: bytes=100-199' $B/v2/e2e/app/blobs/$L | wc -c)"
check "blob range 416" 416 "$(status -H 'Range: bytes=3000000-' $B/v2/e2e/app/blobs/$L)"
check "blob unknown" BLOB_UNKNOWN "$(code $B/v2/e2e/other/blobs/$L)"
check "digest invalid" DIGEST_INVALID "$(code $B/v2/e2e/app/blobs/sha256:zz)"
check "name invalid" NAME_INVALID "$(code $B/v2/E2E/tags/list)"

# Session upload: POST, two PATCHes (one out of order), status, PUT.
LOC=$(hdr Location -X POST $B/v2/e2e/app/blobs/uploads/)
check "session location" 1 "$(echo "$LOC" | grep -c '^/v2/e2e/app/blobs/uploads/')"
head -c 1000 "$T/config" >"$T/c1"
SIZE=$(stat -c %s "$T/config")
check "PATCH chunk" 202 "$(status -X PATCH --data-binary @"$T/config" -H "Content-Range: 0-$((SIZE - 1))" -H 'Content-Type: application/octet-stream' "$B$LOC")"
check "PATCH out of order" 416 "$(status -X PATCH --data-binary @"$T/config" -H "Content-Range: 5-$((SIZE + 4))" "$B$LOC")"
check "upload status" 204 "$(status "$B$LOC")"
check "upload status range" "0-$((SIZE - 1))" "$(hdr Range "$B$LOC")"
check "PUT completes" 201 "$(status -X PUT "$B$LOC?digest=$C")"
check "completed session gone" BLOB_UPLOAD_UNKNOWN "$(code "$B$LOC")"
# Chunked transfer encoding on PATCH.
LOC=$(hdr Location -X POST $B/v2/e2e/app/blobs/uploads/)
check "chunked PATCH" 202 "$(status -X PATCH -H 'Transfer-Encoding: chunked' --data-binary @"$T/layer" "$B$LOC")"
check "PUT chunked session" 201 "$(status -X PUT "$B$LOC?digest=$L")"
LOC=$(hdr Location -X POST $B/v2/e2e/app/blobs/uploads/)
check "DELETE upload" 204 "$(status -X DELETE "$B$LOC")"
check "mount" 201 "$(status -X POST "$B/v2/e2e/mounted/blobs/uploads/?mount=$L&from=e2e/app")"
check "mount fallback" 202 "$(status -X POST "$B/v2/e2e/mounted/blobs/uploads/?mount=$L&from=e2e/nothing")"

cat >"$T/manifest" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$C","size":$SIZE},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"$L","size":3000000}]}
JSON
M=$(sha "$T/manifest")
MT='Content-Type: application/vnd.oci.image.manifest.v1+json'
check "manifest PUT" 201 "$(status -X PUT -H "$MT" --data-binary @"$T/manifest" $B/v2/e2e/app/manifests/v1)"
check "manifest digest header" "$M" "$(hdr Docker-Content-Digest -X PUT -H "$MT" --data-binary @"$T/manifest" $B/v2/e2e/app/manifests/v1)"
check "manifest GET type" "application/vnd.oci.image.manifest.v1+json" "$(hdr Content-Type $B/v2/e2e/app/manifests/v1)"
check "manifest HEAD by digest" 200 "$(status -I $B/v2/e2e/app/manifests/$M)"
check "manifest blob unknown" MANIFEST_BLOB_UNKNOWN "$(code -X PUT -H "$MT" --data-binary @"$T/manifest" $B/v2/e2e/elsewhere/manifests/v1)"
check "manifest invalid" MANIFEST_INVALID "$(code -X PUT -H "$MT" --data-binary '{"schemaVersion":2' $B/v2/e2e/app/manifests/v2)"
check "manifest unknown" MANIFEST_UNKNOWN "$(code $B/v2/e2e/app/manifests/nope)"
check "name unknown" NAME_UNKNOWN "$(code $B/v2/e2e/never/manifests/v1)"
head -c 5000000 /dev/zero | tr '\0' ' ' >"$T/huge"
check "manifest too large" 413 "$(status -X PUT -H "$MT" --data-binary @"$T/huge" $B/v2/e2e/app/manifests/huge)"
for t in b a c; do curl -s -o /dev/null -X PUT -H "$MT" --data-binary @"$T/manifest" $B/v2/e2e/app/manifests/$t; done
check "tags list" '{"name":"e2e/app","tags":["a","b"]}' "$(curl -s "$B/v2/e2e/app/tags/list?n=2")"
check "tags Link" '</v2/e2e/app/tags/list?n=2&last=b>; rel="next"' "$(hdr Link "$B/v2/e2e/app/tags/list?n=2")"
check "tags last" '{"name":"e2e/app","tags":["c","v1"]}' "$(curl -s "$B/v2/e2e/app/tags/list?n=2&last=b")"
check "catalog" '{"repositories":["e2e/app"]}' "$(curl -s "$B/v2/_catalog?n=1")"

# Referrers.
cat >"$T/sig" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/x-sig","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$C","size":$SIZE},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$M","size":$(stat -c %s "$T/manifest")}}
JSON
S=$(sha "$T/sig")
check "OCI-Subject" "$M" "$(hdr OCI-Subject -X PUT -H "$MT" --data-binary @"$T/sig" $B/v2/e2e/app/manifests/$S)"
check "referrers" "$S" "$(curl -s $B/v2/e2e/app/referrers/$M | sed -n 's/.*"digest":"\([^"]*\)".*/\1/p')"
check "referrers filter" artifactType "$(hdr OCI-Filters-Applied "$B/v2/e2e/app/referrers/$M?artifactType=application/x-none")"

check "delete tag" 202 "$(status -X DELETE $B/v2/e2e/app/manifests/a)"
check "deleted tag gone" MANIFEST_UNKNOWN "$(code $B/v2/e2e/app/manifests/a)"
check "delete manifest" 202 "$(status -X DELETE $B/v2/e2e/app/manifests/$M)"
check "delete blob" 202 "$(status -X DELETE $B/v2/e2e/mounted/blobs/$L)"
check "deleted blob gone" 404 "$(status $B/v2/e2e/mounted/blobs/$L)"

# Keep-alive: several requests on one connection.
check "keep-alive" "200200200" "$(curl -s -o /dev/null -o /dev/null -o /dev/null -w '%{http_code}' $B/v2/ $B/v2/ $B/v2/)"
# Oversized header: 431 and the server survives.
check "header limit" 431 "$(status -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" $B/v2/)"
check "still serving" 200 "$(status $B/v2/)"
check "access log JSON" 1 "$(grep -c '"path":"/v2/e2e/app/manifests/v1","remote":"127.0.0.1:[0-9]*","status":200' "$T/access.log" | awk '{print ($1>0)}')"

if [ "$fails" -ne 0 ]; then
  echo "$fails checks failed"; cat "$T/err"; exit 1
fi
echo "all checks passed"
