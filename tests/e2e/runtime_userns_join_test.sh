#!/usr/bin/env bash
# berth-runtime: namespaces joined by path together with a NEW user namespace
# (runc's nsexec joins the by-path namespaces first, then unshares the user
# namespace and the rest). A holder process owns a network and a UTS namespace
# (10.123.45.67 on its lo, hostname joinedhost); the container joins both by path,
# gets its own user namespace (0 -> 100000, 65536 ids), pid/ipc/mount
# namespaces, and must see the address, the hostname and its uid map. The same
# bundle runs under runc as the peer. A relative --pid-file shows the runtime
# came back to its own working directory after joining.
# Needs root, busybox-static, jq, util-linux unshare/nsenter, iproute2.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/bundle.sh"

if [ "$(id -u)" != 0 ]; then echo "# skip: needs root"; exit 0; fi
RT=$BERTH_BIN/berth-runtime
T=$(e2e_tmpdir)
chmod 711 "$T"  # the mapped root must reach its rootfs

# The holder: new network + UTS namespaces, set up, then sleeping.
unshare --net --uts sh -c 'hostname joinedhost && ip link set lo up && ip addr add 10.123.45.67/32 dev lo && exec sleep 1000' &
HOLDER=$!
disown "$HOLDER"  # no job report when the cleanup kills it
e2e_on_exit "kill -9 $HOLDER"
for _ in $(seq 100); do
  [ "$(nsenter -t "$HOLDER" --uts hostname 2>/dev/null)" = joinedhost ] &&
    nsenter -t "$HOLDER" --net ip -o addr show lo 2>/dev/null | grep -q 10.123.45.67 && break
  sleep 0.05
done
check "the holder's namespaces are ready" bash -c "nsenter -t $HOLDER --net ip -o addr show lo | grep -q 10.123.45.67"

B=$T/bundle
make_busybox_bundle "$B" sh -c 'cat /proc/self/uid_map; hostname; ip -o addr show lo | grep -o 10.123.45.67; id -u'
chown -R 100000:100000 "$B/rootfs"
bundle_patch "$B" "del(.hostname) | .root.readonly = true
  | .linux.namespaces = [{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"mount\"},{\"type\":\"user\"},
      {\"type\":\"network\",\"path\":\"/proc/$HOLDER/ns/net\"},{\"type\":\"uts\",\"path\":\"/proc/$HOLDER/ns/uts\"}]
  | .linux.uidMappings = [{\"containerID\":0,\"hostID\":100000,\"size\":65536}]
  | .linux.gidMappings = [{\"containerID\":0,\"hostID\":100000,\"size\":65536}]"
WANT="0 100000 65536 joinedhost 10.123.45.67 0"
norm() { tr -s ' \n' ' ' | sed 's/^ //; s/ $//'; }

out=$("$RT" --root "$T/state" run --bundle "$B" uj1 2>&1)
expect_eq "berth: joined net+uts by path with a new user namespace" "$WANT" "$(norm <<<"$out")"

# create with a relative --pid-file: the file lands in our cwd, so the runtime
# was back in its own mount namespace and directory after the clone.
e2e_on_exit "'$RT' --root '$T/state' delete -f uj2"
b2=$T/bundle2
mkdir -p "$b2" && ln -s "$B/rootfs" "$b2/rootfs"
jq '.process.args = ["sleep", "1000"]' "$B/config.json" >"$b2/config.json"
(cd "$T" && "$RT" --root "$T/state" create --bundle "$b2" --pid-file rel.pid uj2 </dev/null >/dev/null 2>"$T/err")
expect_eq "berth: create with joined namespaces" 0 $?
[ -s "$T/err" ] && sed 's/^/# /' "$T/err"
pid=$("$RT" --root "$T/state" state uj2 2>/dev/null | jq -r .pid)
expect_eq "berth: a relative --pid-file is written in the caller's cwd" "$pid" "$(cat "$T/rel.pid" 2>&1)"
expect_eq "berth: the init is in the holder's network namespace" "$(readlink "/proc/$HOLDER/ns/net")" "$(readlink "/proc/$pid/ns/net" 2>&1 || echo none)"
expect_eq "berth: the init is in the holder's UTS namespace" "$(readlink "/proc/$HOLDER/ns/uts")" "$(readlink "/proc/$pid/ns/uts" 2>&1 || echo none)"
check "berth: the init has its own user namespace" \
  bash -c "u=\$(readlink /proc/$pid/ns/user) && [ -n \"\$u\" ] && [ \"\$u\" != \"\$(readlink /proc/self/ns/user)\" ]"
expect_eq "berth: the runtime itself stays in the host's namespaces (state works)" "created" \
  "$("$RT" --root "$T/state" state uj2 2>/dev/null | jq -r .status)"
"$RT" --root "$T/state" delete -f uj2; expect_eq "berth: delete -f" 0 $?

# A path that is not a namespace of the given type is refused with one line, nothing left.
b3=$T/bundle3
mkdir -p "$b3" && ln -s "$B/rootfs" "$b3/rootfs"
jq ".linux.namespaces |= map(if .type == \"uts\" then .path = \"/proc/$HOLDER/ns/net\" else . end)" "$B/config.json" >"$b3/config.json"
"$RT" --root "$T/state" run --bundle "$b3" uj3 >/dev/null 2>"$T/err"; rc=$?
check "berth: a wrong namespace path fails, naming the uts namespace" \
  bash -c "[ $rc -ne 0 ] && grep -q 'join uts namespace' '$T/err' && [ \$(wc -l <'$T/err') -eq 1 ]"
check "berth: ...and leaves no container" test ! -e "$T/state/uj3"

# sysfs cannot be mounted fresh from a user namespace that does not own the
# network namespace: berth binds the host's /sys instead (as in rootless),
# runc 1.1.5 fails. With /sys as an rbind (what `spec --rootless` writes) both run.
b4=$T/bundle4
mkdir -p "$b4" && ln -s "$B/rootfs" "$b4/rootfs"
jq --arg r "$B/rootfs" '.root.path = $r | .mounts |= map(if .destination == "/sys" then {"destination": "/sys", "type": "none", "source": "/sys",
      "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]} else . end)' "$B/config.json" >"$b4/config.json"
out=$("$RT" --root "$T/state" run --bundle "$b4" uj4 2>&1)
expect_eq "berth: with /sys as an rbind" "$WANT" "$(norm <<<"$out")"
if command -v runc >/dev/null; then
  out=$(runc --root "$T/runc" run --bundle "$B" uj1 2>&1)
  check "runc: a fresh sysfs mount fails there (berth binds the host's)" grep -q 'sysfs.*operation not permitted' <<<"$out"
  runc --root "$T/runc" delete -f uj1 >/dev/null 2>&1
  out=$(runc --root "$T/runc" run --bundle "$b4" uj4 2>&1)
  expect_eq "runc: the same bundle with /sys as an rbind" "$WANT" "$(norm <<<"$out")"
else
  echo "# runc missing: the peer run is skipped"
fi
e2e_finish
