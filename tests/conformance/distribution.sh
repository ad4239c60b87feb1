#!/usr/bin/env bash
# Runs the OCI distribution-spec conformance suite (v1.1.0) against
# berth-registry and against docker-registry (distribution 2.8) in the same run.
#
#   tests/conformance/distribution.sh DISTRIBUTION_SPEC_CHECKOUT REGGIE_CHECKOUT [BUILD_DIR]
#
# DISTRIBUTION_SPEC_CHECKOUT: a git checkout of opencontainers/distribution-spec
# (its v1.1.0 conformance/ is built); REGGIE_CHECKOUT: a git checkout of
# bloodorangeio/reggie (v0.6.1), the suite's HTTP client, which Debian does not
# package. The other Go dependencies come from Debian (no network):
#   apt-get install -t bookworm-backports golang-1.23-go golang-github-onsi-ginkgo-v2-dev \
#     golang-gomega-dev golang-github-google-uuid-dev golang-github-opencontainers-go-digest-dev \
#     golang-github-go-resty-resty-dev golang-github-asaskevich-govalidator-dev \
#     golang-github-mitchellh-mapstructure-dev
# Everything is built and run under a temp dir; nothing fetched enters the repo.
set -euo pipefail
SPEC=${1:?usage: distribution.sh DISTRIBUTION_SPEC_CHECKOUT REGGIE_CHECKOUT [BUILD_DIR]}
REGGIE=${2:?usage: distribution.sh DISTRIBUTION_SPEC_CHECKOUT REGGIE_CHECKOUT [BUILD_DIR]}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${3:-$SRC/build}
GO=/usr/lib/go-1.23/bin/go
[ -x "$GO" ] || GO=$(command -v go)
T=$(mktemp -d /tmp/berth-conformance.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT

# Source trees into a private GOPATH (GOPATH mode: no module downloads).
G=$T/gopath/src/github.com
mkdir -p "$G/opencontainers/distribution-spec" "$G/bloodorangeio/reggie"
export_tree() { # checkout ref subdir dest
  if git -C "$1" rev-parse --git-dir >/dev/null 2>&1 && git -C "$1" rev-parse -q --verify "$2^{commit}" >/dev/null; then
    git -C "$1" archive "$2" $3 | tar -x -C "$4"
  else
    cp -r "$1/${3:-.}" "$4/"
  fi
}
export_tree "$SPEC" v1.1.0 conformance "$G/opencontainers/distribution-spec"
export_tree "$REGGIE" v0.6.1 "" "$G/bloodorangeio/reggie"
(cd "$G/opencontainers/distribution-spec/conformance" &&
  GO111MODULE=off GOPATH=$T/gopath:/usr/share/gocode GOCACHE=$T/gocache GOFLAGS= \
    "$GO" test -c -o "$T/conformance.test" .)

run_suite() { # name url
  mkdir -p "$T/report-$1"
  (cd "$T/report-$1" &&
    OCI_ROOT_URL=$2 OCI_NAMESPACE=conformance/test OCI_CROSSMOUNT_NAMESPACE=conformance/other \
    OCI_TEST_PULL=1 OCI_TEST_PUSH=1 OCI_TEST_CONTENT_DISCOVERY=1 OCI_TEST_CONTENT_MANAGEMENT=1 \
    OCI_AUTOMATIC_CROSSMOUNT=0 OCI_HIDE_SKIPPED_WORKFLOWS=0 OCI_REPORT_DIR="$T/report-$1" \
      "$T/conformance.test" -ginkgo.no-color >"$T/$1.log" 2>&1) || true
  local summary
  summary=$(grep -E '[0-9]+ Passed \| [0-9]+ Failed' "$T/$1.log" | tail -1)
  printf '%-14s %s\n' "$1" "${summary:-suite did not finish (see log)}"
  grep -E '^\s*\[FAIL\]' "$T/$1.log" | sed 's/^/    /' | sort -u | head -40 || true
}

"$BUILD/bin/berth-registry" serve --addr 127.0.0.1:0 --root "$T/berth" --access-log off >"$T/berth.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q listening "$T/berth.out" 2>/dev/null && break; sleep 0.05; done
BURL=http://127.0.0.1:$(awk '/listening/{print $NF}' "$T/berth.out")

DPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$T/dist.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $T/dist}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$DPORT}
YAML
docker-registry serve "$T/dist.yml" >"$T/dist.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do curl -sf -o /dev/null "http://127.0.0.1:$DPORT/v2/" && break; sleep 0.05; done

echo "OCI distribution-spec conformance v1.1.0, $(date -u +%FT%TZ)"
run_suite berth "$BURL"
run_suite distribution "http://127.0.0.1:$DPORT"
