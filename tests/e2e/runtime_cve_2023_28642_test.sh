#!/usr/bin/env bash
# CVE-2023-28642: /proc in the rootfs is a symlink (e.g. to a tmpfs the
# container controls), so procfs lands elsewhere and maskedPaths/readonlyPaths
# protect nothing. berth-runtime must refuse a non-directory /proc and /sys.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/bundle.sh"
RT="$BERTH_BIN/berth-runtime"
T=$(e2e_tmpdir)
ROOT="$T/state"
ID="cve28642-$$"
rt() { "$RT" --root "$ROOT" "$@"; }
e2e_on_exit "for c in \$(ls $ROOT 2>/dev/null); do $RT --root $ROOT delete --force \$c; done"
make_busybox_bundle "$T/b" cat /proc/keys
rmdir "$T/b/rootfs/proc" && mkdir "$T/b/rootfs/fakeproc" && ln -s /fakeproc "$T/b/rootfs/proc"
out=$(rt run --bundle "$T/b" "$ID-proc" 2>&1)
check "symlinked /proc refused" grep -q "/proc" <<<"$out"
check "no state left" test ! -e "$ROOT/$ID-proc"
rm "$T/b/rootfs/proc" && mkdir "$T/b/rootfs/proc"
rmdir "$T/b/rootfs/sys" && ln -s /fakeproc "$T/b/rootfs/sys"
out=$(rt run --bundle "$T/b" "$ID-sys" 2>&1)
check "symlinked /sys refused" grep -q "/sys" <<<"$out"
rm "$T/b/rootfs/sys" && mkdir "$T/b/rootfs/sys"
expect_eq "real dirs work, keys masked" "" "$(rt run --bundle "$T/b" "$ID-ok" | head -c 8)"
e2e_finish
