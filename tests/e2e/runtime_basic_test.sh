#!/usr/bin/env bash
# berth-runtime on its own: the runc verbs against a busybox bundle.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/bundle.sh"
RT="$BERTH_BIN/berth-runtime"
T=$(e2e_tmpdir)
ROOT="$T/state"
ID="rtb$$"
rt() { "$RT" --root "$ROOT" "$@"; }
e2e_on_exit "for c in \$(ls $ROOT 2>/dev/null); do $RT --root $ROOT delete --force \$c; done"

B="$T/bundle"
make_busybox_bundle "$B" echo hello
# Runs the bundle with a jq patch applied to a copy of its config.
run_with() {
  local name=$1 patch=$2; shift 2
  local b="$T/b-$name"
  mkdir -p "$b"
  ln -sfn "$B/rootfs" "$b/rootfs"
  jq "$patch" "$B/config.json" >"$b/config.json"
  rt run --bundle "$b" "$ID-$name" "$@"
}

expect_eq "run echo" "hello" "$(run_with echo '.')"
run_with exit '.process.args=["sh","-c","exit 42"]' >/dev/null
expect_eq "exit code" 42 $?
# (outside a pid namespace: a pid-1 init ignores signals it has no handler for)
run_with sig '.linux.namespaces |= map(select(.type!="pid")) | .process.args=["sh","-c","kill -9 $$"]' >/dev/null
expect_eq "killed by signal exit code" 137 $?
expect_eq "env" "bar" "$(run_with env '.process.env += ["FOO=bar"] | .process.args=["sh","-c","echo $FOO"]')"
expect_eq "user" "1000:1000:10 20" "$(run_with user '.process.user={"uid":1000,"gid":1000,"additionalGids":[10,20]} | .process.args=["sh","-c","echo $(id -u):$(id -g):$(id -G | cut -d\" \" -f2-)"]')"
expect_eq "umask" "0027" "$(run_with umask '.process.user.umask=23 | .process.args=["sh","-c","umask"]')"
expect_eq "cwd" "/tmp" "$(run_with cwd '.process.cwd="/tmp" | .process.args=["pwd"]')"
expect_eq "hostname" "berthbox" "$(run_with host '.hostname="berthbox" | .process.args=["hostname"]')"
expect_eq "pid 1" "1" "$(run_with pid1 '.process.args=["sh","-c","echo $$"]')"
mkdir -p "$T/vol" && echo data >"$T/vol/file"
expect_eq "bind mount ro" "data:ro" "$(run_with bind ".mounts += [{\"destination\":\"/mnt/v\",\"type\":\"bind\",\"source\":\"$T/vol\",\"options\":[\"rbind\",\"ro\"]}] | .process.args=[\"sh\",\"-c\",\"cat /mnt/v/file; touch /mnt/v/x 2>/dev/null && echo :rw || echo :ro\"]" | tr -d '\n')"
expect_eq "tmpfs mount" "tmpfs" "$(run_with tmpfs '.mounts += [{"destination":"/scratch","type":"tmpfs","source":"tmpfs","options":["size=1m"]}] | .process.args=["sh","-c","grep \" /scratch \" /proc/mounts | cut -d\" \" -f3"]')"
expect_eq "readonly root" "ro" "$(run_with roroot '.root.readonly=true | .process.args=["sh","-c","touch /x 2>/dev/null && echo rw || echo ro"]')"
expect_eq "rw root" "rw" "$(run_with rwroot '.root.readonly=false | .process.args=["sh","-c","touch /x 2>/dev/null && echo rw || echo ro; rm -f /x"]')"
expect_eq "masked file" "" "$(run_with mask '.process.args=["cat","/proc/keys"]' 2>/dev/null | head -c 10)"
expect_eq "masked dir empty" "" "$(run_with maskdir '.process.args=["ls","/sys/firmware"]')"
expect_eq "readonly path" "ro" "$(run_with ropath '.process.args=["sh","-c","(echo 1 > /proc/sys/kernel/ns_last_pid) 2>/dev/null && echo rw || echo ro"]')"
expect_eq "caps" "00000000000004a0" "$(run_with caps '.process.capabilities={"bounding":["CAP_KILL","CAP_SETUID","CAP_NET_BIND_SERVICE"],"effective":["CAP_KILL","CAP_SETUID","CAP_NET_BIND_SERVICE"],"permitted":["CAP_KILL","CAP_SETUID","CAP_NET_BIND_SERVICE"]} | .process.args=["sh","-c","grep CapEff /proc/self/status | cut -f2"]')"
expect_eq "no_new_privs" "1" "$(run_with nnp '.process.args=["sh","-c","grep NoNewPrivs /proc/self/status | cut -f2"]')"
expect_eq "rlimit" "77" "$(run_with rlim '.process.rlimits=[{"type":"RLIMIT_NOFILE","soft":77,"hard":77}] | .process.args=["sh","-c","ulimit -n"]')"
expect_eq "oomScoreAdj" "123" "$(run_with oom '.process.oomScoreAdj=123 | .process.args=["cat","/proc/self/oom_score_adj"]')"
expect_eq "sysctl" "1" "$(run_with sysctl '.linux.sysctl={"net.ipv4.ip_forward":"1"} | .process.args=["cat","/proc/sys/net/ipv4/ip_forward"]')"
expect_eq "device" "c 1 7" "$(run_with dev '.linux.devices=[{"path":"/dev/myfull","type":"c","major":1,"minor":7,"fileMode":438}] | .process.args=["sh","-c","stat -c \"%F\" /dev/myfull >/dev/null; ls -l /dev/myfull | awk \"{print substr(\\$1,1,1), \\$5+0, \\$6}\""]')"
expect_eq "PATH lookup" "found" "$(run_with path '.process.args=["true"]' && echo found)"
out=$(run_with noexe '.process.args=["no-such-program"]' 2>&1)
check "missing program fails create" grep -q "executable file not found" <<<"$out"
out=$(run_with badcfg '.process.cwd="relative"' 2>&1)
check "invalid config names the field" grep -q "process.cwd" <<<"$out"
check "no state left after failed create" test ! -e "$ROOT/$ID-noexe"

# A user namespace mapping container root to 100000 (rootfs owned by it).
chmod 711 "$T"  # the mapped root must be able to reach its rootfs
cp -a "$B/rootfs" "$T/userns-rootfs" && chown -R 100000:100000 "$T/userns-rootfs"
expect_eq "user namespace" "0 0 100000 65536 wrote" "$(run_with userns ".root.path=\"$T/userns-rootfs\" | .root.readonly=false
  | .linux.namespaces += [{\"type\":\"user\"}]
  | .linux.uidMappings=[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]
  | .linux.gidMappings=[{\"containerID\":0,\"hostID\":100000,\"size\":65536}]
  | .process.args=[\"sh\",\"-c\",\"echo \$(id -u) \$(cat /proc/self/uid_map); touch /tmp/x && echo wrote\"]" | tr -s ' \n' ' ' | sed 's/ $//')"

# Hooks: every phase records its name and the state it saw.
H="$T/hooks"; mkdir -p "$H"
cat >"$H/hook.sh" <<HOOK
#!/bin/sh
read -r state
echo "\$1 \$(echo "\$state" | jq -r .status)" >> $H/log
HOOK
chmod +x "$H/hook.sh"
hk() { echo "{\"path\":\"$H/hook.sh\",\"args\":[\"hook.sh\",\"$1\"]}"; }
patch=".hooks={\"prestart\":[$(hk prestart)],\"createRuntime\":[$(hk createRuntime)],\"createContainer\":[$(hk createContainer)],\"poststart\":[$(hk poststart)],\"poststop\":[$(hk poststop)]} | .process.args=[\"true\"]"
run_with hooks "$patch" >/dev/null
expect_eq "hooks order and state" "prestart creating,createRuntime creating,createContainer creating,poststart running,poststop stopped" "$(paste -sd, "$H/log")"
cat >"$H/slow.sh" <<'HOOK'
#!/bin/sh
sleep 30
HOOK
chmod +x "$H/slow.sh"
out=$(run_with hooktimeout ".hooks={\"createRuntime\":[{\"path\":\"$H/slow.sh\",\"timeout\":1}]} | .process.args=[\"true\"]" 2>&1)
check "hook timeout fails create" grep -q "timed out" <<<"$out"
check "hook timeout leaves no state" test ! -e "$ROOT/$ID-hooktimeout"

# create / start / state / exec / pause / resume / kill / delete.
bundle_patch "$B" '.process.args=["sleep","1000"]'
C="$ID-life"
check "create" rt create --bundle "$B" --pid-file "$T/pid" "$C"
expect_eq "state created" created "$(rt state "$C" | jq -r .status)"
expect_eq "pid file" "$(rt state "$C" | jq -r .pid)" "$(cat "$T/pid")"
expect_eq "list" "$C created" "$(rt list --format json | jq -r ".[] | select(.id==\"$C\") | \"\(.id) \(.status)\"")"
check "duplicate create fails" bash -c "! $RT --root $ROOT create --bundle $B $C 2>/dev/null"
# runc's order: a created container's init has already dropped to the
# process's user and capabilities (and loaded its filter); start only execs.
U="$ID-createduser"
mkdir -p "$T/b-cu" && ln -sfn "$B/rootfs" "$T/b-cu/rootfs"
jq '.process.user={"uid":1000,"gid":1000} | .process.capabilities={"bounding":["CAP_KILL"],"effective":["CAP_KILL"],"permitted":["CAP_KILL"]}' "$B/config.json" >"$T/b-cu/config.json"
check "create as uid 1000" rt create --bundle "$T/b-cu" "$U"
upid=$(rt state "$U" | jq -r .pid)
expect_eq "created init already runs as the process user" 1000 "$(awk '/^Uid:/ {print $2}' /proc/$upid/status)"
expect_eq "created init already holds only the process caps" 0000000000000020 "$(awk '/^CapEff:/ {print $2}' /proc/$upid/status)"
check "start it" rt start "$U"
check "delete it" rt delete --force "$U"
check "start" rt start "$C"
expect_eq "state running" running "$(rt state "$C" | jq -r .status)"
expect_eq "exec" "hi 0" "$(rt exec "$C" sh -c 'echo hi $(id -u)')"
rt exec "$C" sh -c 'exit 5'
expect_eq "exec exit code" 5 $?
expect_eq "exec --user --env --cwd" "1000 X /tmp" "$(rt exec --user 1000:1000 --env V=X --cwd /tmp "$C" sh -c 'echo $(id -u) $V $(pwd)')"
echo '{"args":["sh","-c","echo from-process-json"],"cwd":"/","env":["PATH=/bin"],"user":{"uid":0,"gid":0}}' >"$T/proc.json"
expect_eq "exec --process" "from-process-json" "$(rt exec --process "$T/proc.json" "$C")"
rt exec -d --pid-file "$T/execpid" "$C" sleep 1000
check "exec --detach pid file" test -s "$T/execpid"
expect_eq "ps json counts init and exec" 2 "$(rt ps --format json "$C" | jq length)"
check "pause" rt pause "$C"
expect_eq "state paused" paused "$(rt state "$C" | jq -r .status)"
check "resume" rt resume "$C"
expect_eq "state running again" running "$(rt state "$C" | jq -r .status)"
check "events --stats" bash -c "$RT --root $ROOT events --stats $C | jq -e .data >/dev/null"
check "update pids limit" rt update --pids-limit 123 "$C"
check "delete running refused" bash -c "! $RT --root $ROOT delete $C 2>/dev/null"
check "kill TERM by name" rt kill "$C" KILL
for _ in $(seq 100); do [ "$(rt state "$C" | jq -r .status)" = stopped ] && break; sleep 0.05; done
expect_eq "state stopped" stopped "$(rt state "$C" | jq -r .status)"
check "delete" rt delete "$C"
check "state gone" bash -c "! $RT --root $ROOT state $C 2>/dev/null"
check "delete --force missing is ok" rt delete --force "$C"

# Terminal via --console-socket.
bundle_patch "$B" '.process.terminal=true | .process.args=["sh","-c","tty; echo term-ok"]'
python3 "$BERTH_SRC/tests/e2e/lib/console_recv.py" "$T/console.sock" "$T/console.out" &
RECV=$!
for _ in $(seq 100); do [ -e "$T/console.sock.ready" ] && break; sleep 0.05; done
check "create with console socket" rt create --bundle "$B" --console-socket "$T/console.sock" "$ID-tty"
check "start tty" rt start "$ID-tty"
wait $RECV
check "tty output" grep -q "term-ok" "$T/console.out"
check "tty is a pts" grep -q "/dev/pts/0" "$T/console.out"
rt delete --force "$ID-tty"
out=$(rt create --bundle "$B" "$ID-notty" 2>&1)
check "terminal without console socket refused" grep -q "console-socket" <<<"$out"

# No mount namespace: refused at create, before anything is mounted (runc
# mounts the rootfs in the host's namespace and leaves it there).
out=$(run_with nomnt '.linux.namespaces |= map(select(.type!="mount"))' 2>&1)
check "no mount namespace refused, naming it" grep -q "no mount namespace" <<<"$out"
check "no mount namespace: nothing mounted on the host" bash -c "! grep -q '$T/b-nomnt' /proc/self/mountinfo"
check "no mount namespace: no state left" bash -c "[ ! -e $ROOT/$ID-nomnt ]"

# --log-format json writes runc's error shape.
rt --log "$T/log.json" --log-format json state no-such-container 2>/dev/null
check "json log error" bash -c "jq -e 'select(.level==\"error\") | .msg and .time' $T/log.json >/dev/null"
check "spec --rootless" bash -c "mkdir -p $T/rl && $RT spec --rootless -b $T/rl && jq -e '.linux.uidMappings|length==1' $T/rl/config.json >/dev/null"
check "features" bash -c "$RT features | jq -e '.ociVersionMax' >/dev/null"
e2e_finish
