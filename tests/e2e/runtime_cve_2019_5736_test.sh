#!/usr/bin/env bash
# CVE-2019-5736: a container process opens /proc/<pid>/exe of a runtime
# process that entered the container, waits for it to exit, then writes
# through the fd to overwrite the runtime binary on the host. berth-runtime
# re-execs from a sealed memfd, so the write must fail and the binary survive.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/bundle.sh"
T=$(e2e_tmpdir)
# Attack a copy, never the build output.
mkdir -p "$T/bin" && cp "$BERTH_BIN/berth-runtime" "$T/bin/berth-runtime"
RT="$T/bin/berth-runtime"
before=$(sha256sum <"$RT")
ROOT="$T/state"
C="cve5736-$$"
rt() { "$RT" --root "$ROOT" "$@"; }
e2e_on_exit "$RT --root $ROOT delete --force $C"
BERTH_BIN="$T/bin" make_busybox_bundle "$T/b" sleep 1000
# No pid namespace: the attacker must outlive the runtime process it targets.
# A privileged container (all capabilities, like --privileged): ptrace access
# checks alone would otherwise already stop the attacker from opening the exe.
# Every capability this host allows (its bounding set may lack some).
bnd=$((16#$(grep CapBnd /proc/self/status | cut -f2)))
caps=$(for n in $("$RT" features | jq -r '.linux.capabilities[]'); do
  i=$(capsh --explain="${n,,}" 2>/dev/null | head -1 | sed -n 's/^[a-z_]* (\([0-9]*\)).*/\1/p')
  [ -n "$i" ] && [ $(((bnd >> i) & 1)) = 1 ] && echo "$n"
done | jq -R . | jq -sc .)
bundle_patch "$T/b" ".root.readonly=false | .linux.namespaces |= map(select(.type!=\"pid\"))
  | .process.capabilities={\"bounding\":$caps,\"effective\":$caps,\"permitted\":$caps} | .process.noNewPrivileges=false"

rt create --bundle "$T/b" "$C"
P=$(rt state "$C" | jq -r .pid)
# The init is berth-runtime itself until `start`: exactly the process the
# original exploit targets.
check "init runs from a sealed memfd" bash -c "readlink /proc/$P/exe | grep -q memfd"
rt exec -d "$C" sh -c "exec 3</proc/$P/exe && touch /tmp/opened
  while kill -0 $P 2>/dev/null; do sleep 0.05; done
  if (printf pwned >/proc/self/fd/3) 2>/dev/null; then echo wrote; else echo blocked; fi >/tmp/result
  sleep 1000"
for _ in $(seq 200); do [ -e "$T/b/rootfs/tmp/opened" ] && break; sleep 0.05; done
check "attacker holds the exe fd" test -e "$T/b/rootfs/tmp/opened"
rt kill "$C" KILL
for _ in $(seq 200); do [ -s "$T/b/rootfs/tmp/result" ] && break; sleep 0.05; done
expect_eq "write through /proc/pid/exe is refused" blocked "$(cat "$T/b/rootfs/tmp/result" 2>/dev/null)"
expect_eq "host binary unchanged" "$before" "$(sha256sum <"$RT")"
e2e_finish
