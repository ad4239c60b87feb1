#!/usr/bin/env bash
# Rootless berth (docs/engine-rootless.md): a throwaway unprivileged user with
# /etc/subuid and /etc/subgid ranges imports an image, then run / ps / logs /
# exec / stop / rm work as that user; the container's root is the user's uid on
# the host, the container's uid N is subuid start + N - 1; --network none and
# (with slirp4netns) the default network work; `rm` still cleans up once the
# namespace holder is gone. Everything the user made is removed at exit: its
# processes (by pid), its home and store, its run dir, our subuid/subgid lines.
# Needs root (to create the user), uidmap, busybox-static, jq.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/bundle.sh"
source "$BERTH_SRC/tests/e2e/lib/image_fixtures.sh"
source "$BERTH_SRC/tests/e2e/lib/rootless.sh"

why=$(rootless_skip_reason)
if [ -n "$why" ]; then echo "# skip: $why"; exit 0; fi

T=$(e2e_tmpdir)
rootless_user_setup || exit 1
U=$RL_USER
START=$RL_START
UID_=$RL_UID
H=$RL_HOME
# berth's run dir without XDG_RUNTIME_DIR (removed once the user's processes are gone).
rootless_cleanup_path "/tmp/berth-run-$UID_"
STORE=$H/.local/share/berth
RUN=/tmp/berth-run-$UID_

# rb ARGS...: berth as the user, from its home, with neither XDG_RUNTIME_DIR
# nor BERTH_* set (the defaults are what is tested).
rb() {
  (cd "$H" && runuser -u "$U" -- env -u XDG_RUNTIME_DIR -u BERTH_ROOT -u BERTH_RUN HOME="$H" \
    "$BERTH_BIN/berth" "$@")
}
# slirp4netns processes of the user that are not zombies (a reparented
# process may wait a while for its reaper).
live_slirps() { ps -o stat=,comm= -u "$UID_" | awk '$1 !~ /^Z/ && $2 == "slirp4netns"' | wc -l; }
# The user's pause process (holds the user and mount namespaces).
pause_pid() { cat "$RUN/berth/pause.pid" 2>/dev/null; }

# --- image import as the user -------------------------------------------------
mkdir -p "$T/rootfs"
fixture_rootfs "$T/rootfs"
mkdir -p "$T/rootfs/proc" "$T/rootfs/sys" "$T/rootfs/dev" "$T/rootfs/var"
for a in $(/bin/busybox --list); do [ -e "$T/rootfs/bin/$a" ] || ln -s busybox "$T/rootfs/bin/$a"; done
mkdir -p "$T/rootfs/home/u1000" && chown 1000:1000 "$T/rootfs/home/u1000"
tar -C "$T/rootfs" -cf "$H/rootfs.tar" .
chown "$U" "$H/rootfs.tar"
rb import --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["sh"]' "$H/rootfs.tar" bb >/dev/null 2>"$T/err"
expect_eq "import as the user" 0 $?
[ -s "$T/err" ] && sed 's/^/# /' "$T/err"
check "the store is under the user's home" test -d "$STORE/snapshots"
check "the run dir is private to the user" bash -c "[ \"\$(stat -c %u:%a '$RUN')\" = '$UID_:700' ]"
check "a pause process holds the namespaces" bash -c "[ \"\$(cat /proc/$(pause_pid)/comm 2>/dev/null)\" = berth-pause ]"
expect_eq "ps shows it as berth-pause" "berth-pause" "$(ps -o args= -p "$(pause_pid)" 2>&1)"

# --- run --------------------------------------------------------------------
expect_eq "run --rm echo" "hi" "$(rb run --rm --network none bb echo hi 2>"$T/err")"
[ -s "$T/err" ] && sed 's/^/# /' "$T/err"
# (snapshots are unpacked by the first run) Layer files owned by the image's root are the user's on the host; uid 1000 is START+999.
owner=$(find "$STORE/snapshots" -path '*/bin/busybox' -printf '%U\n' | head -1)
expect_eq "image root's files belong to the user on the host" "$UID_" "$owner"
owner=$(find "$STORE/snapshots" -path '*/home/u1000' -printf '%U\n' | head -1)
expect_eq "image uid 1000 is subuid start+999 on the host" "$((START + 999))" "$owner"
expect_eq "id inside is uid 0" "uid=0(root) gid=0(root)" "$(rb run --rm --network none bb id 2>&1 | sed 's/ groups=.*//')"
expect_eq "run -u 65534 (a subordinate uid)" "65534:65534" "$(rb run --rm --network none -u 65534:65534 bb sh -c 'echo $(id -u):$(id -g)' 2>&1)"
rb run --rm --network none bb sh -c 'exit 3'; expect_eq "exit code passes through" 3 $?
expect_eq "--network none: only lo" "lo" "$(rb run --rm --network none bb sh -c 'ls /sys/class/net' 2>&1 | tr '\n' ' ' | sed 's/ $//')"
expect_eq "--network host works" "ok" "$(rb run --rm --network host bb echo ok 2>&1)"
rb run --rm --network none --memory 64m bb true 2>"$T/err"; rc=$?
check "--memory fails rootless (no delegated cgroup)" [ $rc -ne 0 ]
check "--memory says why" grep -q 'rootless: resource limits need a cgroup delegated to the user' "$T/err"

# --- run -d, ps, logs, exec, files, stop, rm -----------------------------------
id=$(rb run -d --network none --name d1 bb sh -c 'echo started; touch /root/by-root; mkdir /tmp/x; chown 1000:1000 /tmp/x; exec sleep 1000' 2>"$T/err")
check "run -d prints an id" bash -c "[[ '$id' =~ ^[0-9a-f]{64}$ ]]"
[ -s "$T/err" ] && sed 's/^/# /' "$T/err"
for _ in $(seq 100); do rb logs d1 2>/dev/null | grep -q started && break; sleep 0.1; done
expect_eq "ps shows it running" "d1 running" "$(rb ps --format '{{.Names}} {{.State}}' 2>&1)"
expect_eq "logs" "started" "$(rb logs d1 2>&1)"
expect_eq "exec" "0" "$(rb exec d1 id -u 2>&1)"
expect_eq "exec as uid 1000" "1000" "$(rb exec -u 1000 d1 id -u 2>&1)"
expect_eq "exec sees the container's files" "yes" "$(rb exec d1 sh -c 'test -e /root/by-root && echo yes' 2>&1)"
up=$STORE/containers/$id/upper
expect_eq "a file of the container's root is the user's on the host" "$UID_" "$(stat -c %u "$up/root/by-root" 2>&1)"
expect_eq "a file of container uid 1000 is subuid start+999" "$((START + 999))" "$(stat -c %u "$up/tmp/x" 2>&1)"
rb stop -t 1 d1 >/dev/null 2>"$T/err"; expect_eq "stop" 0 $?
[ -s "$T/err" ] && sed 's/^/# /' "$T/err"
expect_eq "ps -a shows it exited" "d1 exited" "$(rb ps -a --format '{{.Names}} {{.State}}' 2>&1)"
rb rm d1 >/dev/null 2>"$T/err"; expect_eq "rm" 0 $?
expect_eq "rm leaves no row" "" "$(rb ps -aq 2>&1)"
check "rm leaves no container dir" test ! -e "$STORE/containers/$id"

# A terminal: the pty comes from the container's own devpts instance.
out=$(cd "$H" && runuser -u "$U" -- env -u XDG_RUNTIME_DIR HOME="$H" \
  script -qec "$BERTH_BIN/berth run --rm -t --network none bb tty" /dev/null 2>&1 | tr -d '\r')
expect_eq "run -t gets a pty" "/dev/pts/0" "$out"
# Restart policies run from the monitor's `container cleanup`, inside the namespaces.
rb run -d --network none --name r1 --restart on-failure:2 bb sh -c 'exit 1' >/dev/null 2>&1
for _ in $(seq 100); do
  [ "$(rb inspect --format '{{.RestartCount}} {{.State.Status}}' r1 2>/dev/null)" = "2 exited" ] && break; sleep 0.1
done
expect_eq "restart on-failure:2 restarts twice" "2 exited" "$(rb inspect --format '{{.RestartCount}} {{.State.Status}}' r1 2>&1)"
rb rm -f r1 >/dev/null 2>&1

# Volumes: a bind mount of the user's dir is root's inside, the user's outside;
# a named volume lives in the user's store.
runuser -u "$U" -- mkdir -p "$H/data"
rb run --rm --network none -v "$H/data:/data" bb sh -c 'echo bound > /data/f; stat -c %u /data' >"$T/out" 2>&1
expect_eq "bind mount: the user's dir is uid 0 inside" "0" "$(cat "$T/out")"
expect_eq "bind mount: a file written inside is the user's" "$UID_ bound" "$(stat -c %u "$H/data/f" 2>&1) $(cat "$H/data/f" 2>&1)"
rb run --rm --network none -v vol1:/v bb sh -c 'echo kept > /v/f' >/dev/null 2>&1
expect_eq "named volume keeps data across containers" "kept" "$(rb run --rm --network none -v vol1:/v bb cat /v/f 2>&1)"
check "the named volume is in the user's store" test -f "$STORE/volumes/vol1/_data/f"

# commit: a replaced directory is an opaque dir of the upper layer, marked
# user.overlay.opaque (trusted.* is out of reach in a user namespace).
id=$(rb run -d --network none --name c1 bb sh -c 'rm -rf /home && mkdir /home && echo x > /home/only && exec sleep 1000' 2>/dev/null)
for _ in $(seq 100); do [ -e "$STORE/containers/$id/upper/home/only" ] && break; sleep 0.1; done
expect_eq "the upper dir's opaque marker is user.overlay.opaque" "y" \
  "$(python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.overlay.opaque").decode())' "$STORE/containers/$id/upper/home" 2>&1)"
# Without a cgroup there is no freezer: pause (and commit's default pause) fail and say why.
rb pause c1 >/dev/null 2>"$T/err"; rc=$?
check "pause fails rootless without a delegated cgroup, saying so" \
  bash -c "[ $rc -ne 0 ] && grep -q 'rootless, no cgroup delegated to the user' '$T/err'"
rb commit --pause=false c1 bb-committed >/dev/null 2>"$T/err"; expect_eq "commit --pause=false as the user" 0 $?
[ -s "$T/err" ] && sed 's/^/# /' "$T/err"
expect_eq "the committed image's dir is opaque (old entries hidden)" "only" \
  "$(rb run --rm --network none bb-committed ls /home 2>&1)"
rb rm -f c1 >/dev/null 2>&1

# A container running as a subordinate uid is stopped by a later command
# (signals cross no user namespace: all commands join the pause process's).
rb run -d --network none -u 1000 --name d2 bb sleep 1000 >/dev/null 2>&1
rb stop -t 0 d2 >/dev/null 2>"$T/err"; expect_eq "stop a uid-1000 container" 0 $?
rb rm -f d2 >/dev/null 2>&1

# --- the namespace holder dies: rm still cleans up ----------------------------
id=$(rb run -d --network none --name d3 bb sleep 1000 2>/dev/null)
old=$(pause_pid)
kill -9 "$old" 2>/dev/null
rb rm -f d3 >/dev/null 2>"$T/err"; expect_eq "rm -f after the pause process died" 0 $?
[ -s "$T/err" ] && sed 's/^/# /' "$T/err"
check "...leaves no container dir" test ! -e "$STORE/containers/$id"
expect_eq "...leaves no row" "" "$(rb ps -aq 2>&1)"
check "...the container's processes are gone" bash -c "! ps -o args= -u $UID_ | grep -q '^sleep 1000'"
new=$(pause_pid)
check "a new pause process replaced it" bash -c "[ '$new' != '$old' ] && [ \"\$(cat /proc/$new/comm)\" = berth-pause ]"
expect_eq "run works in the new namespaces" "hi" "$(rb run --rm --network none bb echo hi 2>&1)"

# Several first commands at once make one namespace, not several (rootless.lock).
kill -9 "$(pause_pid)" 2>/dev/null
for i in 1 2 3 4; do rb run --rm --network none bb echo "p$i" >"$T/par$i" 2>&1 & done
wait
expect_eq "parallel first commands all run" "p1 p2 p3 p4" "$(cat "$T"/par1 "$T"/par2 "$T"/par3 "$T"/par4 | tr '\n' ' ' | sed 's/ $//')"
expect_eq "...and leave one pause process" 1 \
  "$(ps -o stat=,comm= -u "$UID_" | awk '$1 !~ /^Z/ && $2 == "berth-pause"' | wc -l)"

# --- default network: slirp4netns ----------------------------------------------
if command -v slirp4netns >/dev/null; then
  # slirp4netns opens /dev/net/tun as the user: Debian's udev makes it 0666,
  # a machine without udev may have 0600. Opened up for the test, restored at exit.
  tunmode=$(stat -c %a /dev/net/tun 2>/dev/null)
  if [ -n "$tunmode" ] && [ "$tunmode" != 666 ]; then
    rb run --rm bb true 2>"$T/err"
    check "no usable /dev/net/tun: a clear error" grep -q '/dev/net/tun is not usable' "$T/err"
    chmod 666 /dev/net/tun && e2e_on_exit "chmod $tunmode /dev/net/tun"
  fi
  hostip=$(ip -4 -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
  expect_eq "default network is slirp4netns (tap0 10.0.2.100)" "10.0.2.100" \
    "$(rb run --rm bb sh -c "ip addr show tap0 | sed -n 's/.*inet \([0-9.]*\).*/\1/p'" 2>&1)"
  if [ -n "$hostip" ]; then
    mkdir -p "$T/www" && echo through-slirp >"$T/www/index.html"
    python3 -m http.server --bind "$hostip" --directory "$T/www" 0 >"$T/http.log" 2>&1 &
    hp=$!
    e2e_on_exit "kill $hp"
    port=
    for _ in $(seq 100); do
      port=$(ss -ltnp 2>/dev/null | awk -v p="pid=$hp," 'index($0, p) {n=split($4, a, ":"); print a[n]}' | head -1)
      [ -n "$port" ] && break; sleep 0.05
    done
    expect_eq "the container reaches the host through slirp4netns" "through-slirp" \
      "$(rb run --rm bb wget -qO- "http://$hostip:$port/" 2>&1)"
  fi
  id=$(rb run -d --name s1 bb sleep 1000 2>/dev/null)
  check "slirp4netns runs for a detached container" [ "$(live_slirps)" = 1 ]
  rb rm -f s1 >/dev/null 2>&1
  for _ in $(seq 50); do [ "$(live_slirps)" = 0 ] && break; sleep 0.1; done
  expect_eq "rm stops slirp4netns" 0 "$(live_slirps)"
  # -p: slirp4netns's add_hostfwd; the host side listens as the user.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  rb run -d --name web -p "127.0.0.1:$port:80" bb sh -c \
    'mkdir /www && echo published > /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null 2>"$T/err"
  expect_eq "run -d -p" "" "$(cat "$T/err")"
  got=
  for _ in $(seq 50); do got=$(curl -s --max-time 2 "http://127.0.0.1:$port/" 2>/dev/null) && [ -n "$got" ] && break; sleep 0.1; done
  expect_eq "-p 127.0.0.1:PORT:80 reaches the container" "published" "$got"
  expect_eq "ps shows the published port" "127.0.0.1:$port->80/tcp" "$(rb ps --format '{{.Ports}}' --filter name=web 2>&1)"
  rb rm -f web >/dev/null 2>&1
  check "rm stops the forwarding" bash -c "! curl -s --max-time 2 http://127.0.0.1:$port/ >/dev/null 2>&1"
  rb run --rm -p 80:80 bb true 2>"$T/err"; rc=$?
  check "-p below the unprivileged port start fails, naming slirp4netns" \
    bash -c "[ $rc -ne 0 ] && grep -q 'slirp4netns' '$T/err'"
  sed 's/^/# /' "$T/err"
fi

e2e_finish
