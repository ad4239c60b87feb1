#!/usr/bin/env bash
# top, stats --no-stream, port, system df, generate systemd, and GC keeping
# what containers use (issue 4). Docker's output shapes are the reference.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/engine.sh"
engine_setup bb

id=$(b run -d --network none --name v1 --label team=x bb sh -c 'sleep 300')
check "run -d prints a 64-hex id" bash -c "[[ '$id' =~ ^[0-9a-f]{64}$ ]]"

# top: Docker's default columns, and the container's process in them.
top=$(b top v1)
check "top has ps -ef style header" grep -q "^UID *PID *PPID" <<<"$top"
check "top lists the sleep" grep -q "sleep 300" <<<"$top"
check "top with ps options" bash -c "b() { \"$BERTH_BIN/berth\" --root '$ROOT' \"\$@\"; }; b top v1 -o pid,comm | grep -q sleep"

# stats --no-stream: one row per running container, Docker's columns.
st=$(b stats --no-stream)
check "stats header" grep -q "CONTAINER ID *NAME *CPU % *MEM USAGE / LIMIT *MEM % *NET I/O *BLOCK I/O *PIDS" <<<"$st"
check "stats row for v1" grep -q " v1 " <<<"$st"
check "stats json has PIDs" bash -c "b() { \"$BERTH_BIN/berth\" --root '$ROOT' \"\$@\"; }; b stats --no-stream --format json v1 | jq -e '.PIDs | tonumber >= 1' >/dev/null"

# port: nothing published under --network none.
expect_eq "port with nothing published" "" "$(b port v1)"

# system df: the three rows, one active container.
df=$(b system df)
check "system df rows" bash -c "grep -q '^Images' <<<'$df' && grep -q '^Containers' <<<'$df' && grep -q '^Local Volumes' <<<'$df'"
expect_eq "system df containers active" "1" "$(b system df --format json | jq -r 'select(.Type=="Containers") | .Active')"

# generate systemd: a unit that runs the container in the foreground.
unit=$(b generate systemd v1)
check "unit starts with start -a" grep -q "^ExecStart=.* start -a v1$" <<<"$unit"
check "unit stops with stop -t" grep -q "^ExecStop=.* stop -t 10 v1$" <<<"$unit"

# GC: untag the image while a container uses it; gc must keep its blobs and
# snapshots, and the container must still start.
b stop -t 0 v1 >/dev/null
b tag bb keep/bb >/dev/null
b rmi bb >/dev/null
b rmi keep/bb >/dev/null
b gc >/dev/null
check "start after gc (image kept alive by the container)" b start v1
expect_eq "running after gc" running "$(b inspect -f '{{.State.Status}}' v1)"
b rm -f v1 >/dev/null
gc_out=$(b gc)
check "gc frees the image once the container is gone" grep -q "^Deleted" <<<"$gc_out"

e2e_finish
