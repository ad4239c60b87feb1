#!/usr/bin/env bash
# CVE-2024-21626 ("Leaky Vessels"): a host directory fd leaked into the
# container plus process.cwd=/proc/self/fd/N gave a cwd on the host. Every
# such cwd must be refused (or land inside the container) and no fd beyond
# stdio may reach the process, for run and exec alike.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/bundle.sh"
RT="$BERTH_BIN/berth-runtime"
T=$(e2e_tmpdir)
ROOT="$T/state"
ID="cve21626-$$"
rt() { "$RT" --root "$ROOT" "$@"; }
e2e_on_exit "for c in \$(ls $ROOT 2>/dev/null); do $RT --root $ROOT delete --force \$c; done"
make_busybox_bundle "$T/b" true
escaped=0
for n in 3 4 5 6 7 8 9 10; do
  bundle_patch "$T/b" ".process.cwd=\"/proc/self/fd/$n\" | .process.args=[\"sh\",\"-c\",\"ls ../../../../../../../../work >/dev/null 2>&1 && echo ESCAPED\"]"
  out=$(rt run --bundle "$T/b" "$ID-$n" 2>&1)
  grep -q ESCAPED <<<"$out" && escaped=1
done
expect_eq "run: no cwd through a leaked fd" 0 "$escaped"
# A child lists the fds of the process we started (which itself opens nothing:
# "; :" only keeps sh from exec'ing the child).
bundle_patch "$T/b" '.process.cwd="/" | .process.args=["sh","-c","sh -c \"ls /proc/\\$PPID/fd | tr \\\"\\\\n\\\" \\\" \\\"\"; :"]'
expect_eq "run: only stdio reaches the process" "0 1 2 " "$(rt run --bundle "$T/b" "$ID-fds" 9</dev/null)"
bundle_patch "$T/b" '.process.args=["sleep","1000"]'
rt run -d --bundle "$T/b" "$ID-x" </dev/null >/dev/null 2>&1
escaped=0
for n in 3 4 5 6 7 8 9 10; do
  out=$(rt exec --cwd "/proc/self/fd/$n" "$ID-x" sh -c 'ls ../../../../../../../../work >/dev/null 2>&1 && echo ESCAPED' 2>&1)
  grep -q ESCAPED <<<"$out" && escaped=1
done
expect_eq "exec: no cwd through a leaked fd" 0 "$escaped"
expect_eq "exec: only stdio reaches the process" "0 1 2 " "$(rt exec "$ID-x" sh -c 'sh -c "ls /proc/\$PPID/fd | tr \"\\n\" \" \""; :' 7</dev/null)"
e2e_finish
