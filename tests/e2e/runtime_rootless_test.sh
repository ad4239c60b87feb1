#!/usr/bin/env bash
# berth-runtime driven by an unprivileged user (rootless), and the same steps
# with Debian's runc 1.1.5 as the peer: a throwaway user with its own
# /etc/subuid and /etc/subgid range (lib/rootless.sh), XDG_RUNTIME_DIR set to a
# dir made here, a busybox bundle from `spec --rootless`. Covered: run (exit
# codes, uid 0 inside mapped to the user outside, a multi-id mapping through
# newuidmap/newgidmap), create / start / state / exec / ps / list / kill /
# delete, the default state dir, linux.resources without a delegated cgroup,
# and a root container of the same id (whose cgroup is not the user's).
# Where the two runtimes differ, both behaviours are asserted and the reason is
# in docs/runtime.md ("Rootless").
# Needs root (to create the user), uidmap, busybox-static, jq; runc for the peer half.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/bundle.sh"
source "$BERTH_SRC/tests/e2e/lib/rootless.sh"

why=$(rootless_skip_reason)
if [ -n "$why" ]; then echo "# skip: $why"; exit 0; fi

T=$(e2e_tmpdir)
chmod 711 "$T"  # the user reaches its own dirs below
rootless_user_setup || exit 1
RL_XDG=$T/xdg
mkdir -m 700 "$RL_XDG" && chown "$RL_UID:$RL_GID" "$RL_XDG"
BRT=$BERTH_BIN/berth-runtime

# The bundle: spec --rootless run by the user, a rootfs the user owns (the
# container's root is the user, so it must be able to read and write it).
B=$T/bundle
mkdir -p "$B"
make_busybox_rootfs "$B/rootfs"
chown -R "$RL_UID:$RL_GID" "$B"
as_user "$BRT" spec --rootless -b "$B"
expect_eq "spec --rootless as the user" 0 $?
expect_eq "spec --rootless maps container root to the user" "0 $RL_UID 1 / 0 $RL_GID 1" \
  "$(jq -r '[.linux.uidMappings[], .linux.gidMappings[]] | map("\(.containerID) \(.hostID) \(.size)") | join(" / ")' "$B/config.json" 2>&1)"
expect_eq "spec --rootless: no resources, user namespace, no network/cgroup namespace" "null ipc,mount,pid,user,uts" \
  "$(jq -r '"\(.linux.resources) " + ([.linux.namespaces[].type] | sort | join(","))' "$B/config.json" 2>&1)"
if command -v runc >/dev/null; then
  mkdir -p "$T/runc-spec" && chown "$RL_UID" "$T/runc-spec"
  as_user sh -c "cd '$T/runc-spec' && runc spec --rootless"
  # The one difference: runc keeps a cgroup mount on /sys/fs/cgroup; berth
  # drops it (no cgroup of the container's own to show; /sys is the host's rbind).
  expect_eq "spec --rootless equals runc's but for /sys/fs/cgroup" "" \
    "$(diff <(jq -S '.mounts |= map(select(.destination != "/sys/fs/cgroup")) | del(.process.terminal)' "$T/runc-spec/config.json") \
            <(jq -S 'del(.process.terminal)' "$B/config.json") 2>&1)"
fi
bundle_patch "$B" '.process.terminal = false'

# bundle NAME JQ: a bundle dir (owned by the user) whose config is ours with JQ applied.
bundle() {
  local d=$T/b-$1
  mkdir -p "$d"
  jq ".root.path = \"$B/rootfs\" | $2" "$B/config.json" >"$d/config.json"
  chown -R "$RL_UID:$RL_GID" "$d"
  echo "$d"
}
MULTI='.linux.uidMappings = [{"containerID":0,"hostID":'$RL_UID',"size":1},{"containerID":1,"hostID":'$RL_START',"size":65536}]
  | .linux.gidMappings = [{"containerID":0,"hostID":'$RL_GID',"size":1},{"containerID":1,"hostID":'$RL_START',"size":65536}]
  | .process.capabilities |= with_entries(.value += ["CAP_CHOWN"])'

# wait_status RT ID STATUS: poll `state` until it reports STATUS (the init
# of a killed pid namespace exits once its children are reaped).
wait_status() {
  local i
  for i in $(seq 100); do
    [ "$(rt "$1" state "$2" 2>/dev/null | jq -r .status)" = "$3" ] && return 0
    sleep 0.1
  done
  return 1
}

# rt NAME ARGS...: runtime NAME (berth or runc) as the user, with its own --root.
rt() {
  local n=$1; shift
  case $n in
    berth) as_user "$BRT" --root "$RL_XDG/berth-state" "$@" ;;
    runc) as_user runc --root "$RL_XDG/runc-state" "$@" ;;
  esac
}

# steps NAME: the rootless walk-through with runtime NAME; check names start with NAME.
steps() {
  local n=$1 b out pid id
  e2e_on_exit "for c in \$(rt $n list -q 2>/dev/null); do rt $n delete -f \$c; done"
  b=$(bundle "$n-id" '.process.args = ["id"]')
  expect_eq "$n: run id: root inside" "uid=0(root) gid=0(root) groups=0(root)" "$(rt "$n" run --bundle "$b" "$n-id" 2>&1)"
  b=$(bundle "$n-true" '.process.args = ["true"]')
  rt "$n" run --bundle "$b" "$n-true"; expect_eq "$n: run true exits 0" 0 $?
  b=$(bundle "$n-false" '.process.args = ["false"]')
  rt "$n" run --bundle "$b" "$n-false"; expect_eq "$n: run false exits 1" 1 $?
  b=$(bundle "$n-exit3" '.process.args = ["sh", "-c", "exit 3"]')
  rt "$n" run --bundle "$b" "$n-exit3"; expect_eq "$n: run sh -c 'exit 3' exits 3" 3 $?
  b=$(bundle "$n-map" '.process.args = ["cat", "/proc/self/uid_map", "/proc/self/gid_map"]')
  expect_eq "$n: uid/gid map inside: 0 is the user" "0 $RL_UID 1 0 $RL_GID 1" \
    "$(rt "$n" run --bundle "$b" "$n-map" 2>&1 | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')"

  # Several ids through newuidmap/newgidmap: container uid N>0 is subuid start+N-1.
  local data=$T/$n-data
  mkdir -p "$data" && chown "$RL_UID:$RL_GID" "$data"
  b=$(bundle "$n-multi" "$MULTI"' | .mounts += [{"destination":"/data","type":"bind","source":"'"$data"'","options":["rbind"]}]
    | .process.args = ["sh", "-c", "cat /proc/self/uid_map; touch /data/by-1000 /data/by-root; chown 1000:1000 /data/by-1000"]')
  out=$(rt "$n" run --bundle "$b" "$n-multi" 2>&1)
  expect_eq "$n: multi-id uid_map (newuidmap)" "0 $RL_UID 1 1 $RL_START 65536" "$(echo "$out" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')"
  expect_eq "$n: a file chowned to 1000 inside is subuid start+999 outside" "$((RL_START + 999)):$((RL_START + 999))" \
    "$(stat -c %u:%g "$data/by-1000" 2>&1)"
  expect_eq "$n: a file of container root is the user's outside" "$RL_UID:$RL_GID" "$(stat -c %u:%g "$data/by-root" 2>&1)"

  # create / start / state / exec / ps / list / kill / delete.
  id=$n-life
  b=$(bundle "$id" '.process.args = ["sleep", "1000"]')
  rt "$n" create --bundle "$b" "$id" </dev/null >/dev/null 2>"$T/err"; expect_eq "$n: create" 0 $?
  [ -s "$T/err" ] && sed 's/^/# /' "$T/err"
  expect_eq "$n: state after create" "created" "$(rt "$n" state "$id" 2>&1 | jq -r .status)"
  rt "$n" start "$id"; expect_eq "$n: start" 0 $?
  expect_eq "$n: state after start" "running" "$(rt "$n" state "$id" 2>&1 | jq -r .status)"
  pid=$(rt "$n" state "$id" 2>/dev/null | jq -r .pid)
  expect_eq "$n: the init's uid_map seen from the host" "0 $RL_UID 1" "$(tr -s ' ' <"/proc/$pid/uid_map" 2>&1 | sed 's/^ //; s/ $//')"
  expect_eq "$n: the init runs as the user on the host" "$RL_UID" "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status" 2>&1)"
  expect_eq "$n: exec id -u" "0" "$(rt "$n" exec "$id" id -u 2>&1)"
  expect_eq "$n: exec shares the pid namespace" "1 sleep" "$(rt "$n" exec "$id" sh -c 'echo 1 $(cat /proc/1/comm)' 2>&1)"
  rt "$n" exec "$id" sh -c 'exit 5'; expect_eq "$n: exec exit code" 5 $?
  rt "$n" exec -d "$id" sleep 999 </dev/null >/dev/null 2>&1; expect_eq "$n: exec -d" 0 $?
  expect_eq "$n: list -q" "$id" "$(rt "$n" list -q 2>&1)"
  expect_eq "$n: list --format json: running, owned by the user" "$id running $RL_USER" \
    "$(rt "$n" list --format json 2>&1 | jq -r '.[] | "\(.id) \(.status) \(.owner)"')"
  rt "$n" ps --format json "$id" >"$T/ps" 2>"$T/err"; rc=$?
  case $n in
    berth)  # no cgroup: the processes of the init's pid namespace
      expect_eq "berth: ps --format json lists init and the exec'd process" "2" "$(jq length "$T/ps" 2>&1)"
      expect_eq "berth: ps shows both sleeps" "sleep 1000 sleep 999" \
        "$(rt berth ps "$id" -o pid,args 2>&1 | awk 'NR > 1 {$1 = ""; print substr($0, 2)}' | sort | tr '\n' ' ' | sed 's/ $//')" ;;
    runc)   # runc reads the pids from the container's cgroup, which it has none of
      check "runc: ps fails without a cgroup (lstat of the empty cgroup path)" \
        bash -c "[ $rc -ne 0 ] && grep -q 'unable to get all container pids' '$T/err'" ;;
  esac
  rt "$n" delete "$id" 2>"$T/err"; rc=$?
  check "$n: delete of a running container fails, saying so" \
    bash -c "[ $rc -ne 0 ] && grep -q 'that is not stopped: running' '$T/err'"
  rt "$n" kill "$id" KILL; expect_eq "$n: kill KILL" 0 $?
  check "$n: the container stops" wait_status "$n" "$id" stopped
  rt "$n" delete "$id"; expect_eq "$n: delete" 0 $?
  expect_eq "$n: list is empty after delete" "" "$(rt "$n" list -q 2>&1)"
  check "$n: no process left in the user's name" bash -c "! ps -o args= -u $RL_UID | grep -q '^sleep 99[09]'"
  rt "$n" state "$id" >/dev/null 2>&1; check "$n: state of a deleted container fails" [ $? -ne 0 ]

  # kill --all: berth falls back to the init (the pid namespace dies with it);
  # runc 1.1.5 lists the pids from the cgroup and fails.
  id=$n-all
  b=$(bundle "$id" '.process.args = ["sleep", "1000"]')
  rt "$n" run -d --bundle "$b" "$id" </dev/null >/dev/null 2>&1
  rt "$n" kill --all "$id" KILL 2>"$T/err"; rc=$?
  case $n in
    berth) expect_eq "berth: kill --all without a cgroup" 0 $rc
            check "berth: ...the container stops" wait_status berth "$id" stopped ;;
    runc) check "runc: kill --all fails without a cgroup" [ $rc -ne 0 ] ;;
  esac
  rt "$n" delete -f "$id"; expect_eq "$n: delete -f" 0 $?

  # linux.resources: no cgroup to hold the limit, so both refuse (runc:
  # "cannot set memory limit: container could not join or create cgroup").
  b=$(bundle "$n-mem" '.process.args = ["true"] | .linux.resources = {"memory": {"limit": 67108864}}')
  rt "$n" run --bundle "$b" "$n-mem" >/dev/null 2>"$T/err"; rc=$?
  case $n in
    berth) check "berth: a memory limit is refused, naming it" \
             bash -c "[ $rc -ne 0 ] && grep -q 'rootless: resource limits need a cgroup delegated to the user (linux.resources.memory)' '$T/err'" ;;
    runc) check "runc: a memory limit is refused" bash -c "[ $rc -ne 0 ] && grep -q 'cannot set memory limit' '$T/err'" ;;
  esac
  rt "$n" delete -f "$n-mem" >/dev/null 2>&1
  b=$(bundle "$n-pids" '.process.args = ["true"] | .linux.resources = {"pids": {"limit": 100}}')
  rt "$n" run --bundle "$b" "$n-pids" >/dev/null 2>&1; check "$n: a pids limit is refused" [ $? -ne 0 ]
  rt "$n" delete -f "$n-pids" >/dev/null 2>&1
  check "$n: a refused create leaves no container" [ -z "$(rt "$n" list -q 2>&1)" ]
  # Device rules alone (a root spec's deny-all) are ignored, as runc does.
  b=$(bundle "$n-dev" '.process.args = ["true"] | .linux.resources = {"devices": [{"allow": false, "access": "rwm"}]}')
  rt "$n" run --bundle "$b" "$n-dev"; expect_eq "$n: device rules alone are ignored" 0 $?
}

steps berth

# A root container with the same id has a cgroup of that name (/berth/<id>):
# it is not the user's, so the user's container must neither fail on it nor
# list, signal or remove what is in it.
SHARED=rl-shared-$$
make_busybox_bundle "$T/root-bundle" sleep 1000
"$BRT" --root "$T/root-state" run -d --bundle "$T/root-bundle" "$SHARED" </dev/null >/dev/null 2>&1
e2e_on_exit "'$BRT' --root '$T/root-state' delete -f $SHARED"
rootpid=$("$BRT" --root "$T/root-state" state "$SHARED" 2>/dev/null | jq -r .pid)
b=$(bundle shared '.process.args = ["sleep", "1000"]')
rt berth run -d --bundle "$b" "$SHARED" </dev/null >/dev/null 2>"$T/err"
expect_eq "berth: same id as a root container: run -d" 0 $?
[ -s "$T/err" ] && sed 's/^/# /' "$T/err"
userpid=$(rt berth state "$SHARED" 2>/dev/null | jq -r .pid)
expect_eq "berth: ...ps lists only the user's container" "[$userpid]" "$(rt berth ps --format json "$SHARED" 2>&1)"
rt berth kill --all "$SHARED" KILL; expect_eq "berth: ...kill --all" 0 $?
check "berth: ...the user's container stops" wait_status berth "$SHARED" stopped
rt berth delete "$SHARED"; expect_eq "berth: ...delete" 0 $?
expect_eq "berth: ...the root container is untouched" "running $rootpid" \
  "$("$BRT" --root "$T/root-state" state "$SHARED" 2>&1 | jq -r '"\(.status) \(.pid)"')"
"$BRT" --root "$T/root-state" delete -f "$SHARED"

# No --root: the state goes to $XDG_RUNTIME_DIR/berth-runtime (runc: .../runc).
b=$(bundle dflt '.process.args = ["sleep", "1000"]')
as_user "$BRT" create --bundle "$b" dflt </dev/null >/dev/null 2>"$T/err"
expect_eq "berth: without --root the state is in \$XDG_RUNTIME_DIR/berth-runtime" "dflt" \
  "$(ls "$RL_XDG/berth-runtime" 2>&1)"
[ -s "$T/err" ] && sed 's/^/# /' "$T/err"
as_user "$BRT" delete -f dflt; expect_eq "berth: delete -f with the default root" 0 $?

# An explicit cgroupsPath that cannot be made: berth ignores it (the engine's
# rootless mode always sets one), runc refuses (docs/runtime.md).
b=$(bundle cgpath '.process.args = ["true"] | .linux.cgroupsPath = "/berth-rootless-test"')
rt berth run --bundle "$b" cgp; expect_eq "berth: an unusable cgroupsPath without limits is ignored" 0 $?

if command -v runc >/dev/null; then
  steps runc
  rt runc run --bundle "$b" cgp >/dev/null 2>"$T/err"; rc=$?
  check "runc: an unusable cgroupsPath is refused" bash -c "[ $rc -ne 0 ] && grep -q 'permission denied' '$T/err'"
  rt runc delete -f cgp >/dev/null 2>&1
  b=$(bundle dflt-runc '.process.args = ["sleep", "1000"]')
  as_user runc create --bundle "$b" dflt </dev/null >/dev/null 2>&1
  expect_eq "runc: without --root the state is in \$XDG_RUNTIME_DIR/runc" "dflt" "$(ls "$RL_XDG/runc" 2>&1)"
  as_user runc delete -f dflt
else
  echo "# runc missing: the peer half is skipped"
fi

e2e_finish
