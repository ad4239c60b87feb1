#!/usr/bin/env bash
# CVE-2021-30465 / CVE-2023-27561: a mount destination whose path goes through
# a symlink (which a racing container can swap in) must be resolved inside the
# rootfs, never on the host: nothing may be created or mounted outside it.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/bundle.sh"
RT="$BERTH_BIN/berth-runtime"
T=$(e2e_tmpdir)
ROOT="$T/state"
ID="cve30465-$$"
rt() { "$RT" --root "$ROOT" "$@"; }
e2e_on_exit "for c in \$(ls $ROOT 2>/dev/null); do $RT --root $ROOT delete --force \$c; done"
make_busybox_bundle "$T/b" true
mkdir -p "$T/outside" "$T/vol" && echo secret >"$T/vol/f"
# Absolute and relative escapes towards the host directory $T/outside.
ln -s "$T/outside" "$T/b/rootfs/abs"
ln -s "../../../../../../../..$T/outside" "$T/b/rootfs/rel"
bundle_patch "$T/b" ".mounts += [
  {\"destination\":\"/abs/sub\",\"type\":\"bind\",\"source\":\"$T/vol\",\"options\":[\"rbind\"]},
  {\"destination\":\"/rel/t\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"}]
  | .process.args=[\"sh\",\"-c\",\"cat /abs/sub/f; grep -c \\\" $T/outside/t \\\" /proc/mounts\"]"
out=$(rt run --bundle "$T/b" "$ID" 2>&1)
expect_eq "mounts land inside the rootfs" "secret 1" "$(echo $out)"
check "nothing created on the host" test -z "$(ls -A "$T/outside")"
check "no host mount" bash -c "! grep -q '$T/outside' /proc/self/mountinfo"
check "created inside the rootfs instead" test -d "$T/b/rootfs$T/outside/sub"
e2e_finish
