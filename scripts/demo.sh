#!/usr/bin/env bash
# The demo: installs dependencies, builds berth, and shows what works so far.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build berth berth-runtime berth-registry 2>/dev/null || ninja -C build
B=$PWD/build/bin
export BERTH_ROOT=$(mktemp -d /tmp/berth-demo.XXXXXX)
trap 'rm -rf "$BERTH_ROOT" /tmp/berth-demo-out.*' EXIT
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
[ -x "$B/berth" ] || { echo "berth binary not built yet"; exit 0; }
out=$(mktemp -d /tmp/berth-demo-out.XXXXXX)
# A busybox rootfs from Debian's busybox-static.
rootfs=$out/rootfs; mkdir -p "$rootfs/bin"
cp /bin/busybox "$rootfs/bin/busybox"
for a in sh ls cat echo true; do ln -s busybox "$rootfs/bin/$a"; done
tar -C "$rootfs" -czf "$out/busybox.tar.gz" .
step "$B/berth" import "$out/busybox.tar.gz" demo/busybox:latest --change 'CMD ["/bin/sh"]'
step "$B/berth" images
step "$B/berth" save -o "$out/busybox.tar" demo/busybox:latest
step env BERTH_ROOT="$out/other-store" "$B/berth" load -i "$out/busybox.tar"
step env BERTH_ROOT="$out/other-store" "$B/berth" images
step env BERTH_ROOT="$out/other-store" "$B/berth" unpack demo/busybox:latest "$out/unpacked"
step ls -l "$out/unpacked/bin"
