#!/usr/bin/env bash
# berth's container lifecycle against Docker's semantics: run (exit codes,
# --rm, -d, --name, -e/-w/-u/-h/--entrypoint, -i, -t), create/start, stop,
# kill, restart, rm, wait, pause/unpause, rename, prune, ps, inspect, the
# monitor surviving the CLI and dying under kill -9, restart policies.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/engine.sh"
engine_setup bb
engine_import_image bb-usr1 'STOPSIGNAL SIGUSR1'
N="--network none"
T=$(e2e_tmpdir)

# --- run: exit codes ---------------------------------------------------------
b run --rm $N bb true; expect_eq "run true exits 0" 0 $?
b run --rm $N bb sh -c 'exit 3'; expect_eq "run exit 3 gives 3" 3 $?
b run --rm $N bb nonexistent-cmd 2>"$T/err"; expect_eq "command not found exits 127 (Docker)" 127 $?
check "command not found says so" grep -q 'executable file not found' "$T/err"
b run --rm $N bb /etc/passwd 2>/dev/null; expect_eq "non-executable exits 126 (Docker)" 126 $?
b run --rm $N bb /no/such/file 2>/dev/null; expect_eq "missing absolute path exits 127" 127 $?
b run --rm $N bb nope 2>/dev/null
check "failed --rm run leaves no container" bash -c "[ -z \"\$(\"$BERTH_BIN/berth\" --root '$ROOT' ps -aq)\" ]"

# Foreground signals: the CLI proxies SIGINT to the container; a trap turns it
# into 130. `kill` (SIGKILL) of a foreground container gives 137.
# (the berth binary itself in the background: `b ... &` would be a subshell
# that ignores SIGINT, as background jobs of a script do)
"$BERTH_BIN/berth" --root "$ROOT" run --rm $N --name sigint bb sh -c 'trap "exit 130" INT; echo ready; while :; do sleep 0.05; done' >"$T/sigint.out" &
fg=$!
for _ in $(seq 200); do grep -q ready "$T/sigint.out" 2>/dev/null && break; sleep 0.05; done
e2e_on_exit "kill -9 $fg"
kill -INT $fg; wait $fg; expect_eq "SIGINT to foreground run is proxied (130)" 130 $?
"$BERTH_BIN/berth" --root "$ROOT" run --rm $N --name sigkill bb sleep 60 &
fg=$!
engine_wait_status sigkill running
b kill sigkill >/dev/null; wait $fg; expect_eq "killed foreground container exits 137" 137 $?

# --- --rm leaves nothing -----------------------------------------------------
b run --rm $N --name rmme bb sh -c 'echo x > /tmp/f' >/dev/null
check "--rm: no row" bash -c "! \"$BERTH_BIN/berth\" --root '$ROOT' ps -a --format json | grep -q '\"rmme\"'"
expect_eq "--rm: no container dirs" "" "$(ls "$ROOT/containers" 2>/dev/null)"
expect_eq "--rm: no mounts under the root" 0 "$(engine_mounts_under "$ROOT")"
expect_eq "--rm: no runtime state" "" "$(ls "$(engine_run_dir)/runtime" 2>/dev/null)"
id=$(b run -d --rm $N bb true)
b wait "$id" >/dev/null 2>&1
for _ in $(seq 100); do [ -z "$(engine_left_over "$id")" ] && break; sleep 0.05; done
expect_eq "-d --rm: nothing left after exit" "" "$(engine_left_over "$id")"

# --- -d, --name, options -------------------------------------------------------
id=$(b run -d $N --name d1 bb sleep 60)
check "-d prints the 64-hex id" bash -c "[[ '$id' =~ ^[0-9a-f]{64}$ ]]"
b run -d $N --name d1 bb true >/dev/null 2>"$T/err"; rc=$?
check "--name clash fails" [ $rc -ne 0 ]
check "--name clash says the name is in use (Docker)" grep -q 'name "/\?d1" is already in use' "$T/err"
expect_eq "-e" "v1" "$(b run --rm $N -e A=v1 bb sh -c 'echo $A')"
expect_eq "-w" "/tmp" "$(b run --rm $N -w /tmp bb pwd)"
expect_eq "-w creates a missing dir" "/new/dir" "$(b run --rm $N -w /new/dir bb pwd)"
expect_eq "-u uid:gid" "65534:65534" "$(b run --rm $N -u 65534:65534 bb sh -c 'echo $(id -u):$(id -g)')"
expect_eq "-u name" "nobody" "$(b run --rm $N -u nobody bb id -un)"
expect_eq "-h" "myhost" "$(b run --rm $N -h myhost bb hostname)"
expect_eq "--entrypoint" "a b" "$(b run --rm $N --entrypoint echo bb a b)"
expect_eq "-i with piped stdin" "hi" "$(echo hi | b run --rm -i $N bb cat)"
expect_eq "without -i stdin is empty" "" "$(echo hi | b run --rm $N bb cat)"
if command -v script >/dev/null; then
  out=$(script -qec "\"$BERTH_BIN/berth\" --root '$ROOT' run --rm -t $N bb sh -c '[ -t 0 ] && [ -t 1 ] && echo tty-yes'" /dev/null </dev/null | tr -d '\r')
  check "-t gives the container a terminal" grep -q tty-yes <<<"$out"
fi
n=$(b run --rm $N bb sh -c 'i=0; while [ $i -lt 2000 ]; do echo $i; i=$((i+1)); done' | wc -l)
expect_eq "foreground: 2000 lines written before exit all arrive" 2000 "$n"
id=$(b run -d $N bb sh -c 'i=0; while [ $i -lt 2000 ]; do echo $i; i=$((i+1)); done')
expect_eq "-d + wait prints the exit code" 0 "$(b wait "$id")"
expect_eq "-d + logs: 2000 lines" 2000 "$(b logs "$id" | wc -l)"
expect_eq "-d + logs: the last line" 1999 "$(b logs "$id" | tail -1)"

# --- create / start / start -a -------------------------------------------------
id=$(b create $N --name c1 bb sh -c 'echo started; exit 4')
expect_eq "create: status created" created "$(b inspect --format '{{.State.Status}}' c1)"
check "create: ps -a shows Created" bash -c "\"$BERTH_BIN/berth\" --root '$ROOT' ps -a | grep c1 | grep -q Created"
out=$(b start -a c1); rc=$?
expect_eq "start -a shows output" started "$out"
expect_eq "start -a returns the exit code" 4 $rc
expect_eq "inspect ExitCode" 4 "$(b inspect --format '{{.State.ExitCode}}' c1)"
expect_eq "start prints the name" c1 "$(b start c1)"
expect_eq "wait after start" 4 "$(b wait c1)"
expect_eq "logs has both runs" "started started" "$(b logs c1 | xargs)"

# --- stop ------------------------------------------------------------------------
b run -d $N --name st1 bb sh -c 'trap "exit 0" TERM; while :; do sleep 0.05; done' >/dev/null
engine_wait_status st1 running
expect_eq "stop prints the name" st1 "$(b stop st1)"
expect_eq "stop: TERM trap exits 0" 0 "$(b inspect --format '{{.State.ExitCode}}' st1)"
check "stop: ps shows Exited (0)" bash -c "\"$BERTH_BIN/berth\" --root '$ROOT' ps -a --filter name=st1 | grep -q 'Exited (0)'"
b run -d $N --name st2 bb sleep 60 >/dev/null
b stop -t 0 st2 >/dev/null
expect_eq "stop -t 0 kills (137)" 137 "$(b inspect --format '{{.State.ExitCode}}' st2)"
b run -d $N --name st3 --stop-signal USR1 bb sh -c 'trap "exit 7" USR1; while :; do sleep 0.05; done' >/dev/null
engine_wait_status st3 running
b stop st3 >/dev/null
expect_eq "--stop-signal USR1 honoured" 7 "$(b inspect --format '{{.State.ExitCode}}' st3)"
b run -d $N --name st4 bb-usr1 sh -c 'trap "exit 8" USR1; while :; do sleep 0.05; done' >/dev/null
engine_wait_status st4 running
expect_eq "image STOPSIGNAL shown in inspect" SIGUSR1 "$(b inspect --format '{{.Config.StopSignal}}' st4)"
b stop st4 >/dev/null
expect_eq "image STOPSIGNAL honoured" 8 "$(b inspect --format '{{.State.ExitCode}}' st4)"
b stop st4 >/dev/null; expect_eq "stop of a stopped container succeeds" 0 $?

# --- kill --------------------------------------------------------------------------
b run -d $N --name k1 bb sh -c 'trap "echo got-usr1" USR1; while :; do sleep 0.05; done' >/dev/null
engine_wait_status k1 running
for _ in $(seq 100); do b exec k1 true 2>/dev/null && break; sleep 0.05; done
sleep 0.2  # let sh install the trap (it is the first thing it does)
expect_eq "kill -s USR1 prints the name" k1 "$(b kill -s USR1 k1)"
for _ in $(seq 100); do b logs k1 | grep -q got-usr1 && break; sleep 0.05; done
check "kill -s USR1 reaches the trap" bash -c "\"$BERTH_BIN/berth\" --root '$ROOT' logs k1 | grep -q got-usr1"
expect_eq "still running after USR1" running "$(b inspect --format '{{.State.Status}}' k1)"
b kill k1 >/dev/null
expect_eq "kill (default KILL) -> 137" 137 "$(b wait k1)"
b kill k1 2>"$T/err"; rc=$?
check "kill of a stopped container fails" [ $rc -ne 0 ]
check "kill of a stopped container: Docker's message" grep -q 'is not running' "$T/err"

# --- restart -------------------------------------------------------------------------
b run -d $N --name r1 bb sleep 60 >/dev/null
pid1=$(b inspect --format '{{.State.Pid}}' r1)
expect_eq "restart prints the name" r1 "$(b restart -t 0 r1)"
pid2=$(b inspect --format '{{.State.Pid}}' r1)
expect_eq "restart: running again" running "$(b inspect --format '{{.State.Status}}' r1)"
check "restart: a new process" [ "$pid1" != "$pid2" ]
b stop -t 0 c1 >/dev/null
expect_eq "restart of an exited container starts it" c1 "$(b restart c1)"

# --- rm ---------------------------------------------------------------------------------
b rm r1 2>"$T/err"; rc=$?
check "rm of a running container is refused" [ $rc -ne 0 ]
check "rm refusal: Docker's message" grep -q 'cannot remove container "\?/\?r1"\?: container is running: stop the container before removing or force remove' "$T/err"
expect_eq "rm refusal leaves it running" running "$(b inspect --format '{{.State.Status}}' r1)"
rid=$(b inspect --format '{{.Id}}' r1)
expect_eq "rm -f prints the name" r1 "$(b rm -f r1)"
expect_eq "rm -f: nothing left" "" "$(engine_left_over "$rid")"
b rm no-such-container 2>"$T/err"; rc=$?
expect_eq "rm of an unknown container exits 1" 1 $rc
check "rm of an unknown: 'No such container'" grep -q 'No such container: no-such-container' "$T/err"

# --- wait -------------------------------------------------------------------------------
b run -d $N --name w1 bb sh -c 'sleep 0.3; exit 9' >/dev/null
expect_eq "wait blocks and prints the exit code" 9 "$(b wait w1)"
expect_eq "wait on an exited container" 9 "$(b wait w1)"

# --- pause / unpause ----------------------------------------------------------------------
b run -d $N --name p1 bb sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.02; done' >/dev/null
engine_wait_status p1 running
expect_eq "pause prints the name" p1 "$(b pause p1)"
expect_eq "paused: inspect" paused "$(b inspect --format '{{.State.Status}}' p1)"
expect_eq "paused: inspect .State.Paused" true "$(b inspect --format '{{.State.Paused}}' p1)"
check "paused: ps shows (Paused)" bash -c "\"$BERTH_BIN/berth\" --root '$ROOT' ps --filter name=p1 | grep -q '(Paused)'"
check "paused: ps --filter status=paused" bash -c "[ \"\$(\"$BERTH_BIN/berth\" --root '$ROOT' ps -q --filter status=paused)\" = \"\$(\"$BERTH_BIN/berth\" --root '$ROOT' ps -q --filter name=p1)\" ]"
c1v=$(cat "$ROOT/containers/$(b inspect --format '{{.Id}}' p1)/merged/tmp/count")
sleep 0.3
c2v=$(cat "$ROOT/containers/$(b inspect --format '{{.Id}}' p1)/merged/tmp/count")
expect_eq "paused: the process makes no progress" "$c1v" "$c2v"
state=$(awk '{print $3}' "/proc/$(b inspect --format '{{.State.Pid}}' p1)/stat")
check "paused: the init is frozen (D or S in the freezer)" bash -c "[ '$state' = D ] || [ '$state' = S ] || [ '$state' = T ]"
expect_eq "unpause prints the name" p1 "$(b unpause p1)"
expect_eq "unpaused: running" running "$(b inspect --format '{{.State.Status}}' p1)"
for _ in $(seq 100); do [ "$(cat "$ROOT/containers/$(b inspect --format '{{.Id}}' p1)/merged/tmp/count")" != "$c2v" ] && break; sleep 0.05; done
check "unpaused: progress again" [ "$(cat "$ROOT/containers/$(b inspect --format '{{.Id}}' p1)/merged/tmp/count")" != "$c2v" ]
b pause p1 >/dev/null
b rm -f p1 >/dev/null; expect_eq "rm -f of a paused container" 0 $?

# --- rename ------------------------------------------------------------------------------------
b rename w1 w1-renamed; expect_eq "rename exits 0" 0 $?
expect_eq "rename: inspect .Name" /w1-renamed "$(b inspect --format '{{.Name}}' w1-renamed)"
b rename w1-renamed st1 2>/dev/null; rc=$?
check "rename onto a used name fails" [ $rc -ne 0 ]

# --- ps ----------------------------------------------------------------------------------------
b run -d $N --name lab1 -l tier=web -l team=a bb sleep 60 >/dev/null
b run -d $N --name lab2 -l tier=db bb sleep 60 >/dev/null
check "ps shows running only" bash -c "! \"$BERTH_BIN/berth\" --root '$ROOT' ps | grep -q ' st1\$'"
check "ps -a shows exited" bash -c "\"$BERTH_BIN/berth\" --root '$ROOT' ps -a | grep -q ' st1\$'"
check "ps header is Docker's" bash -c "\"$BERTH_BIN/berth\" --root '$ROOT' ps | head -1 | grep -Eq '^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES\$'"
check "ps -q prints 12-hex ids" bash -c "\"$BERTH_BIN/berth\" --root '$ROOT' ps -q | grep -Evq '^[0-9a-f]{12}\$' && exit 1 || exit 0"
check "ps -q --no-trunc prints 64-hex ids" bash -c "\"$BERTH_BIN/berth\" --root '$ROOT' ps -q --no-trunc | grep -Eq '^[0-9a-f]{64}\$'"
expect_eq "ps --filter label=tier=web" lab1 "$(b ps --filter label=tier=web --format '{{.Names}}')"
expect_eq "ps --filter label=tier" "lab1 lab2" "$(b ps --filter label=tier --format '{{.Names}}' | sort | xargs)"
expect_eq "ps --filter name=" lab2 "$(b ps --filter name=lab2 --format '{{.Names}}')"
expect_eq "ps --filter status=exited" "yes" "$(b ps -a --filter status=exited --format '{{.Names}}' | grep -qx st1 && echo yes)"
expect_eq "ps --filter status=created" "" "$(b ps -a --filter status=created --format '{{.Names}}')"
check "ps --format json: one object per line" bash -c "\"$BERTH_BIN/berth\" --root '$ROOT' ps -a --format json | jq -e -s 'length >= 5 and all(.[]; has(\"ID\") and has(\"Names\") and has(\"Status\") and has(\"State\"))' >/dev/null"
check "ps STATUS: Up" bash -c "\"$BERTH_BIN/berth\" --root '$ROOT' ps --filter name=lab1 --format '{{.Status}}' | grep -Eq '^Up '"
check "ps STATUS: Exited (137) ... ago" bash -c "\"$BERTH_BIN/berth\" --root '$ROOT' ps -a --filter name=st2 --format '{{.Status}}' | grep -Eq '^Exited \(137\) .* ago\$'"

# --- inspect -------------------------------------------------------------------------------------
expect_eq "inspect .State.Status" running "$(b inspect --format '{{.State.Status}}' lab1)"
expect_eq "inspect .State.Running" true "$(b inspect --format '{{.State.Running}}' lab1)"
check "inspect .State.Pid is the init" bash -c "grep -q sleep /proc/\$(\"$BERTH_BIN/berth\" --root '$ROOT' inspect --format '{{.State.Pid}}' lab1)/cmdline"
expect_eq "inspect .Name" /lab1 "$(b inspect --format '{{.Name}}' lab1)"
expect_eq "inspect .Config.Labels" web "$(b inspect --format '{{.Config.Labels.tier}}' lab1)"
expect_eq "inspect JSON array" 1 "$(b inspect lab1 | jq length)"
expect_eq "inspect .State.Pid of exited is 0" 0 "$(b inspect --format '{{.State.Pid}}' st1)"
expect_eq "container inspect" running "$(b container inspect --format '{{.State.Status}}' lab1)"

# --- the monitor --------------------------------------------------------------------------------
b run -d $N --name mon1 bb sleep 300 >/dev/null
mpid=$(ps -eo pid,args | awk -v id="$(b inspect --format '{{.Id}}' mon1)" '$2 ~ /berth-monitor$/ && index($0, id) {print $1}')
check "detached container has a berth-monitor" [ -n "$mpid" ]
check "the monitor is not a child of this shell" bash -c "[ \"\$(ps -o ppid= -p $mpid | tr -d ' ')\" != $$ ]"
rss=$(ps -o rss= -p "$mpid" | tr -d ' ')
echo "# berth-monitor RSS for a detached sleep container: ${rss} KiB"
check "monitor RSS under 4 MiB" [ "${rss:-99999}" -lt 4096 ]
expect_eq "detached container survives the CLI" running "$(b inspect --format '{{.State.Status}}' mon1)"
mid=$(b inspect --format '{{.Id}}' mon1)
ipid=$(b inspect --format '{{.State.Pid}}' mon1)
kill -9 "$mpid"
for _ in $(seq 100); do [ "$(b inspect --format '{{.State.Status}}' mon1)" = exited ] && break; sleep 0.05; done
expect_eq "monitor killed: ps shows exited, not Up" exited "$(b inspect --format '{{.State.Status}}' mon1)"
check "monitor killed: ps -a says Exited" bash -c "\"$BERTH_BIN/berth\" --root '$ROOT' ps -a --filter name=mon1 --format '{{.Status}}' | grep -q '^Exited'"
gone() { [ ! -e "/proc/$1" ] || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
for _ in $(seq 100); do gone "$ipid" && break; sleep 0.05; done
check "monitor killed: the container process is gone" gone "$ipid"
b rm mon1 >/dev/null; expect_eq "monitor killed: rm works" 0 $?
expect_eq "monitor killed: rm cleans mounts and state" "" "$(engine_left_over "$mid")"

# --- restart policies -------------------------------------------------------------------------------
b run -d $N --name rp1 --restart on-failure:2 bb sh -c 'exit 1' >/dev/null
for _ in $(seq 200); do
  [ "$(b inspect --format '{{.RestartCount}} {{.State.Status}}' rp1)" = "2 exited" ] && break; sleep 0.05
done
expect_eq "on-failure:2 restarts twice then stays exited" "2 exited 1" "$(b inspect --format '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}' rp1)"
b run -d $N --name rp2 --restart always bb sh -c 'sleep 0.2; exit 0' >/dev/null
for _ in $(seq 200); do [ "$(b inspect --format '{{.RestartCount}}' rp2)" -ge 1 ] && break; sleep 0.05; done
check "always: restarted after exiting by itself" [ "$(b inspect --format '{{.RestartCount}}' rp2)" -ge 1 ]
b stop -t 1 rp2 >/dev/null
n1=$(b inspect --format '{{.RestartCount}}' rp2)
sleep 1
expect_eq "always: not restarted after stop" "exited $n1" "$(b inspect --format '{{.State.Status}} {{.RestartCount}}' rp2)"

# --- container prune -------------------------------------------------------------------------------
before=$(b ps -aq | wc -l)
# What a crash in the middle of rm leaves (the dir is renamed before it is emptied).
mkdir -p "$ROOT/containers/.removing-c.1.crashed/upper/d" && chmod 0 "$ROOT/containers/.removing-c.1.crashed/upper/d"
b container prune -f >"$T/prune"
check "prune removes half-removed container dirs" [ ! -e "$ROOT/containers/.removing-c.1.crashed" ]
check "prune lists deleted ids" grep -q '^Deleted Containers:' "$T/prune"
check "prune keeps running containers" bash -c "\"$BERTH_BIN/berth\" --root '$ROOT' ps -q --filter name=lab1 | grep -q ."
expect_eq "prune removes all stopped" "" "$(b ps -aq --filter status=exited)"
check "prune removed something" [ "$(b ps -aq | wc -l)" -lt "$before" ]

e2e_finish
