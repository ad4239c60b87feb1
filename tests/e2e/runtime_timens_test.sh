#!/usr/bin/env bash
# berth-runtime: the time namespace and linux.timeOffsets (runtime-spec
# config-linux.md "Offset for Time Namespace"): the container's boottime and
# monotonic clocks are shifted by the offsets, the host's are not.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/bundle.sh"
T=$(e2e_tmpdir)
R=$T/state
rt() { "$BERTH_BIN/berth-runtime" --root "$R" "$@"; }
e2e_on_exit "'$BERTH_BIN/berth-runtime' --root '$R' delete -f tns"

make_busybox_bundle "$T/b" cat /proc/uptime
bundle_patch "$T/b" '.linux.namespaces += [{"type": "time"}] | .linux.timeOffsets = {"boottime": {"secs": 864000, "nanosecs": 0}, "monotonic": {"secs": 172800, "nanosecs": 500}}'
host_up=$(cut -d. -f1 /proc/uptime)
out=$(cd "$T/b" && rt run tns 2>&1)
rc=$?
check "a container with a time namespace and offsets runs" test "$rc" -eq 0
ctr_up=$(printf %s "$out" | cut -d. -f1)
check "boottime inside is shifted by ~10 days (host ${host_up}s, container ${ctr_up}s)" \
  test "$((ctr_up - host_up))" -ge 863990 -a "$((ctr_up - host_up))" -le 864100
after=$(cut -d. -f1 /proc/uptime)
check "the host's clock is untouched" test "$((after - host_up))" -lt 100

make_busybox_bundle "$T/c" cat /proc/uptime
bundle_patch "$T/c" '.linux.namespaces += [{"type": "time"}]'
out=$(cd "$T/c" && rt run tns2 2>&1)
ctr_up=$(printf %s "$out" | cut -d. -f1)
check "a time namespace without offsets keeps the host's clocks" test "$((ctr_up - host_up))" -lt 100
rt delete -f tns2 >/dev/null 2>&1

make_busybox_bundle "$T/d" true
bundle_patch "$T/d" '.linux.namespaces += [{"type": "time"}] | .linux.timeOffsets = {"realtime": {"secs": 1}}'
err=$(cd "$T/d" && rt run tns3 2>&1)
check "an unknown clock is refused, naming it" sh -c "printf %s \"\$1\" | grep -q 'realtime'" _ "$err"
rt delete -f tns3 >/dev/null 2>&1
e2e_finish
