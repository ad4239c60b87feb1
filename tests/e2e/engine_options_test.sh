#!/usr/bin/env bash
# berth run's resource and security options, --init, and the default
# hardening, checked from inside the container (Docker as the reference).
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/engine.sh"
engine_setup
r() { b run --rm --network none "$@"; }

# Default hardening: Docker's 14 capabilities, masked and read-only paths.
expect_eq "default CapEff (Docker's 14 caps)" 00000000a80425fb "$(r bb awk '/^CapEff/ {print $2}' /proc/self/status)"
# Masked paths are bind-mounted over (/dev/null, or an empty read-only tmpfs
# for directories); only those this kernel has exist at all.
for m in /proc/kcore /proc/keys /proc/timer_list; do
  [ -e "$m" ] || continue
  expect_eq "masked $m is empty" 0 "$(r bb sh -c "cat $m 2>/dev/null | wc -c")"
done
expect_eq "masked /proc/acpi is an empty dir" "" "$(r bb ls -A /proc/acpi 2>/dev/null)"
r bb sh -c 'echo 1 >/proc/sys/kernel/domainname' 2>/dev/null
check "/proc/sys is read-only" test $? -ne 0
expect_eq "NoNewPrivs off by default" 0 "$(r bb awk '/^NoNewPrivs/ {print $2}' /proc/self/status)"
expect_eq "seccomp filter on by default" 2 "$(r bb awk '/^Seccomp:/ {print $2}' /proc/self/status)"
# Docker's default profile denies unshare(CLONE_NEWUSER...) without CAP_SYS_ADMIN
r bb unshare -U true 2>/dev/null; check "seccomp default: unshare -U denied" test $? -ne 0
out=$(r bb sh -c 'mkdir -p /mnt && mount -t tmpfs none /mnt 2>/dev/null && echo mounted')
check "mount denied by default" test "$out" != mounted

# --network none in the foreground: a namespace of its own (made on a second
# thread ahead of the runtime, engine/ahead.h) holding only lo, which is up.
host_ns=$(readlink /proc/self/ns/net)
check "--network none: not the host's namespace" test "$(r bb readlink /proc/self/ns/net)" != "$host_ns"
expect_eq "--network none: only lo" lo "$(r bb ls /sys/class/net)"
lo_flags=$(r bb cat /sys/class/net/lo/flags)
check "--network none: lo is up ($lo_flags)" test $((lo_flags & 1)) -eq 1
expect_eq "--network none: 127.0.0.1 answers" ok "$(r bb sh -c 'nc -l -p 7 -e echo ok & sleep 0.2; nc 127.0.0.1 7 </dev/null')"

# --read-only, with a --tmpfs for scratch.
r --read-only bb sh -c 'echo x >/x' 2>/dev/null; check "--read-only: write to / fails" test $? -ne 0
expect_eq "--read-only --tmpfs /tmp: /tmp writable" ok "$(r --read-only --tmpfs /tmp bb sh -c 'echo ok >/tmp/x && cat /tmp/x')"

# Resources, read back from the container's own cgroup.
cg_mem='cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'
expect_eq "--memory 64m" 67108864 "$(r --memory 64m bb sh -c "$cg_mem")"
cg_pids='cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max'
expect_eq "--pids-limit 42" 42 "$(r --pids-limit 42 bb sh -c "$cg_pids")"
cg_cpu='q=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us); p=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us 2>/dev/null || cat /sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us); echo $q/$p'
expect_eq "--cpus 0.5" 50000/100000 "$(r --cpus 0.5 bb sh -c "$cg_cpu")"
expect_eq "--ulimit nofile=512:512" "512 512" "$(r --ulimit nofile=512:512 bb sh -c 'echo $(ulimit -n) $(ulimit -Hn)')"

# Capabilities and privileges.
r --cap-drop ALL bb chown 65534 /tmp 2>/dev/null; check "--cap-drop ALL: chown fails" test $? -ne 0
expect_eq "--cap-drop ALL: CapEff 0" 0000000000000000 "$(r --cap-drop ALL bb awk '/^CapEff/ {print $2}' /proc/self/status)"
r bb chown 65534 /tmp; expect_eq "default: chown works (CAP_CHOWN)" 0 $?
# CAP_SYS_ADMIN is bit 21 (0x200000)
cap=$(r --cap-add SYS_ADMIN bb awk '/^CapEff/ {print $2}' /proc/self/status)
check "--cap-add SYS_ADMIN sets bit 21 ($cap)" test $((0x$cap & 0x200000)) -ne 0
expect_eq "--security-opt no-new-privileges" 1 "$(r --security-opt no-new-privileges bb awk '/^NoNewPrivs/ {print $2}' /proc/self/status)"
expect_eq "--security-opt seccomp=unconfined" 0 "$(r --security-opt seccomp=unconfined bb awk '/^Seccomp:/ {print $2}' /proc/self/status)"
priv=$(r --privileged bb awk '/^CapEff/ {print $2}' /proc/self/status)
# all the caps this host can give (its bounding set; sandboxes may lack some)
expect_eq "--privileged: every capability of the host's bounding set" "$(awk '/^CapBnd/ {print $2}' /proc/self/status)" "$priv"
expect_eq "--privileged: no seccomp" 0 "$(r --privileged bb awk '/^Seccomp:/ {print $2}' /proc/self/status)"
r --privileged bb sh -c 'mkdir -p /mnt && mount -t tmpfs none /mnt'; expect_eq "--privileged: mount works" 0 $?

# --init: pid 1 is /dev/init, orphans are reaped, the exit code passes through.
expect_eq "--init: pid 1 is /dev/init" /dev/init "$(r --init bb sh -c 'cat /proc/1/cmdline | tr "\0" " " | cut -d" " -f1')"
r --init bb sh -c 'exit 3'; expect_eq "--init: exit code propagated" 3 $?
zombies=$(r --init bb sh -c '(sleep 0.2 & sleep 0.3 & exec true) ; sleep 1; ps -o stat= -o comm= | grep -c "^Z" || true')
expect_eq "--init: orphans reaped (no zombies)" 0 "$zombies"
N="op$$"
b run -d --init --network none --name "$N" bb sleep 1000 >/dev/null
engine_wait_status "$N" running
b stop -t 5 "$N" >/dev/null
expect_eq "--init: SIGTERM forwarded (stop without SIGKILL)" 143 "$(b inspect --format '{{.State.ExitCode}}' "$N")"
e2e_finish
