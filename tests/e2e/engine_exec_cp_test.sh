#!/usr/bin/env bash
# berth exec and berth cp against running/stopped containers, with Docker's
# semantics as the reference; includes the CVE-2018-15664 symlink defences.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/engine.sh"
engine_setup
T=$(e2e_tmpdir)
N="ex$$"

b run -d --network none --name "$N" bb sleep 1000 >/dev/null
check "exec: container running" engine_wait_status "$N" running

# --- exec ---
expect_eq "exec: stdout" "hi" "$(b exec "$N" echo hi)"
b exec "$N" sh -c 'exit 7'; expect_eq "exec: exit code propagated" 7 $?
b exec "$N" /nonexistent >/dev/null 2>&1; rc=$?
check "exec: missing binary fails (126/127, got $rc)" test "$rc" -eq 126 -o "$rc" -eq 127
b exec "$N" /etc/passwd >/dev/null 2>&1; expect_eq "exec: non-executable file -> 126" 126 $?
err=$(b exec -u nosuch "$N" id 2>&1); rc=$?
expect_eq "exec -u unknown user -> 125" 125 $rc
check "exec -u unknown user: Docker's error ($err)" grep -q "unable to find user nosuch" <<<"$err"
err=$(b exec "nosuch$$" true 2>&1); rc=$?
check "exec into a missing container: No such container (rc=$rc)" grep -q "No such container" <<<"$err"
expect_eq "exec -e" "bar" "$(b exec -e FOO=bar "$N" sh -c 'echo $FOO')"
expect_eq "exec -w" "/etc" "$(b exec -w /etc "$N" pwd)"
expect_eq "exec -u nobody" "65534" "$(b exec -u nobody "$N" id -u)"
expect_eq "exec -u 123:45" "123:45" "$(b exec -u 123:45 "$N" sh -c 'echo $(id -u):$(id -g)')"
expect_eq "exec -i piped stdin" "piped" "$(echo piped | b exec -i "$N" cat)"
expect_eq "exec without -i: no stdin" "" "$(echo piped | b exec "$N" cat)"
if command -v script >/dev/null; then
  out=$(script -qc "$BERTH_BIN/berth --root $ROOT exec -t $N sh -c 'test -t 1 && echo tty'" /dev/null </dev/null | tr -d '\r')
  expect_eq "exec -t allocates a terminal" "tty" "$out"
fi
b exec -d "$N" sh -c 'sleep 1; touch /detached-done; sleep 1000' </dev/null; expect_eq "exec -d returns 0" 0 $?
ok=no; for _ in $(seq 50); do b exec "$N" test -f /detached-done && { ok=yes; break; }; sleep 0.2; done
expect_eq "exec -d: process runs on after exec returns" yes "$ok"
check "exec event journaled" sh -c "b() { \"$BERTH_BIN/berth\" --root \"$ROOT\" \"\$@\"; }; grep -q exec_start \"$ROOT/events.jsonl\""

b pause "$N" >/dev/null
err=$(b exec "$N" true 2>&1); rc=$?
check "exec into paused container fails (rc=$rc)" test "$rc" -ne 0
check "exec paused: Docker's error ($err)" grep -q "is paused, unpause the container before exec" <<<"$err"
b unpause "$N" >/dev/null

# --- cp ---
echo "from host" >"$T/f.txt"
b cp "$T/f.txt" "$N:/tmp/f.txt"; expect_eq "cp host->ctr rc" 0 $?
expect_eq "cp host->ctr content" "from host" "$(b exec "$N" cat /tmp/f.txt)"
b exec "$N" sh -c 'mkdir -p /d/sub && echo deep >/d/sub/x && echo top >/d/y'
b cp "$N:/d" "$T/out"; expect_eq "cp ctr->host dir" "deep" "$(cat "$T/out/sub/x" 2>/dev/null)"
b cp "$N:/d/." "$T/out2"; expect_eq "cp ctr->host dir/. contents" "top" "$(cat "$T/out2/y" 2>/dev/null)"
expect_eq "cp ctr->- tar stream" "d/sub/x" "$(b cp "$N:/d" - | tar -t 2>/dev/null | grep '^d/sub/x$')"
mkdir -p "$T/tin"; echo streamed >"$T/tin/s.txt"
tar -C "$T/tin" -cf - s.txt | b cp - "$N:/tmp"; expect_eq "cp - (tar stdin) -> ctr rc" 0 $?
expect_eq "cp - -> ctr content" "streamed" "$(b exec "$N" cat /tmp/s.txt)"
b cp "$N:/nope" "$T/nope" >/dev/null 2>&1; check "cp of a missing path fails" test $? -ne 0

# CVE-2018-15664: symlinks in the container resolve inside its rootfs, never on the host.
b exec "$N" sh -c 'ln -s / /rootlink; ln -s /etc /etclink; ln -s ../../../../../../etc /rel; mkdir -p /tmp/x && ln -s /etc/hostname /tmp/x/h'
b cp "$N:/etclink/passwd" "$T/passwd.out"
check "CVE-2018-15664: read through /etc symlink gets the container's passwd" \
  sh -c "! grep -q '^daemon:' '$T/passwd.out' && grep -q '^nobody:' '$T/passwd.out'"
b cp "$N:/rootlink/etc/passwd" "$T/passwd2.out"
check "CVE-2018-15664: read through / symlink stays in the rootfs" sh -c "! grep -q '^daemon:' '$T/passwd2.out'"
b cp "$N:/rel/passwd" "$T/passwd3.out"
check "CVE-2018-15664: relative ../ escape stays in the rootfs" sh -c "! grep -q '^daemon:' '$T/passwd3.out'"
marker="berth-cve-$$-$RANDOM"
echo "$marker" >"$T/$marker"
b cp "$T/$marker" "$N:/etclink/" >/dev/null 2>&1
b cp "$T/$marker" "$N:/rootlink/tmp/" >/dev/null 2>&1
b cp "$T/$marker" "$N:/rel/" >/dev/null 2>&1
check "CVE-2018-15664: write through symlinks never reaches host /etc" test ! -e "/etc/$marker"
check "CVE-2018-15664: write through / symlink never reaches host /tmp" test ! -e "/tmp/$marker"
expect_eq "CVE-2018-15664: write landed in the container's /etc" "$marker" "$(b exec "$N" cat "/etc/$marker" 2>/dev/null)"

# cp into a volume mounted in the container, and into a stopped container.
b run -d --network none --name "$N-v" -v "vol$$:/data" bb sleep 1000 >/dev/null
engine_wait_status "$N-v" running
b cp "$T/f.txt" "$N-v:/data/in-vol.txt"; expect_eq "cp into volume rc" 0 $?
expect_eq "cp into volume visible inside" "from host" "$(b exec "$N-v" cat /data/in-vol.txt)"
b stop -t 1 "$N-v" >/dev/null
b cp "$T/f.txt" "$N-v:/data/stopped.txt"; expect_eq "cp into stopped container's volume rc" 0 $?
b cp "$T/f.txt" "$N-v:/root/stopped.txt"; expect_eq "cp into stopped container rc" 0 $?
b cp "$N-v:/root/stopped.txt" "$T/back.txt"; expect_eq "cp out of stopped container" "from host" "$(cat "$T/back.txt" 2>/dev/null)"
b start "$N-v" >/dev/null; engine_wait_status "$N-v" running
expect_eq "volume file copied while stopped is there" "from host" "$(b exec "$N-v" cat /data/stopped.txt)"

b stop -t 1 "$N" >/dev/null
err=$(b exec "$N" true 2>&1); rc=$?
check "exec into stopped container fails (rc=$rc)" test "$rc" -ne 0
check "exec stopped: Docker's error ($err)" grep -q "is not running" <<<"$err"
e2e_finish
