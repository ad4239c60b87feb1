#!/usr/bin/env bash
# CVE-2025-31133: maskedPaths are masked by bind-mounting /dev/null; if the
# container's /dev/null is a symlink (or another file) the "mask" becomes a bind
# of the attacker's choice, e.g. a writable /proc/sys/kernel/core_pattern.
# berth-runtime only binds an fd proven to be the 1:3 char device.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/bundle.sh"
RT="$BERTH_BIN/berth-runtime"
T=$(e2e_tmpdir)
ROOT="$T/state"
ID="cve31133-$$"
rt() { "$RT" --root "$ROOT" "$@"; }
e2e_on_exit "for c in \$(ls $ROOT 2>/dev/null); do $RT --root $ROOT delete --force \$c; done"
make_busybox_bundle "$T/b" sh -c 'echo x > /proc/timer_list && echo WROTE'
# The container brings its own /dev (no tmpfs from the runtime).
bundle_patch "$T/b" '.mounts |= map(select(.destination!="/dev" and (.destination|startswith("/dev/")|not)))'
ln -sf /proc/sys/kernel/core_pattern "$T/b/rootfs/dev/null"
out=$(rt run --bundle "$T/b" "$ID-link" 2>&1)
check "symlinked /dev/null refused" grep -q "null" <<<"$out"
check "nothing written" bash -c "! grep -q WROTE <<<'$out'"
rm -f "$T/b/rootfs/dev/null" && echo fake >"$T/b/rootfs/dev/null"
out=$(rt run --bundle "$T/b" "$ID-file" 2>&1)
check "regular-file /dev/null refused" grep -q "not the null device" <<<"$out"
rm -f "$T/b/rootfs/dev/null" && mknod -m 666 "$T/b/rootfs/dev/null" c 1 3
bundle_patch "$T/b" '.process.args=["sh","-c","head -c 4 /proc/keys | wc -c"]'
expect_eq "a real /dev/null masks" "0" "$(rt run --bundle "$T/b" "$ID-ok" 2>&1 | tr -d ' ')"
e2e_finish
