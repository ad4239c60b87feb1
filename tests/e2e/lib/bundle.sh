# Shared e2e helpers: busybox bundles, temp dirs, cleanup. Source this file.
# Needs: busybox-static, jq. Functions never touch anything outside $1.

# make_busybox_rootfs DIR: a minimal rootfs with a static busybox and its applets.
make_busybox_rootfs() {
  local root=$1
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,etc,tmp,root,home/user}
  cp /bin/busybox "$root/bin/busybox"
  local a
  for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nuser:x:1000:\nnobody:x:65534:\n' >"$root/etc/group"
  chmod 1777 "$root/tmp"
}

# make_busybox_bundle DIR [ARGS...]: rootfs + `berth-runtime spec` config with
# terminal off and the given process args (default: sh).
make_busybox_bundle() {
  local dir=$1; shift
  mkdir -p "$dir"
  make_busybox_rootfs "$dir/rootfs"
  "$BERTH_BIN/berth-runtime" spec -b "$dir"
  local args='["sh"]'
  if [ $# -gt 0 ]; then args=$(printf '%s\n' "$@" | jq -R . | jq -s .); fi
  bundle_patch "$dir" ".process.terminal = false | .process.args = $args"
}

# bundle_patch DIR JQ-EXPR: edit DIR/config.json in place.
bundle_patch() {
  local f=$1/config.json
  jq "$2" "$f" >"$f.tmp" && mv "$f.tmp" "$f"
}

# e2e_tmpdir: a unique temp dir removed by e2e_cleanup (registered on EXIT).
# Callers use it as d=$(e2e_tmpdir), a subshell whose registration would be
# lost: every dir is made inside one parent created here, in the test's own
# shell, and the cleanup removes the parent.
E2E_TMPDIRS=()
E2E_PARENT=$(mktemp -d "${TMPDIR:-/tmp}/berth-e2e.XXXXXX")
chmod 711 "$E2E_PARENT"  # a user-namespaced container root must reach rootfs dirs below it
E2E_TMPDIRS+=("$E2E_PARENT")
e2e_tmpdir() {
  mktemp -d "$E2E_PARENT/t.XXXXXX"
}

E2E_CLEANUPS=()
# e2e_on_exit CMD: run CMD (eval'd) at exit, most recent first.
e2e_on_exit() { E2E_CLEANUPS=("$1" "${E2E_CLEANUPS[@]}"); }
e2e_cleanup() {
  local c d
  for c in "${E2E_CLEANUPS[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
  for d in "${E2E_TMPDIRS[@]}"; do
    # Never follow mounts out of the temp dir.
    grep -q " $d" /proc/self/mountinfo 2>/dev/null && awk -v d="$d" '$5 ~ "^"d {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf --one-file-system "$d"
  done
}
trap e2e_cleanup EXIT

E2E_PASS=0
E2E_FAIL=0
# check NAME CMD...: run CMD, record pass/fail with NAME.
check() {
  local name=$1; shift
  if "$@"; then E2E_PASS=$((E2E_PASS + 1)); echo "ok   - $name"
  else E2E_FAIL=$((E2E_FAIL + 1)); echo "FAIL - $name"; fi
}
# expect_eq NAME WANT GOT
expect_eq() {
  if [ "$2" = "$3" ]; then E2E_PASS=$((E2E_PASS + 1)); echo "ok   - $1"
  else E2E_FAIL=$((E2E_FAIL + 1)); echo "FAIL - $1: want [$2] got [$3]"; fi
}
e2e_finish() {
  echo "# pass=$E2E_PASS fail=$E2E_FAIL"
  [ "$E2E_FAIL" -eq 0 ]
}
