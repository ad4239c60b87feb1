#!/usr/bin/env bash
# podman driving berth-runtime (--runtime), with private storage in a temp dir.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/bundle.sh"
RT="$BERTH_BIN/berth-runtime"
T=$(e2e_tmpdir)
P=(podman --root "$T/root" --runroot "$T/runroot" --storage-driver vfs --cgroup-manager cgroupfs
   --runtime "$RT" --tmpdir "$T/tmp")
pm() { "${P[@]}" "$@"; }
e2e_on_exit "podman --root $T/root --runroot $T/runroot --storage-driver vfs --runtime $RT rm -af -t 0"
e2e_on_exit "podman --root $T/root --runroot $T/runroot --storage-driver vfs system reset -f 2>/dev/null || umount -R $T/root $T/runroot"
make_busybox_rootfs "$T/rootfs"
tar -C "$T/rootfs" -cf "$T/bb.tar" .
pm import "$T/bb.tar" localhost/berth-bb:latest >/dev/null 2>&1
IMG=localhost/berth-bb:latest
N="bp$$"

expect_eq "echo" "hi" "$(pm run --rm $IMG echo hi)"
pm run --rm $IMG sh -c 'exit 42'
expect_eq "exit code" 42 $?
pm run --rm $IMG no-such-binary >/dev/null 2>&1
expect_eq "missing binary exit code" 127 $?
expect_eq "-u" "1000:1000" "$(pm run --rm -u 1000:1000 $IMG sh -c 'echo $(id -u):$(id -g)')"
expect_eq "-e" "bar" "$(pm run --rm -e FOO=bar $IMG sh -c 'echo $FOO')"
mkdir -p "$T/vol" && echo volume-data >"$T/vol/f"
expect_eq "-v bind" "volume-data" "$(pm run --rm -v "$T/vol:/data:ro" $IMG cat /data/f)"
expect_eq "--memory" "67108864" "$(pm run --rm --memory 64m $IMG sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max')"
expect_eq "--pids-limit" "50" "$(pm run --rm --pids-limit 50 $IMG sh -c 'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max')"
expect_eq "--cap-drop all" "0000000000000000" "$(pm run --rm --cap-drop all $IMG sh -c 'grep CapEff /proc/self/status | cut -f2')"
# script(1) needs a stdin that stays open while the container runs: under CI
# stdin is /dev/null, and its EOF would end the pty session at once.
exec {hold}< <(sleep 120); hold_pid=$!
out=$(timeout 60 script -qec "${P[*]} run --rm -it $IMG sh -c 'tty; echo tty-ok'" /dev/null <&$hold)
exec {hold}<&-; kill "$hold_pid" 2>/dev/null || true
check "-it gets a pty" grep -q "/dev/pts/" <<<"$out"
check "-it output" grep -q "tty-ok" <<<"$out"
check "-d" pm run -d --name "$N" $IMG sleep 1000
expect_eq "exec" "exec-ok" "$(pm exec "$N" echo exec-ok)"
pm exec "$N" sh -c 'exit 3'
expect_eq "exec exit code" 3 $?
expect_eq "exec -u" "1000" "$(pm exec -u 1000 "$N" id -u)"
check "pause" pm pause "$N"
expect_eq "paused state" paused "$(pm inspect -f '{{.State.Status}}' "$N")"
check "unpause" pm unpause "$N"
check "stop" pm stop -t 1 "$N"
expect_eq "stopped state" exited "$(pm inspect -f '{{.State.Status}}' "$N")"
check "rm" pm rm "$N"
e2e_finish
