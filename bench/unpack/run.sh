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
# FRESH_FS=1: every run unpacks onto a new ext4 (mkfs defaults, journal on) on a
# loop file in BENCH_DIR. A long-used ext4 without a journal (this machine's
# root) skips every inode deleted in the last 5-300 s when it allocates one
# (ext4 recently_deleted()), so back-to-back unpacks of 28k files measure the
# previous run's deletions more than either tool; a fresh fs measures the tool.
work=$(mktemp -d "${BENCH_DIR:-/tmp}/berth-bench-unpack.XXXXXX")
fresh=${FRESH_FS:-0}
trap 'mountpoint -q "$work/mnt" && umount "$work/mnt"; rm -rf "$work"' EXIT
target() {  # prints the directory a run unpacks into (a fresh fs when FRESH_FS=1)
  if [ "$fresh" = 1 ]; then
    mountpoint -q "$work/mnt" && umount "$work/mnt"
    rm -f "$work/fs.img" && truncate -s 3G "$work/fs.img" && mkfs.ext4 -q -F "$work/fs.img" >/dev/null
    mkdir -p "$work/mnt" && mount -o loop "$work/fs.img" "$work/mnt" && echo "$work/mnt"
  else
    rm -rf "$work/berth" "$work/umoci"; echo "$work"
  fi
}
size=$(du -sb "$img/blobs" | cut -f1)
"$tool" "$img:bench" "$work/probe"
tree=$(du -sb "$work/probe" | cut -f1)
files=$(find "$work/probe" | wc -l)
rm -rf "$work/probe"
echo "image: $((size / 1000000)) MB compressed, $((tree / 1000000)) MB / $files entries unpacked"
echo "target fs: $(df -T "$work" | awk 'NR==2{print $2}')$([ "$fresh" = 1 ] && echo ", a fresh ext4 on a loop file per run")"
echo "machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ), load $(cut -d' ' -f1-3 /proc/loadavg)"

# Interleaved (berth, umoci, berth, ...) so load changes hit both alike;
# wall time and CPU time (user + system) of each run.
for i in $(seq 1 "$runs"); do
  for name in berth umoci; do
    d=$(target)
    sync
    if [ "$name" = berth ]; then cmd=("$tool" "$img:bench" "$d/berth"); else cmd=(umoci unpack --image "$img:bench" "$d/umoci"); fi
    /usr/bin/time -f "$name %e %U %S" -a -o "$work/times" "${cmd[@]}" >/dev/null 2>&1
  done
done
python3 - "$work/times" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
wall = {n: statistics.median(float(r[1]) for r in rows if r[0] == n) for n in ("berth", "umoci")}
cpu = {n: statistics.median(float(r[2]) + float(r[3]) for r in rows if r[0] == n) for n in ("berth", "umoci")}
print(f"berth unpack: median {wall['berth']:.3f} s   umoci unpack: median {wall['umoci']:.3f} s   ratio umoci/berth = {wall['umoci']/wall['berth']:.2f}x")
print(f"cpu time (user+sys, median): berth {cpu['berth']:.2f} s   umoci {cpu['umoci']:.2f} s   ratio umoci/berth = {cpu['umoci']/cpu['berth']:.2f}x")
PY
