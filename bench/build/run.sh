#!/usr/bin/env bash
# Benchmark: `berth build` vs `podman build`, same run, same machine, same
# Debian minbase base image (debootstrap, cached in $BERTH_CACHE), each engine
# on its own private store:
#   1. full build of bench/build/app (apt-get install over --network host,
#      useradd, COPY, RUN) with --no-cache: every step executes;
#   2. no-change rebuild: every step is a cache hit;
#   3. rebuild after editing one context file (src/data.txt, read by the
#      second-to-last COPY): only the last steps run again;
#   4. image size of bench/build/writedelete (a 50 MB file written by one step
#      and deleted by the next): berth layered, berth --flat, podman.
# Runs alternate berth / podman so both see the same machine load. Prints the
# median of each measure and the ratio podman / berth.
#
#   bench/build/run.sh [BIN_DIR]      (default: $BERTH_BIN or <repo>/build/bin)
#   RUNS=5 (rebuilds), COLD_RUNS=3 (full builds)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export BERTH_BIN=${1:-${BERTH_BIN:-$repo/build/bin}}
export BERTH_SRC=$repo BERTH_CACHE=${BERTH_CACHE:-/var/cache/berth-test}
[ -x "$BERTH_BIN/berth" ] || { echo "bench/build: build it first: ninja -C <build> berth berth-monitor berth-init berth-runtime (looked in $BERTH_BIN)"; exit 1; }
command -v podman >/dev/null || { echo "bench/build: podman not installed"; exit 1; }
runs=${RUNS:-5}
cold_runs=${COLD_RUNS:-3}

set +e  # bundle.sh's helpers report failures through return codes
source "$repo/tests/e2e/lib/build.sh"
set -e
build_setup
build_import_minbase
ctx=$(e2e_tmpdir)/app
cp -a "$here/app" "$ctx"

# ms CMD...: wall time of CMD in milliseconds (its output discarded; a failing
# command aborts the bench: a time for a failed build means nothing).
ms() {
  local s e log
  log=$(e2e_tmpdir)/cmd.log
  s=$(date +%s%N)
  "$@" >"$log" 2>&1 || { echo "bench/build: failed: $*" >&2; tail -20 "$log" >&2; exit 1; }
  e=$(date +%s%N)
  echo $(((e - s) / 1000000))
}
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
ratio() { awk -v p="$1" -v b="$2" 'BEGIN {printf (b > 0 ? "%.1fx" : "n/a"), (b > 0 ? p / b : 0)}'; }

bb_app() { b build -t localhost/bench-app:latest --network host "$@" "$ctx"; }
pm_app() { pm build --pull=never --format docker -t localhost/bench-app:latest --network host "$@" "$ctx"; }

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GB, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "podman: $(podman version --format '{{.Client.Version}}') (buildah $(buildah --version | awk '{print $3}')), storage overlay"

: >"$PMDIR/cold.b"; : >"$PMDIR/cold.p"
for ((i = 0; i < cold_runs; i++)); do
  ms bb_app --no-cache >>"$PMDIR/cold.b"
  ms pm_app --no-cache >>"$PMDIR/cold.p"
done
: >"$PMDIR/nochange.b"; : >"$PMDIR/nochange.p"
for ((i = 0; i < runs; i++)); do
  ms bb_app >>"$PMDIR/nochange.b"
  ms pm_app >>"$PMDIR/nochange.p"
done
: >"$PMDIR/edit.b"; : >"$PMDIR/edit.p"
for ((i = 0; i < runs; i++)); do
  echo "berth edit $i" >>"$ctx/src/data.txt"
  ms bb_app >>"$PMDIR/edit.b"
  echo "podman edit $i" >>"$ctx/src/data.txt"
  ms pm_app >>"$PMDIR/edit.p"
done

row() {  # row LABEL FILE-STEM
  local b p
  b=$(median <"$PMDIR/$2.b") p=$(median <"$PMDIR/$2.p")
  printf '%-34s %9s ms %9s ms %8s   (berth runs: %s)\n' "$1" "$b" "$p" "$(ratio "$p" "$b")" "$(tr '\n' ' ' <"$PMDIR/$2.b")"
}
echo
printf '%-34s %12s %12s %8s\n' "median wall time" berth podman "podman/berth"
row "full build (--no-cache, $cold_runs runs)" cold
row "no-change rebuild ($runs runs)" nochange
row "rebuild after editing 1 file" edit

wd=$here/writedelete
b build -q -t localhost/bench-wd:layered --network none "$wd" >/dev/null
b build -q -t localhost/bench-wd:flat --flat --network none "$wd" >/dev/null
pm build --pull=never -q --format docker -t localhost/bench-wd:latest --network none "$wd" >/dev/null 2>&1
mb() { awk -v s="$1" 'BEGIN {printf "%.1f MB", s / 1e6}'; }
base=$(b inspect --format '{{.Size}}' "$BUILD_MINBASE" 2>/dev/null || b inspect "$BUILD_MINBASE" | jq '.[0].Size')
lay=$(b inspect "localhost/bench-wd:layered" | jq '.[0].Size')
flat=$(b inspect "localhost/bench-wd:flat" | jq '.[0].Size')
pms=$(pm image inspect --format '{{.Size}}' localhost/bench-wd:latest)
echo
echo "write-then-delete 50 MB image size (uncompressed layers; base minbase $(mb "$base")):"
echo "  berth layered $(mb "$lay"), berth --flat $(mb "$flat"), podman $(mb "$pms")"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
