#!/usr/bin/env bash
# CVE-2022-0811 ("cr8escape"): a sysctl value with "+" was split into a second
# sysctl, letting a pod set kernel.core_pattern on the host. berth-runtime
# validates keys (charset, namespacing) and values (no newline) first.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/bundle.sh"
RT="$BERTH_BIN/berth-runtime"
T=$(e2e_tmpdir)
ROOT="$T/state"
ID="cve0811-$$"
rt() { "$RT" --root "$ROOT" "$@"; }
e2e_on_exit "for c in \$(ls $ROOT 2>/dev/null); do $RT --root $ROOT delete --force \$c; done"
make_busybox_bundle "$T/b" true
before=$(cat /proc/sys/kernel/core_pattern)
n=0
try() {
  n=$((n + 1))
  bundle_patch "$T/b" ".linux.sysctl=$1"
  rt run --bundle "$T/b" "$ID-$n" >/dev/null 2>&1
  local rc=$?
  check "refused: $1" test "$rc" -ne 0
}
try '{"kernel.core_pattern":"|/tmp/evil"}'
out=$(rt run --bundle "$T/b" "$ID-msg" 2>&1)
check "error names the sysctl" grep -q 'linux.sysctl "kernel.core_pattern": not namespaced' <<<"$out"
try '{"kernel.shm_rmid_forced":"1+kernel.core_pattern=|/tmp/evil"}'
try '{"kernel.shm_rmid_forced=1+kernel.core_pattern":"|/tmp/evil"}'
try '{"net.ipv4.ip_forward":"1\nkernel.core_pattern=|/tmp/evil"}'
try '{"../../kernel/core_pattern":"x"}'
try '{"net/../kernel/core_pattern":"x"}'
expect_eq "host core_pattern unchanged" "$before" "$(cat /proc/sys/kernel/core_pattern)"
bundle_patch "$T/b" '.linux.sysctl={"kernel.shm_rmid_forced":"1"} | .process.args=["cat","/proc/sys/kernel/shm_rmid_forced"]'
expect_eq "a namespaced sysctl still works" 1 "$(rt run --bundle "$T/b" "$ID-ok")"
e2e_finish
