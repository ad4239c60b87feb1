#!/usr/bin/env bash
# Benchmark: unpack a ~250 MB two-layer gzip OCI image to a plain rootfs,
# berth (snapshot::unpack_flat via berth-unpack-test) vs `umoci unpack`, same
# run, same image, same disk. Prints both medians and the ratio.
#
#   bench/unpack/run.sh [BIN_DIR]      (default: $BERTH_BIN or <repo>/build/bin)
#
# The image is built once with umoci from local files (layer 1: parts of /usr;
# layer 2: random + compressible data) and cached in $BERTH_CACHE.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=${1:-${BERTH_BIN:-$repo/build/bin}}
tool=$bin/berth-unpack-test
[ -x "$tool" ] || { echo "bench/unpack: build it first: ninja -C <build> berth-unpack-test (looked in $bin)"; exit 1; }
command -v umoci >/dev/null || { echo "bench/unpack: umoci not installed"; exit 1; }
runs=${RUNS:-5}
cache=${BERTH_CACHE:-/var/cache/berth-test}/bench-unpack-v1
img=$cache/img

if [ ! -f "$cache/.done" ]; then
  echo "bench/unpack: building the benchmark image in $cache (once)..."
  rm -rf "$cache" && mkdir -p "$cache"
  b=$(mktemp -d /tmp/berth-bench-build.XXXXXX)
  trap 'rm -rf "$b"' EXIT
  umoci init --layout "$img" && umoci new --image "$img:bench"
  umoci unpack --image "$img:bench" "$b/b1" >/dev/null
  r=$b/b1/rootfs
  mkdir -p "$r/usr/lib" "$r/usr/share"
  for d in /usr/lib/python3.11 /usr/share/perl /usr/share/zoneinfo /usr/sbin /usr/share/man; do
    [ -d "$d" ] && cp -a "$d" "$r$(dirname "$d")/"
  done
  umoci repack --image "$img:bench" "$b/b1"
  rm -rf "$b/b1"
  umoci unpack --image "$img:bench" "$b/b2" >/dev/null
  r=$b/b2/rootfs
  mkdir -p "$r/data"
  for i in $(seq 1 8); do head -c 5000000 /dev/urandom > "$r/data/random$i.bin"; done
  for i in $(seq 1 4); do head -c 3750000 /dev/urandom | base64 > "$r/data/text$i.txt"; done
  rm -rf "$r/usr/share/man/man8"   # whiteouts
  umoci repack --image "$img:bench" "$b/b2"
  rm -rf "$b"
  trap - EXIT
  touch "$cache/.done"
fi

# BENCH_DIR picks the filesystem unpacked onto (e.g. a tmpfs to leave the disk out).
work=$(mktemp -d "${BENCH_DIR:-/tmp}/berth-bench-unpack.XXXXXX")
trap 'rm -rf "$work"' EXIT
size=$(du -sb "$img/blobs" | cut -f1)
"$tool" "$img:bench" "$work/probe"
tree=$(du -sb "$work/probe" | cut -f1)
files=$(find "$work/probe" | wc -l)
rm -rf "$work/probe"
echo "image: $((size / 1000000)) MB compressed, $((tree / 1000000)) MB / $files entries unpacked"
echo "target fs: $(df -T "$work" | awk 'NR==2{print $2}')"
echo "machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg)"

berth_cmd="$tool $img:bench $work/berth"
umoci_cmd="umoci unpack --image $img:bench $work/umoci"
if command -v hyperfine >/dev/null; then
  hyperfine --style basic --warmup 1 --runs "$runs" \
    --prepare "rm -rf $work/berth $work/umoci; sync" \
    -n berth "$berth_cmd" -n umoci "$umoci_cmd" --export-json "$work/h.json" >&2
  python3 - "$work/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
b, u = r["berth"]["median"], r["umoci"]["median"]
print(f"berth unpack: median {b:.3f} s   umoci unpack: median {u:.3f} s   ratio umoci/berth = {u/b:.2f}x")
# On a shared, CPU-saturated host wall time mostly measures the run queue;
# CPU time (user + system) is what each tool actually costs.
cb = r["berth"]["user"] + r["berth"]["system"]
cu = r["umoci"]["user"] + r["umoci"]["system"]
print(f"cpu time (user+sys, mean): berth {cb:.2f} s   umoci {cu:.2f} s   ratio umoci/berth = {cu/cb:.2f}x")
PY
else
  med() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  for name in berth umoci; do
    cmd=${name}_cmd
    for i in $(seq 1 "$runs"); do
      rm -rf "$work/berth" "$work/umoci"; sync
      s=$(date +%s.%N); ${!cmd} >/dev/null 2>&1; e=$(date +%s.%N)
      echo "$e - $s" | bc
    done | med > "$work/$name.med"
  done
  b=$(cat "$work/berth.med") u=$(cat "$work/umoci.med")
  echo "berth unpack: median $b s   umoci unpack: median $u s   ratio umoci/berth = $(echo "scale=2; $u / $b" | bc)x"
fi
