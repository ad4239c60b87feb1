#!/usr/bin/env bash
# berth logs and events against Docker's semantics: stream separation, --tail,
# --since/--until, -t, -f (every line exactly once, ends when the container
# exits), logs after exit; the event sequence of a container's life, event
# filters, time windows, --format json, follow mode and `events --logs`.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/engine.sh"
engine_setup bb
N="--network none"
T=$(e2e_tmpdir)
now() { date +%s.%N; }

# --- logs --------------------------------------------------------------------
# stdout and stderr are two pipes: only output written at different moments
# has an order between the streams (the pauses), as with Docker.
id=$(b run -d $N --name l1 bb sh -c 'echo out1; sleep 0.1; echo err1 >&2; sleep 0.1; echo out2; sleep 0.1; echo err2 >&2; sleep 0.1; echo out3')
b wait l1 >/dev/null
expect_eq "logs after exit: stdout lines on stdout" "out1 out2 out3" "$(b logs l1 2>/dev/null | xargs)"
expect_eq "logs after exit: stderr lines on stderr" "err1 err2" "$(b logs l1 2>&1 >/dev/null | xargs)"
expect_eq "logs: all five lines" 5 "$(b logs l1 2>&1 | wc -l)"
expect_eq "logs --tail 2" "err2 out3" "$(b logs --tail 2 l1 2>&1 | xargs)"
expect_eq "logs -n 1" "out3" "$(b logs -n 1 l1 2>&1 | xargs)"
expect_eq "logs --tail 0" "" "$(b logs --tail 0 l1 2>&1)"
expect_eq "logs --tail all" 5 "$(b logs --tail all l1 2>&1 | wc -l)"
b logs --tail x l1 >/dev/null 2>&1; rc=$?
check "logs --tail x is refused" [ $rc -ne 0 ]
check "logs -t: RFC 3339 nano timestamps" bash -c "\"$BERTH_BIN/berth\" --root '$ROOT' logs -t l1 2>&1 | grep -Evq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+Z (out|err)[0-9]\$' && exit 1 || exit 0"
# --since/--until are inclusive bounds (Docker), given as the 3rd line's time.
t3=$(b logs -t l1 2>&1 | sed -n 3p | cut -d' ' -f1)
expect_eq "logs --since <time of line 3>" "out2 err2 out3" "$(b logs --since "$t3" l1 2>&1 | xargs)"
expect_eq "logs --until <time of line 3>" "out1 err1 out2" "$(b logs --until "$t3" l1 2>&1 | xargs)"
expect_eq "logs --since 1h (relative)" 5 "$(b logs --since 1h l1 2>&1 | wc -l)"
expect_eq "logs --until 1h (an hour ago: nothing)" "" "$(b logs --until 1h l1 2>&1)"
expect_eq "logs --since <unix seconds>" 5 "$(b logs --since "$(($(date +%s) - 3600))" l1 2>&1 | wc -l)"
b logs --since yesterday-ish l1 >/dev/null 2>"$T/err"; rc=$?
check "logs --since garbage is refused with one line" bash -c "[ $rc -ne 0 ] && [ \$(wc -l < '$T/err') -eq 1 ]"
expect_eq "logs -f of an exited container returns everything" 5 "$(timeout 20 "$BERTH_BIN/berth" --root "$ROOT" logs -f l1 2>&1 | wc -l)"
b logs no-such 2>"$T/err"; rc=$?
check "logs of an unknown container fails" [ $rc -ne 0 ]
check "logs of an unknown container: Docker's message" grep -q 'No such container: no-such' "$T/err"

# -f from the start of a container that writes 500 lines then exits: every
# line exactly once, in order, and -f ends by itself.
id=$(b create $N --name lf bb sh -c 'i=0; while [ $i -lt 500 ]; do echo line$i; i=$((i+1)); [ $((i % 50)) = 0 ] && sleep 0.05; done')
b start lf >/dev/null
timeout 60 "$BERTH_BIN/berth" --root "$ROOT" logs -f lf >"$T/follow" 2>&1; rc=$?
expect_eq "logs -f ends when the container exits" 0 $rc
seq 0 499 | sed 's/^/line/' >"$T/want"
check "logs -f: every line exactly once, in order" diff -q "$T/want" "$T/follow"
# A follower attached while the container runs, to a detached container.
b run -d $N --name lf2 bb sh -c 'sleep 0.3; i=0; while [ $i -lt 300 ]; do echo x$i; i=$((i+1)); done; sleep 0.2; echo last' >/dev/null
timeout 60 "$BERTH_BIN/berth" --root "$ROOT" logs -f lf2 >"$T/follow2" 2>&1
expect_eq "logs -f (attached mid-run): 301 lines" 301 "$(wc -l <"$T/follow2")"
expect_eq "logs -f (attached mid-run): no duplicates" 301 "$(sort -u "$T/follow2" | wc -l)"
expect_eq "logs -f --tail 1 of an exited container" last "$(timeout 20 "$BERTH_BIN/berth" --root "$ROOT" logs -f --tail 1 lf2)"
# -t on a tty container: one stream, still timestamped lines.
b run -d -t $N --name lt bb sh -c 'echo tty-out; echo tty-err >&2' >/dev/null
b wait lt >/dev/null
expect_eq "tty container: both streams in the log, on stdout" "tty-out tty-err" "$(b logs lt 2>/dev/null | tr -d '\r' | xargs)"

# --- events: one container's life, in order ------------------------------------
S=$(now)
sleep 0.01
eid=$(b run -d $N --name ev1 -l evlabel=yes bb sh -c 'trap "" USR1; while :; do sleep 0.05; done')
engine_wait_status ev1 running
b kill -s USR1 ev1 >/dev/null
b pause ev1 >/dev/null
b unpause ev1 >/dev/null
b rename ev1 ev1b
b stop -t 0 ev1b >/dev/null
b rm ev1b >/dev/null
sleep 0.01
U=$(now)
expect_eq "events: a container's life in order" \
  "create start kill pause unpause rename kill die stop destroy" \
  "$(b events --since "$S" --until "$U" --filter container="$eid" --format '{{.Action}}' | xargs)"
expect_eq "events: kill carries the signal (USR1=10, then KILL=9)" "10 9" \
  "$(b events --since "$S" --until "$U" --filter container="$eid" --filter event=kill --format '{{.Actor.Attributes.signal}}' | xargs)"
expect_eq "events --filter event=die: exitCode" 137 \
  "$(b events --since "$S" --until "$U" --filter container="$eid" --filter event=die --format '{{.Actor.Attributes.exitCode}}')"
expect_eq "events --filter container=NAME (the new name)" "stop destroy" \
  "$(b events --since "$S" --until "$U" --filter container=ev1b --filter event=stop --filter event=destroy --format '{{.Action}}' | xargs)"
expect_eq "events: rename has oldName" ev1 \
  "$(b events --since "$S" --until "$U" --filter event=rename --format '{{.Actor.Attributes.oldName}}')"
# (the monitor's die event does not carry the labels yet: berth-monitor gets none)
expect_eq "events --filter label=" "create start kill pause unpause rename kill stop destroy" \
  "$(b events --since "$S" --until "$U" --filter label=evlabel=yes --format '{{.Action}}' | xargs)"
check "events --format json: one object per line, Docker's keys" bash -c "
  \"$BERTH_BIN/berth\" --root '$ROOT' events --since '$S' --until '$U' --format json |
  jq -e -s 'length == 10 and all(.[]; .Type == \"container\" and .id == \"$eid\" and (.Actor.ID == \"$eid\") and (.timeNano|type) == \"number\" and (.time|type) == \"number\")' >/dev/null"
check "events default text: Docker's line shape" bash -c "
  \"$BERTH_BIN/berth\" --root '$ROOT' events --since '$S' --until '$U' --filter event=create |
  grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z container create $eid \(.*image=bb.*name=ev1.*\)\$'"
check "events: timeNano never goes backwards" bash -c "
  \"$BERTH_BIN/berth\" --root '$ROOT' events --since '$S' --until '$U' --format '{{.timeNano}}' | sort -c -n"

# Time windows: events before --since and after --until are left out.
b create $N --name win1 bb true >/dev/null
M=$(now)
sleep 0.01
b create $N --name win2 bb true >/dev/null
E=$(now)
expect_eq "events --since M: only what came after" win2 \
  "$(b events --since "$M" --until "$E" --filter event=create --format '{{.Actor.Attributes.name}}' | xargs)"
expect_eq "events --until M: only what came before" "ev1 win1" \
  "$(b events --since "$S" --until "$M" --filter event=create --format '{{.Actor.Attributes.name}}' | xargs)"
b events --filter bogus=1 --until "$E" >/dev/null 2>&1; rc=$?
check "events --filter with an unknown key is refused" [ $rc -ne 0 ]

# Follow mode: an event appended after `events` started arrives.
timeout 30 "$BERTH_BIN/berth" --root "$ROOT" events --filter event=destroy --format '{{.Actor.Attributes.name}}' >"$T/live" 2>&1 &
ev=$!
e2e_on_exit "kill $ev"
sleep 0.3  # a destroy before the follower opened the journal would not be "from now on"
b rm win1 >/dev/null
for _ in $(seq 200); do grep -q win1 "$T/live" && break; sleep 0.05; done
kill $ev 2>/dev/null; wait $ev 2>/dev/null
expect_eq "events (follow): a later destroy arrives" win1 "$(cat "$T/live")"

# --- events --logs: what happened and what the program printed, in order ---------
S2=$(now)
lid=$(b run -d $N --name el bb sh -c 'echo hello-from-el; sleep 0.1; echo bye-from-el; exit 2')
b wait el >/dev/null
sleep 0.01
U2=$(now)
b events --logs --since "$S2" --until "$U2" --filter container="$lid" >"$T/el"
order=$(awk '{ if ($3 == "log") print $NF; else print $3 }' "$T/el" | xargs)
expect_eq "events --logs interleaves log lines between start and die" \
  "create start hello-from-el bye-from-el die" "$order"
check "events --logs: log records name the container and stream" grep -q 'container log .*(name=el, stream=stdout) hello-from-el' "$T/el"
check "events --logs --format json: log records are JSON too" bash -c "
  \"$BERTH_BIN/berth\" --root '$ROOT' events --logs --since '$S2' --until '$U2' --filter container='$lid' --format json |
  jq -e -s 'map(.Action) == [\"create\",\"start\",\"log\",\"log\",\"die\"]' >/dev/null"

# Live: a container started after `events --logs` began shows its output too.
timeout 30 "$BERTH_BIN/berth" --root "$ROOT" events --logs --filter container=elive >"$T/live-logs" 2>&1 &
ev=$!
e2e_on_exit "kill $ev"
sleep 0.3  # the follower starts "from now on"
b run -d $N --name elive bb sh -c 'echo live-line; sleep 0.1' >/dev/null
for _ in $(seq 200); do grep -q ' die ' "$T/live-logs" && break; sleep 0.05; done
kill $ev 2>/dev/null; wait $ev 2>/dev/null
check "events --logs (follow): a new container's output arrives" grep -q 'container log .*(name=elive, stream=stdout) live-line' "$T/live-logs"
# Live records come as they arrive (a line may be read before the start
# event is appended); the create comes first and the die last.
expect_eq "events --logs (follow): create first, die last" "create die" \
  "$(awk '{ if ($3 != "log") print $3 }' "$T/live-logs" | sed -n '1p;$p' | xargs)"

e2e_finish
