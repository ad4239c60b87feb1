#!/usr/bin/env bash
# linux.seccomp SCMP_ACT_NOTIFY (runtime-spec config-linux.md "listenerPath",
# "The Container Process State"): the runtime hands the listener fd and the
# container process state to the agent at listenerPath before `create`
# returns (and for every `exec`), and the agent's answers decide the
# syscalls. Run against berth-runtime and runc 1.1.5; where they differ is
# said at the check. Also: berth-runtime's compiled-program cache under
# <root>/.seccomp.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/bundle.sh"
source "$BERTH_SRC/tests/e2e/lib/rootless.sh"
T=$(e2e_tmpdir)
AGENT=$T/agent.py
cat >"$AGENT" <<'PY'
#!/usr/bin/env python3
"""A seccomp notify agent for e2e tests (runtime-spec "container process state").

Usage: seccomp_agent.py SOCKET LOG
Listens on SOCKET; for every connection, receives the container process state
(JSON) and the seccompFd (SCM_RIGHTS, with the first bytes), appends
{"state": <message>, "nfds": <fds received>, "closed": <EOF within 3 s>} as one
JSON line to LOG,
then answers the notifications on that fd, in order:
  1st: fails the syscall with EDQUOT,
  2nd: reports success without doing anything,
  later ones: lets the syscall run (SECCOMP_USER_NOTIF_FLAG_CONTINUE).
Each answered notification appends {"notif": <syscall nr>, "pid": <pid>} to LOG.
SOCKET.ready appears once it listens. Runs until killed.
"""
import array
import errno
import fcntl
import json
import os
import select
import socket
import struct
import sys
import threading

# x86_64/aarch64 ioctl numbers: _IOWR('!', 0, struct seccomp_notif) (80 bytes)
# and _IOWR('!', 1, struct seccomp_notif_resp) (24 bytes).
NOTIF_RECV = 0xC0502100
NOTIF_SEND = 0xC0182101
FLAG_CONTINUE = 1
lock = threading.Lock()


def log(path, obj):
    with lock, open(path, "a") as f:
        f.write(json.dumps(obj) + "\n")


def serve(conn, logpath):
    fds = array.array("i")
    data = b""
    first = True
    state = None
    # Stops at the first complete JSON document rather than at EOF: runc
    # 1.1.5 keeps an exec's connection open until the exec'd process exits.
    while state is None:
        if first:
            msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(4 * fds.itemsize))
            for level, typ, payload in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
            first = False
        else:
            msg = conn.recv(65536)
        if not msg:
            state = {"unparsable": data.decode(errors="replace")}
            break
        data += msg
        try:
            state = json.loads(data)
        except ValueError:
            pass
    # The spec: the connection MUST be closed after sending the state.
    conn.settimeout(3)
    try:
        closed = conn.recv(1) == b""
    except OSError:
        closed = False
    conn.close()
    log(logpath, {"state": state, "nfds": len(fds), "closed": closed})
    if len(fds) != 1:
        return
    fd = fds[0]
    n = 0
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while True:
        ev = poller.poll(60000)
        if not ev or not ev[0][1] & select.POLLIN:
            break  # timeout, or POLLHUP: every filtered process is gone
        buf = bytearray(80)
        try:
            fcntl.ioctl(fd, NOTIF_RECV, buf, True)
        except OSError as e:
            if e.errno in (errno.EINTR, errno.ENOENT):
                continue  # ENOENT: the notifying process died meanwhile
            break
        nid, pid, _flags, nr = struct.unpack_from("<QIIi", buf)
        n += 1
        if n == 1:
            resp = struct.pack("<QqiI", nid, 0, -errno.EDQUOT, 0)
        elif n == 2:
            resp = struct.pack("<QqiI", nid, 0, 0, 0)
        else:
            resp = struct.pack("<QqiI", nid, 0, 0, FLAG_CONTINUE)
        try:
            fcntl.ioctl(fd, NOTIF_SEND, resp)
        except OSError:
            pass  # the process died meanwhile
        log(logpath, {"notif": nr, "pid": pid, "n": n})
    os.close(fd)


def main():
    path, logpath = sys.argv[1], sys.argv[2]
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    open(path + ".ready", "w").close()
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, logpath), daemon=True).start()


if __name__ == "__main__":
    main()
PY

# start_agent NAME: an agent on $T/NAME.sock, logging to $T/NAME.log.
start_agent() {
  python3 "$AGENT" "$T/$1.sock" "$T/$1.log" &
  e2e_on_exit "kill $!"
  local i
  for i in $(seq 200); do [ -e "$T/$1.sock.ready" ] && return 0; sleep 0.05; done
  return 1
}
# wait_for FILE PATTERN: up to 15 s for PATTERN to appear in FILE.
wait_for() {
  local i
  for i in $(seq 300); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
# state_line LOG N: the Nth container process state the agent received.
state_line() { grep '"state"' "$1" | sed -n "$2p"; }
has() { printf %s "$1" | grep -q -- "$2"; }

notify_profile() {  # SOCKET [EXTRA-SYSCALL-RULE-JSON]
  printf '{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"%s","listenerMetadata":"berth-e2e meta",
           "syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_NOTIFY"}%s]}' "$1" "${2:+,$2}"
}

# One line: make_busybox_bundle splits its arguments at newlines.
SCRIPT='mkdir /tmp/a; echo a=$?; mkdir /tmp/b; echo b=$?; test -d /tmp/b && echo b-exists || echo b-absent; mkdir /tmp/c; echo c=$?; test -d /tmp/c && echo c-exists; exec sleep 60'

for impl in berth runc; do
  if [ $impl = berth ]; then RTBIN="$BERTH_BIN/berth-runtime"; else RTBIN=$(command -v runc) || continue; fi
  ROOT=$T/root-$impl
  R() { "$RTBIN" --root "$ROOT" "$@"; }
  e2e_on_exit "for c in \$(ls '$ROOT' 2>/dev/null); do '$RTBIN' --root '$ROOT' delete --force \$c; done"
  ID=sn-$impl-$$
  B=$T/b-$impl
  make_busybox_bundle "$B" sh -c "$SCRIPT"
  start_agent $impl || { check "$impl: the agent listens" false; continue; }
  bundle_patch "$B" ".root.readonly = false | .linux.seccomp = $(notify_profile "$T/$impl.sock")"

  (cd "$B" && R create --pid-file "$T/$impl.pid" "$ID" >"$T/$impl.out" 2>&1)
  check "$impl: create with a NOTIFY profile succeeds" test $? -eq 0
  PID=$(cat "$T/$impl.pid" 2>/dev/null)
  check "$impl: the agent got the container process state" wait_for "$T/$impl.log" '"state"'
  S=$(state_line "$T/$impl.log" 1)
  expect_eq "$impl: one fd, named seccompFd" '1 ["seccompFd"]' "$(jq -rc '"\(.nfds) \(.state.fds)"' <<<"$S")"
  check "$impl: ociVersion is set" test -n "$(jq -r '.state.ociVersion // empty' <<<"$S")"
  expect_eq "$impl: pid is the container process" "$PID" "$(jq -r .state.pid <<<"$S")"
  expect_eq "$impl: metadata is listenerMetadata" "berth-e2e meta" "$(jq -r .state.metadata <<<"$S")"
  expect_eq "$impl: state id, status creating, pid" "$ID creating $PID" \
    "$(jq -r '"\(.state.state.id) \(.state.state.status) \(.state.state.pid)"' <<<"$S")"
  expect_eq "$impl: state bundle" "$B" "$(jq -r .state.state.bundle <<<"$S")"
  expect_eq "$impl: the runtime closed the connection" true "$(jq -r .closed <<<"$S")"

  R start "$ID"
  check "$impl: the container ran its mkdirs" wait_for "$T/$impl.out" c-exists
  OUT=$(cat "$T/$impl.out")
  check "$impl: 1st mkdir: the agent's EDQUOT" has "$OUT" 'a=1'
  check "$impl: ... with its message" has "$OUT" 'quota'
  check "$impl: 2nd mkdir: the agent's fake success (rc 0, nothing made)" \
    sh -c 'printf %s "$1" | grep -q b=0 && printf %s "$1" | grep -q b-absent' _ "$OUT"
  check "$impl: 3rd mkdir: the agent let it run" sh -c 'printf %s "$1" | grep -q c=0' _ "$OUT"
  expect_eq "$impl: three notifications answered" 3 "$(grep -c '"notif"' "$T/$impl.log")"

  XO=$(R exec "$ID" sh -c 'mkdir /tmp/x; echo x=$?' 2>&1)
  check "$impl: exec: the agent answers the exec'd process too" has "$XO" 'x=1'
  S2=$(state_line "$T/$impl.log" 2)
  XPID=$(jq -r .state.pid <<<"$S2")
  check "$impl: exec: its own listener, pid is the exec'd process" test -n "$XPID" -a "$XPID" != "$PID"
  expect_eq "$impl: exec: state is the container's (running, init pid)" "$ID running $PID" \
    "$(jq -r '"\(.state.state.id) \(.state.state.status) \(.state.state.pid)"' <<<"$S2")"
  if [ $impl = berth ]; then
    expect_eq "$impl: exec: the connection is closed after the state" true "$(jq -r .closed <<<"$S2")"
  else
    echo "# runc: exec: connection closed after the state: $(jq -r .closed <<<"$S2") (runc 1.1.5 keeps it open until the exec'd process exits)"
  fi
  R delete --force "$ID" >/dev/null 2>&1

  # noNewPrivileges off: the filter goes in before the uid change (user 1000).
  B2=$T/b2-$impl
  make_busybox_bundle "$B2" sh -c 'mkdir /tmp/n; echo n=$?; id -u'
  bundle_patch "$B2" ".process.noNewPrivileges = false | .process.user = {\"uid\": 1000, \"gid\": 1000} |
    .linux.seccomp = $(notify_profile "$T/$impl.sock")"
  OUT=$(cd "$B2" && R run "$ID-nnp" 2>&1)
  check "$impl: without no_new_privs, as uid 1000: EDQUOT from the agent" \
    sh -c 'printf %s "$1" | grep -q n=1 && printf %s "$1" | grep -qx 1000' _ "$OUT"
  R delete --force "$ID-nnp" >/dev/null 2>&1

  # listenerPath that nobody listens on: create fails naming it, nothing left.
  B3=$T/b3-$impl
  make_busybox_bundle "$B3" true
  bundle_patch "$B3" ".linux.seccomp = $(notify_profile "$T/nobody.sock")"
  ERR=$(cd "$B3" && R create "$ID-nol" 2>&1)
  rc=$?
  check "$impl: listenerPath without a listener: create fails" test $rc -ne 0
  check "$impl: ... naming the socket" has "$ERR" "nobody.sock"
  check "$impl: ... and no container is left" sh -c '! "$1" --root "$2" state "$3" >/dev/null 2>&1' _ "$RTBIN" "$ROOT" "$ID-nol"
  R delete --force "$ID-nol" >/dev/null 2>&1

  # NOTIFY without listenerPath; NOTIFY on write (the runtime's own sync).
  bundle_patch "$B3" '.linux.seccomp |= del(.listenerPath)'
  ERR=$(cd "$B3" && R create "$ID-nop" 2>&1)
  rc=$?
  check "$impl: NOTIFY without listenerPath is an error naming listenerPath" \
    sh -c '[ "$1" -ne 0 ] && printf %s "$2" | grep -q listenerPath' _ $rc "$ERR"
  R delete --force "$ID-nop" >/dev/null 2>&1
  bundle_patch "$B3" ".linux.seccomp = $(notify_profile "$T/$impl.sock" '{"names":["write"],"action":"SCMP_ACT_NOTIFY"}')"
  ERR=$(cd "$B3" && R create "$ID-now" 2>&1)
  rc=$?
  check "$impl: NOTIFY on write is refused" sh -c '[ "$1" -ne 0 ] && printf %s "$2" | grep -q write' _ $rc "$ERR"
  R delete --force "$ID-now" >/dev/null 2>&1
  # bypass4netns-style: the runtime's own hand-over must not trip on these.
  bundle_patch "$B3" ".linux.seccomp = $(notify_profile "$T/$impl.sock" '{"names":["sendmsg","sendto"],"action":"SCMP_ACT_NOTIFY"}')"
  ERR=$(cd "$B3" && R run "$ID-snd" 2>&1)
  check "$impl: NOTIFY on sendmsg and sendto works" test $? -eq 0
  R delete --force "$ID-snd" >/dev/null 2>&1
done

# The compiled-program cache: <root>/.seccomp, 0700, one file per profile,
# invisible to `list`; a corrupt entry is recompiled and rewritten.
RB=$BERTH_BIN/berth-runtime
C=$T/root-cache
B4=$T/b4
make_busybox_bundle "$B4" sh -c 'mkdir /tmp/q; echo q=$?'
bundle_patch "$B4" '.linux.seccomp = {"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":122}]}'
OUT=$(cd "$B4" && "$RB" --root "$C" run "sc-$$" 2>&1)
check "cache: the first run applies the profile" has "$OUT" 'q=1'
expect_eq "cache: <root>/.seccomp is 0700 with one entry" "700 1" \
  "$(stat -c %a "$C/.seccomp" 2>/dev/null) $(ls "$C/.seccomp" 2>/dev/null | grep -c '^[0-9a-f]\{16\}$')"
ENTRY=$(ls -d "$C"/.seccomp/* 2>/dev/null | head -1)
"$RB" --root "$C" create --bundle "$B4" "sc2-$$" >/dev/null 2>&1
check "cache: list does not show it" sh -c '! "$1" --root "$2" list 2>&1 | grep -q seccomp' _ "$RB" "$C"
"$RB" --root "$C" delete --force "sc2-$$" >/dev/null 2>&1
GOOD=$(sha256sum <"$ENTRY")
head -c 100 "$ENTRY" >"$ENTRY.t" && mv "$ENTRY.t" "$ENTRY"
OUT=$(cd "$B4" && "$RB" --root "$C" run "sc-$$" 2>&1)
check "cache: a truncated entry is a miss: the profile still applies" has "$OUT" 'q=1'
expect_eq "cache: ... and the entry is rewritten" "$GOOD" "$(sha256sum <"$ENTRY")"
printf 'garbage' >"$ENTRY"
OUT=$(cd "$B4" && "$RB" --root "$C" run "sc-$$" 2>&1)
check "cache: garbage is a miss too" has "$OUT" 'q=1'

# An unprivileged runtime whose container process is not the user itself
# (uid 1000 inside, a subordinate id outside): the child is no longer
# dumpable, so pidfd_getfd is refused; berth-runtime falls back to SCM_RIGHTS.
why=$(rootless_skip_reason)
if [ -n "$why" ]; then
  echo "# skip rootless part: $why"
else
  chmod 711 "$T"
  rootless_user_setup || exit 1
  chmod 666 "$T/berth.sock"
  RLB=$T/rl-bundle
  mkdir -p "$RLB" && make_busybox_rootfs "$RLB/rootfs" && chmod 1777 "$RLB/rootfs/tmp"
  chown -R "$RL_UID:$RL_GID" "$RLB"
  as_user "$RB" spec --rootless -b "$RLB"
  jq '.linux.uidMappings = [{"containerID":0,"hostID":'"$RL_UID"',"size":1},{"containerID":1,"hostID":'"$RL_START"',"size":65536}]
      | .linux.gidMappings = [{"containerID":0,"hostID":'"$RL_GID"',"size":1},{"containerID":1,"hostID":'"$RL_START"',"size":65536}]
      | .process.terminal = false | .root.readonly = false | .process.user = {"uid": 1000, "gid": 1000}
      | .process.args = ["sh", "-c", "mkdir /tmp/r; echo r=$?; id -u"]
      | .linux.seccomp = '"$(notify_profile "$T/berth.sock")" "$RLB/config.json" >"$RLB/c" && mv "$RLB/c" "$RLB/config.json"
  chown "$RL_UID" "$RLB/config.json"
  for impl in berth runc; do
    if [ $impl = berth ]; then RTBIN=$RB; else RTBIN=$(command -v runc) || continue; fi
    mkdir -m 700 "$T/rl-root-$impl" && chown "$RL_UID" "$T/rl-root-$impl"
    OUT=$(as_user sh -c "cd '$RLB' && '$RTBIN' --root '$T/rl-root-$impl' run rl-$impl-$$" 2>&1)
    if [ $impl = berth ]; then
      check "berth: rootless, container uid 1000: the agent answers (listener sent with SCM_RIGHTS)" \
        sh -c 'printf %s "$1" | grep -q r=1 && printf %s "$1" | grep -qx 1000' _ "$OUT"
    else
      echo "# runc: rootless, container uid 1000: $(printf %s "$OUT" | grep -o 'performing SYS_PIDFD_GETFD[^"]*' || echo "${OUT:0:120}")"
    fi
    as_user "$RTBIN" --root "$T/rl-root-$impl" delete --force "rl-$impl-$$" >/dev/null 2>&1
  done
fi
e2e_finish
