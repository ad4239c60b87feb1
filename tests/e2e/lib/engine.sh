# Shared helpers for engine e2e tests (run/ps/logs/exec/...). Source this file
# after nothing else: it sources bundle.sh (check/expect_eq/e2e_finish,
# e2e_tmpdir, e2e_on_exit) and image_fixtures.sh (fixture_rootfs).
#
#   source "$BERTH_SRC/tests/e2e/lib/engine.sh"
#   engine_setup            # ROOT=<unique store>, image "bb" imported, cleanup registered
#   b run --rm --network none bb echo hi
#   e2e_finish
#
# Everything a test creates lives under its own $ROOT; engine_cleanup (run at
# exit, even on failure) removes every container of that root with `rm -f`,
# which is what takes down mounts, monitors, cgroups and runtime state.
# Needs: $BERTH_BIN, $BERTH_SRC, busybox-static, jq.

source "$BERTH_SRC/tests/e2e/lib/bundle.sh"
source "$BERTH_SRC/tests/e2e/lib/image_fixtures.sh"

# b ARGS...: berth on this test's store.
b() { "$BERTH_BIN/berth" --root "$ROOT" "$@"; }

# engine_rootfs DIR: fixture_rootfs plus every busybox applet (kill, seq, trap
# targets, script helpers), so tests are not limited to the image tests' set.
engine_rootfs() {
  local d=$1 a
  fixture_rootfs "$d"
  mkdir -p "$d/proc" "$d/sys" "$d/dev" "$d/home" "$d/var"
  for a in $(/bin/busybox --list); do
    [ -e "$d/bin/$a" ] || ln -s busybox "$d/bin/$a"
  done
}

# engine_import_image NAME [CHANGE...]: import the busybox rootfs as NAME into
# $ROOT; each extra argument is one `--change` (e.g. 'STOPSIGNAL SIGUSR1').
engine_import_image() {
  local name=$1; shift
  local dir tarball c args=()
  dir=$(e2e_tmpdir)
  engine_rootfs "$dir/rootfs"
  tarball=$dir/rootfs.tar
  tar -C "$dir/rootfs" -cf "$tarball" .
  args=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["sh"]')
  for c in "$@"; do args+=(--change "$c"); done
  b import "${args[@]}" "$tarball" "$name" >/dev/null
}

# engine_cleanup: force-remove every container of $ROOT (stops monitors,
# unmounts rootfs, drops runtime state and cgroups). Safe to call twice.
engine_cleanup() {
  [ -n "${ROOT:-}" ] && [ -d "$ROOT" ] || return 0
  local ids
  ids=$(b ps -aq --no-trunc 2>/dev/null || true)
  # shellcheck disable=SC2086
  [ -z "$ids" ] || b rm -f $ids >/dev/null 2>&1 || true
  # Anything still mounted under the root (a failed rm) must not survive.
  awk -v r="$ROOT" 'index($5, r) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    xargs -r -n1 umount -l 2>/dev/null || true
  # The store's per-boot dir: runtime state and the netns mount point.
  local run
  run=$(engine_run_dir)
  awk -v r="$run" 'index($5, r) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf --one-file-system "$run"
}

# engine_new_root: a fresh unique store root in $ROOT (under /tmp), cleaned at
# exit. Call once per test file (or again for a second, isolated store).
engine_new_root() {
  ROOT=$(e2e_tmpdir)/store
  mkdir -p "$ROOT"
  # e2e_on_exit runs most recent first, and the tmpdir is removed after all
  # cleanups, so the containers go before their directories.
  e2e_on_exit "ROOT='$ROOT' engine_cleanup"
}

# engine_setup [IMAGE]: new root + busybox image imported as IMAGE (default bb).
engine_setup() {
  engine_new_root
  engine_import_image "${1:-bb}"
}

# engine_wait_status NAME STATUS [TRIES]: poll inspect until .State.Status is
# STATUS (0.1 s steps, default 100 tries). Waits for a state, never asserts a time.
engine_wait_status() {
  local i
  for ((i = 0; i < ${3:-100}; i++)); do
    [ "$(b inspect --format '{{.State.Status}}' "$1" 2>/dev/null)" = "$2" ] && return 0
    sleep 0.1
  done
  return 1
}

# engine_mounts_under DIR: how many mounts exist at or below DIR.
engine_mounts_under() {
  awk -v r="$1" 'index($5, r) == 1' /proc/self/mountinfo | wc -l
}

# engine_run_dir: /run/berth/<hash of $ROOT> (runtime state, netns) for root.
engine_run_dir() {
  echo "/run/berth/$(printf %s "$ROOT" | sha256sum | cut -c1-16)"
}

# engine_left_over ID: prints what a removed container ID left behind (row,
# directory, mounts, runtime state); empty when nothing.
engine_left_over() {
  local id=$1
  b ps -aq --no-trunc 2>/dev/null | grep -x "$id" | sed 's/^/row: /'
  [ ! -e "$ROOT/containers/$id" ] || echo "dir: $ROOT/containers/$id"
  awk -v r="$ROOT/containers/$id" 'index($5, r) == 1 {print "mount: " $5}' /proc/self/mountinfo
  [ ! -e "$(engine_run_dir)/runtime/$id" ] || echo "runtime: $(engine_run_dir)/runtime/$id"
}
