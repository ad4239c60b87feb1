#!/usr/bin/env bash
# containerd (its own instance in a temp dir) running tasks through
# berth-runtime via `ctr run --runc-binary`.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/bundle.sh"
RT="$BERTH_BIN/berth-runtime"
T=$(e2e_tmpdir)
cat >"$T/config.toml" <<CONF
version = 2
root = "$T/root"
state = "$T/state"
[grpc]
  address = "$T/c.sock"
[ttrpc]
  address = "$T/c.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
CONF
containerd --config "$T/config.toml" >"$T/containerd.log" 2>&1 &
CTD=$!
e2e_on_exit "kill $CTD; wait $CTD"
C=(ctr --address "$T/c.sock")
for _ in $(seq 100); do "${C[@]}" version >/dev/null 2>&1 && break; sleep 0.1; done
make_busybox_rootfs "$T/rootfs"
N="bc$$"
NS=berth-test-$$
# ctr places tasks in /<namespace>/<id>; the runtime removes the task's cgroup
# (like runc) but the namespace level is ours to remove, after the tasks.
e2e_on_exit "for d in /sys/fs/cgroup/*/$NS /sys/fs/cgroup/$NS; do [ -d \$d ] && rmdir \$d; done"
# ctr_run [FLAGS...] -- ID CMD...: --rootfs is a boolean flag, so ours go first.
ctr_run() {
  local flags=()
  while [ "$1" != -- ]; do flags+=("$1"); shift; done
  shift
  "${C[@]}" -n "$NS" run --rm --runc-binary "$RT" "${flags[@]}" --rootfs "$T/rootfs" "$@"
}
e2e_on_exit "for t in \$(ctr --address $T/c.sock -n $NS tasks ls -q); do ctr --address $T/c.sock -n $NS tasks kill -s KILL \$t; done; sleep 0.5; for c in \$(ctr --address $T/c.sock -n $NS c ls -q); do ctr --address $T/c.sock -n $NS tasks rm -f \$c; ctr --address $T/c.sock -n $NS c rm \$c; done"

expect_eq "echo" "hi-from-ctr" "$(ctr_run -- "$N-a" echo hi-from-ctr)"
ctr_run -- "$N-b" sh -c 'exit 3'
expect_eq "exit code" 3 $?
expect_eq "env" "bar" "$(ctr_run --env FOO=bar -- "$N-c" sh -c 'echo $FOO')"
"${C[@]}" -n "$NS" run -d --runc-binary "$RT" --rootfs "$T/rootfs" "$N-d" sleep 1000 >/dev/null
expect_eq "task running" RUNNING "$("${C[@]}" -n "$NS" tasks ls | awk -v n="$N-d" '$1==n {print $3}')"
expect_eq "task exec" "exec-ok" "$("${C[@]}" -n "$NS" tasks exec --exec-id e1 "$N-d" echo exec-ok)"
check "task pause" "${C[@]}" -n "$NS" tasks pause "$N-d"
expect_eq "task paused" PAUSED "$("${C[@]}" -n "$NS" tasks ls | awk -v n="$N-d" '$1==n {print $3}')"
check "task resume" "${C[@]}" -n "$NS" tasks resume "$N-d"
check "task kill" "${C[@]}" -n "$NS" tasks kill -s KILL "$N-d"
for _ in $(seq 100); do [ "$("${C[@]}" -n "$NS" tasks ls | awk -v n="$N-d" '$1==n {print $3}')" = STOPPED ] && break; sleep 0.1; done
expect_eq "task stopped" STOPPED "$("${C[@]}" -n "$NS" tasks ls | awk -v n="$N-d" '$1==n {print $3}')"
check "task rm" "${C[@]}" -n "$NS" tasks rm "$N-d"
check "container rm" "${C[@]}" -n "$NS" containers rm "$N-d"
e2e_finish
