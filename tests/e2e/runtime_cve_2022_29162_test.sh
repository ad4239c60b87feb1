#!/usr/bin/env bash
# CVE-2022-29162: runc gave the process a non-empty inheritable capability set,
# so file capabilities could raise privileges past the configured set. Unless
# the spec asks for inheritable caps, the set must be empty (run and exec).
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/bundle.sh"
RT="$BERTH_BIN/berth-runtime"
T=$(e2e_tmpdir)
ROOT="$T/state"
ID="cve29162-$$"
rt() { "$RT" --root "$ROOT" "$@"; }
e2e_on_exit "for c in \$(ls $ROOT 2>/dev/null); do $RT --root $ROOT delete --force \$c; done"
make_busybox_bundle "$T/b" sh -c 'grep CapInh /proc/self/status | cut -f2'
expect_eq "run: inheritable empty" 0000000000000000 "$(rt run --bundle "$T/b" "$ID-a")"
bundle_patch "$T/b" '.process.capabilities.inheritable=["CAP_KILL"]'
expect_eq "run: inheritable only as configured" 0000000000000020 "$(rt run --bundle "$T/b" "$ID-b")"
bundle_patch "$T/b" 'del(.process.capabilities.inheritable) | .process.args=["sleep","1000"]'
rt run -d --bundle "$T/b" "$ID-c" </dev/null >/dev/null 2>&1
expect_eq "exec: inheritable empty" 0000000000000000 "$(rt exec "$ID-c" sh -c 'grep CapInh /proc/self/status | cut -f2')"
expect_eq "exec --cap does not add inheritable" 0000000000000000 "$(rt exec --cap CAP_SYS_ADMIN "$ID-c" sh -c 'grep CapInh /proc/self/status | cut -f2')"
e2e_finish
