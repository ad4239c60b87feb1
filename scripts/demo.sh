#!/usr/bin/env bash
# The demo: installs dependencies, builds berth, then shows the pieces working
# together: import a busybox image, list/save/load/unpack it, run it with
# berth-runtime and the engine, build an image from a Dockerfile (and rebuild
# it from the cache), push it to berth-registry, pull it back into a new
# store and run it there.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build berth berth-monitor berth-init berth-runtime berth-registry
B=$PWD/build/bin
out=$(mktemp -d /tmp/berth-demo.XXXXXX)
export BERTH_ROOT=$out/store
reg_pid=
cleanup() {
  [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null
  "$B/berth-runtime" --root "$out/rt" delete -f demo >/dev/null 2>&1 || true
  "$B/berth" rm -f $("$B/berth" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  rm -rf "$out"
}
trap cleanup EXIT
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

# A busybox rootfs from Debian's busybox-static.
rootfs=$out/rootfs; mkdir -p "$rootfs/bin" "$rootfs/etc"
cp /bin/busybox "$rootfs/bin/busybox"
for a in sh ls cat echo true uname; do ln -s busybox "$rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$rootfs/etc/passwd"
tar -C "$rootfs" -czf "$out/busybox.tar.gz" .

echo "== store: import, list, save, load elsewhere, unpack"
step "$B/berth" import --change 'CMD ["/bin/echo","hello from berth"]' "$out/busybox.tar.gz" demo/busybox:latest
step "$B/berth" images
step "$B/berth" save -o "$out/busybox.tar" demo/busybox:latest
step env BERTH_ROOT="$out/other-store" "$B/berth" load -i "$out/busybox.tar"
step env BERTH_ROOT="$out/other-store" "$B/berth" images
step "$B/berth" unpack demo/busybox:latest "$out/bundle/rootfs"

echo; echo "== runtime: run the unpacked image with berth-runtime (OCI bundle)"
(cd "$out/bundle" && "$B/berth-runtime" spec && python3 - <<'PY'
import json; c = json.load(open("config.json"))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/echo", "hello from berth-runtime"]
json.dump(c, open("config.json", "w"))
PY
)
step "$B/berth-runtime" --root "$out/rt" run --bundle "$out/bundle" demo

echo; echo "== engine: containers from the stored image, no daemon"
step "$B/berth" run --rm --network none demo/busybox:latest
step "$B/berth" run -d --name web --network none demo/busybox:latest sh -c 'echo started; sleep 300'
step "$B/berth" ps
step "$B/berth" exec web uname -s
step "$B/berth" logs web
step "$B/berth" stop -t 1 web
step "$B/berth" ps -a
step "$B/berth" commit --change 'CMD ["cat","/etc/passwd"]' web demo/committed
step "$B/berth" rm web
step "$B/berth" run --rm --network none demo/committed
step "$B/berth" events --since 1m --until 0s

echo; echo "== build: a Dockerfile to an image, layered and cached; then flat"
mkdir -p "$out/ctx"
echo "hello from a berth build" > "$out/ctx/greeting.txt"
echo "*.log" > "$out/ctx/.dockerignore"
echo "not shipped" > "$out/ctx/debug.log"
cat > "$out/ctx/Dockerfile" <<'DOCKERFILE'
FROM demo/busybox:latest AS make
ARG WHO=world
RUN echo "built for $WHO" > /built.txt && mkdir -p /tmp && echo scratch > /tmp/big && rm /tmp/big

FROM demo/busybox:latest
COPY --from=make /built.txt /srv/
COPY greeting.txt /srv/
CMD ["cat", "/srv/greeting.txt", "/srv/built.txt"]
DOCKERFILE
step "$B/berth" build -t demo/app --network none "$out/ctx"
step "$B/berth" build -t demo/app --network none "$out/ctx"
step "$B/berth" build -t demo/app-flat --flat --network none "$out/ctx"
step "$B/berth" run --rm --network none demo/app
step "$B/berth" images

echo; echo "== registry: push to berth-registry, pull into a fresh store"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$B/berth-registry" serve --addr "127.0.0.1:$port" --root "$out/registry" >"$out/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
step "$B/berth" push --tls-verify=false demo/busybox:latest "127.0.0.1:$port/demo/busybox:latest"
step curl -s "http://127.0.0.1:$port/v2/_catalog"; echo
step env BERTH_ROOT="$out/pulled" "$B/berth" pull --tls-verify=false "127.0.0.1:$port/demo/busybox:latest"
step env BERTH_ROOT="$out/pulled" "$B/berth" images
step "$B/berth" push --tls-verify=false demo/app:latest "127.0.0.1:$port/demo/app:latest"
step env BERTH_ROOT="$out/pulled" "$B/berth" pull --tls-verify=false "127.0.0.1:$port/demo/app:latest"
step env BERTH_ROOT="$out/pulled" "$B/berth" run --rm --network none "127.0.0.1:$port/demo/app:latest"
echo; echo "demo: ok"
