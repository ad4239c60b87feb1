# Shared helpers for the `berth build` e2e tests and bench: base images in a
# private berth store and a private podman store, one fixture built by both
# engines, and the tree / config / run comparisons. Source after nothing else.
#
#   source "$BERTH_SRC/tests/e2e/lib/build.sh"
#   build_setup                 # ROOT (berth), PM (podman) stores + cleanups
#   build_import_busybox        # localhost/busybox-fixture:latest in both
#   build_compare_fixture NAME  # tests/build/NAME: build both, compare, run
#   e2e_finish
#
# Needs: $BERTH_BIN, $BERTH_SRC, $BERTH_CACHE, podman, jq, python3, debootstrap.

source "$BERTH_SRC/tests/e2e/lib/engine.sh"

BUILD_FIXTURES=$BERTH_SRC/tests/build
BUILD_BUSYBOX=localhost/busybox-fixture:latest
BUILD_MINBASE=localhost/minbase-fixture:latest
# Bump when the recipe below changes: the cached tarball is keyed by it.
BUILD_MINBASE_TAR=${BERTH_CACHE:-/var/cache/berth-test}/minbase-bookworm-v1.tar

# build_mirror: the Debian mirror this machine's apt uses (the only one reachable).
build_mirror() {
  local m
  m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
  [ -n "$m" ] || m=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  echo "${m:-http://deb.debian.org/debian}"
}

# build_minbase_tarball: prints the path of a cached debootstrap minbase rootfs
# tar, building it once. Several tests may ask at the same time: the first
# builds under an exclusive flock, the others wait and reuse its result. The
# tar is written to a temp name and renamed, so a killed build leaves nothing
# that looks finished.
build_minbase_tarball() {
  local cache lock dir
  cache=$(dirname "$BUILD_MINBASE_TAR")
  mkdir -p "$cache"
  lock=$cache/minbase.lock
  (
    flock 9
    [ -s "$BUILD_MINBASE_TAR" ] && exit 0
    dir=$(mktemp -d "$cache/minbase.XXXXXX")
    trap 'umount -R "$dir/root/proc" "$dir/root/sys" 2>/dev/null; rm -rf --one-file-system "$dir"' EXIT
    debootstrap --variant=minbase bookworm "$dir/root" "$(build_mirror)" >"$dir/log" 2>&1 ||
      { tail -20 "$dir/log" >&2; echo "build_minbase_tarball: debootstrap failed" >&2; exit 1; }
    # Host leftovers debootstrap copies in, and the package cache, are not
    # part of an image; /dev nodes are the runtime's job, as in Docker images.
    rm -rf "$dir/root/var/cache/apt/archives/"*.deb "$dir/root/var/lib/apt/lists/"* \
      "$dir/root/etc/hostname" "$dir/root/etc/resolv.conf" "$dir/root/dev/"*
    tar --numeric-owner --xattrs -C "$dir/root" -cf "$dir/minbase.tar" . &&
      mv "$dir/minbase.tar" "$BUILD_MINBASE_TAR"
  ) 9>"$lock" || return 1
  echo "$BUILD_MINBASE_TAR"
}

# pm ARGS...: podman on this test's private store (never the machine's).
pm_args() {
  PM=(podman --root "$PMDIR/root" --runroot "$PMDIR/run" --tmpdir "$PMDIR/tmp" --storage-driver overlay
      --cgroup-manager cgroupfs --events-backend none)
}
pm() { pm_args; "${PM[@]}" "$@"; }

# build_podman_cleanup: remove every container and image of $PMDIR and unmount
# its overlay layers. Safe to call twice.
build_podman_cleanup() {
  [ -n "${PMDIR:-}" ] && [ -d "$PMDIR" ] || return 0
  pm rm -af -t 0 >/dev/null 2>&1 || true
  pm image unmount -a >/dev/null 2>&1 || true
  pm system reset -f >/dev/null 2>&1 || true
  awk -v r="$PMDIR" 'index($5, r) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    xargs -r -n1 umount -l 2>/dev/null || true
}

# build_setup: a private berth store ($ROOT, engine.sh) and a private podman
# store ($PMDIR), both cleaned at exit; $TAGS is a per-run suffix for tags.
build_setup() {
  engine_new_root
  PMDIR=$(e2e_tmpdir)/podman
  mkdir -p "$PMDIR/tmp"
  e2e_on_exit "PMDIR='$PMDIR' build_podman_cleanup"
  TAGS=bt$$
  [ -f /etc/containers/containers.conf ] ||
    echo "# warning: no /etc/containers/containers.conf (scripts/deps.sh writes it); podman may fail" >&2
}

# The same base config on both sides, so the built configs can be compared.
BUILD_BASE_CHANGES=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')

# build_import TARBALL NAME CMD-JSON: import one rootfs tar into both stores.
build_import() {
  local tar=$1 name=$2 cmd=$3
  pm import "${BUILD_BASE_CHANGES[@]}" --change "CMD $cmd" "$tar" "$name" >"$PMDIR/import.log" 2>&1 ||
    { cat "$PMDIR/import.log"; return 1; }
    b import "${BUILD_BASE_CHANGES[@]}" --change "CMD $cmd" "$tar" "$name" >/dev/null
}

# build_import_busybox: engine.sh's busybox rootfs (every applet) as
# $BUILD_BUSYBOX in both stores.
build_import_busybox() {
  local d
  d=$(e2e_tmpdir)
  engine_rootfs "$d/rootfs"
  tar --numeric-owner -C "$d/rootfs" -cf "$d/rootfs.tar" .
  build_import "$d/rootfs.tar" "$BUILD_BUSYBOX" '["sh"]'
}

# build_import_minbase: the cached Debian minbase as $BUILD_MINBASE in both.
build_import_minbase() {
  local tar
  tar=$(build_minbase_tarball) || return 1
  build_import "$tar" "$BUILD_MINBASE" '["bash"]'
}

# build_context NAME: prints a fresh copy of fixture NAME's directory without
# the harness files (run.expect, build-flags), which must not reach COPY . —
# and which the cache tests can then edit freely.
build_context() {
  local d
  d=$(e2e_tmpdir)/ctx
  cp -a "$BUILD_FIXTURES/$1" "$d" && rm -f "$d/run.expect" "$d/build-flags"
  echo "$d"
}

# build_flags NAME: the fixture's extra flags (one per line in build-flags),
# plus --network=none unless it picks a network: both engines then run steps
# the same way, and busybox fixtures need no network setup.
build_flags() {
  local f=$BUILD_FIXTURES/$1/build-flags
  BUILD_FLAGS=()
  [ -f "$f" ] && mapfile -t BUILD_FLAGS < <(grep -v '^#' "$f" | grep .)
  printf '%s\n' "${BUILD_FLAGS[@]}" | grep -q -- '--network' || BUILD_FLAGS+=(--network=none)
}

# bb_build / pm_build CTX DOCKERFILE TAG [FLAGS...]: build with each engine,
# output in $BUILD_LOG (shown when the build fails). podman: --format docker
# keeps Healthcheck/OnBuild/Shell (the OCI config has no fields for them);
# --identity-label=false drops the io.buildah.version label buildah adds;
# --pull=never: no registry is reachable, a missing base must fail at once.
BUILD_LOG=/dev/null
bb_build() {
  local ctx=$1 df=$2 tag=$3; shift 3
  BUILD_LOG=$(e2e_tmpdir)/berth-build.log
  if ! b build -t "$tag" -f "$ctx/$df" "$@" "$ctx" >"$BUILD_LOG" 2>&1; then
    sed 's/^/#   berth: /' "$BUILD_LOG" | tail -15; return 1
  fi
}
pm_build() {
  local ctx=$1 df=$2 tag=$3; shift 3
  BUILD_LOG=$(e2e_tmpdir)/podman-build.log
  if ! pm build --pull=never --format docker --identity-label=false -t "$tag" -f "$ctx/$df" "$@" "$ctx" >"$BUILD_LOG" 2>&1; then
    sed 's/^/#   podman: /' "$BUILD_LOG" | tail -15; return 1
  fi
}

# What buildah 1.28 leaves in podman's image that is no build result, found
# by diffing podman's images with their base (tests/build/*):
#  - the root directory is 0555: containers/storage makes every layer's diff
#    dir read-only; the layer tar itself says 0755. bb_tree and pm_tree drop
#    the "." line.
#  - RUN steps leave an empty /etc/hostname, /etc/hosts, /etc/resolv.conf
#    (0755) and an empty /run when the base image lacks them: buildah's
#    mount-point stubs, which BuildKit removes. They are dropped from podman's
#    tree only when berth's has no such path.
BUILD_EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
BUILD_PM_STUBS=("etc/hostname f 0755 0:0 0 $BUILD_EMPTY_SHA" "etc/hosts f 0755 0:0 0 $BUILD_EMPTY_SHA"
                "etc/resolv.conf f 0755 0:0 0 $BUILD_EMPTY_SHA" "run d 0755 0:0")

#  - A WORKDIR no later RUN uses: buildah 1.28 creates the directory only
#    when a step runs in it, Docker's reference says WORKDIR creates it. When
#    podman's tree lacks the final WorkingDir, berth's line for it is dropped.
#
# build_tree_filter PM-TREE BB-TREE BB-CONFIG: applies the list above in place.
build_tree_filter() {
  local s path wd
  for s in "${BUILD_PM_STUBS[@]}"; do
    path=${s%% *}
    if ! grep -q "^$path " "$2"; then grep -vxF "$s" "$1" >"$1.f"; mv "$1.f" "$1"; fi
  done
  wd=$(jq -r '.WorkingDir // empty' "$3" | sed 's|^/||')
  if [ -n "$wd" ] && ! grep -q "^$wd d " "$1"; then
    grep -v "^$wd d " "$2" >"$2.f"; mv "$2.f" "$2"
  fi
}

# bb_tree / pm_tree IMAGE OUT: the image's final tree as treesum lines.
bb_tree() {
  local d
  d=$(e2e_tmpdir)/unpack
  b unpack "$1" "$d" >/dev/null || return 1
  python3 "$BERTH_SRC/tests/e2e/lib/treesum.py" "$d" | grep -v '^\. d ' >"$2"
  rm -rf --one-file-system "$d"
}
pm_tree() {
  local mnt rc
  mnt=$(pm image mount "$1") || return 1
  python3 "$BERTH_SRC/tests/e2e/lib/treesum.py" "$mnt" | grep -v '^\. d ' >"$2"; rc=$?
  pm image unmount "$1" >/dev/null
  return $rc
}

# The config fields a Dockerfile sets, as sorted JSON; empty and missing are
# the same (the spec makes them so). berth: `berth inspect` (its Config holds
# the Docker extensions). podman: the raw image config through skopeo —
# `podman image inspect` drops OnBuild and Shell, and so does skopeo without
# --raw (it converts to the OCI config).
BUILD_CONFIG_PY='
import json, sys
d = json.load(sys.stdin)
d = d[0] if isinstance(d, list) else d
c = d.get("Config") or d.get("config") or {}
out = {}
for k in ["Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes",
          "Labels", "StopSignal", "Healthcheck", "OnBuild", "Shell"]:
    v = c.get(k)
    if v in (None, "", [], {}):
        continue
    out[k] = v
print(json.dumps(out, indent=1, sort_keys=True))
'
bb_config() { b inspect "$1" | python3 -c "$BUILD_CONFIG_PY"; }
pm_config() {
  skopeo inspect --raw --config "containers-storage:[overlay@$PMDIR/root+$PMDIR/run]$1" |
    python3 -c "$BUILD_CONFIG_PY"
}

# checked NAME CMD...: check(), and also return CMD's status (check always
# returns 0), for steps later ones depend on.
checked() {
  local n=$1; shift
  if "$@"; then check "$n" true; else check "$n" false; return 1; fi
}

# same NAME FILE-A FILE-B: check that two files are equal, showing the diff.
same() {
  if diff -u "$2" "$3" >"$2.diff"; then check "$1" true
  else check "$1" false; sed 's/^/#   /' "$2.diff" | head -40; fi
}

# run_out ENGINE IMAGE OUT: the image's default command's stdout (stderr goes
# to OUT.err: podman there complains it cannot reach systemd for healthchecks).
run_out() {
  case $1 in
    berth) timeout 120 "$BERTH_BIN/berth" --root "$ROOT" run --rm --network none "$2" >"$3" 2>"$3.err" ;;
    podman) pm_args; timeout 120 "${PM[@]}" run --rm --network none "$2" >"$3" 2>"$3.err" ;;
  esac
}

# build_parent NAME ENGINE: fixtures with a Dockerfile.parent (ONBUILD) need
# it built first as localhost/NAME-parent:latest, by the same engine.
# (No variable here may be called `name`: check() has a local of that name
# and runs this through eval.)
build_parent() {
  local fx=$1 engine=$2 ctx=$3
  [ -f "$ctx/Dockerfile.parent" ] || return 0
  case $engine in
    berth) bb_build "$ctx" Dockerfile.parent "localhost/$fx-parent:latest" "${BUILD_FLAGS[@]}" ;;
    podman) pm_build "$ctx" Dockerfile.parent "localhost/$fx-parent:latest" "${BUILD_FLAGS[@]}" ;;
  esac
}

# build_compare_fixture NAME: tests/build/NAME built by podman and by berth
# (layered and --flat): same final tree, same config, and the image prints
# run.expect in podman (the fixture is right), in berth, and — saved by berth
# and loaded — in podman. A Dockerfile.heredoc, if present, is built by berth
# only (buildah 1.28 has no heredocs) and must equal its Dockerfile twin.
build_compare_fixture() {
  local fx=$1 ctx dir pimg bimg fimg himg
  dir=$(e2e_tmpdir)
  ctx=$(build_context "$fx")
  build_flags "$fx"
  pimg=localhost/pm-$fx:$TAGS bimg=localhost/bb-$fx:$TAGS fimg=localhost/bb-$fx:$TAGS-flat
  himg=localhost/bb-$fx:$TAGS-heredoc
  local expect=$BUILD_FIXTURES/$fx/run.expect

  if checked "$fx: podman build" eval 'build_parent "$fx" podman "$ctx" && pm_build "$ctx" Dockerfile "$pimg" "${BUILD_FLAGS[@]}"'; then
    pm_tree "$pimg" "$dir/pm.tree"
    pm_config "$pimg" >"$dir/pm.config"
    run_out podman "$pimg" "$dir/pm.run"
    same "$fx: podman's image prints run.expect (fixture sanity)" "$dir/pm.run" "$expect"
  fi
  if ! checked "$fx: berth build" eval 'build_parent "$fx" berth "$ctx" && bb_build "$ctx" Dockerfile "$bimg" "${BUILD_FLAGS[@]}"'; then
    return 1
  fi
  bb_tree "$bimg" "$dir/bb.tree"
  bb_config "$bimg" >"$dir/bb.config"
  if [ -f "$dir/pm.tree" ]; then
    cp "$dir/bb.tree" "$dir/bb-vs-pm.tree"  # filtered; bb.tree stays whole for --flat
    build_tree_filter "$dir/pm.tree" "$dir/bb-vs-pm.tree" "$dir/bb.config"
    same "$fx: final tree equals podman's" "$dir/pm.tree" "$dir/bb-vs-pm.tree"
    same "$fx: config equals podman's" "$dir/pm.config" "$dir/bb.config"
  fi
  run_out berth "$bimg" "$dir/bb.run"
  same "$fx: runs in berth" "$dir/bb.run" "$expect"
  if checked "$fx: berth save | podman load" eval 'b save "$bimg" | pm load -q >/dev/null'; then
    run_out podman "$bimg" "$dir/bb-in-pm.run"
    same "$fx: berth's image runs in podman" "$dir/bb-in-pm.run" "$expect"
  fi

  if checked "$fx: berth build --flat" bb_build "$ctx" Dockerfile "$fimg" --flat "${BUILD_FLAGS[@]}"; then
    bb_tree "$fimg" "$dir/flat.tree"
    bb_config "$fimg" >"$dir/flat.config"
    same "$fx: --flat tree equals layered" "$dir/bb.tree" "$dir/flat.tree"
    same "$fx: --flat config equals layered" "$dir/bb.config" "$dir/flat.config"
  fi

  if [ -f "$ctx/Dockerfile.heredoc" ] &&
     checked "$fx: berth build Dockerfile.heredoc" bb_build "$ctx" Dockerfile.heredoc "$himg" "${BUILD_FLAGS[@]}"; then
    bb_tree "$himg" "$dir/heredoc.tree"
    bb_config "$himg" >"$dir/heredoc.config"
    same "$fx: heredoc tree equals RUN a && b twin" "$dir/bb.tree" "$dir/heredoc.tree"
    same "$fx: heredoc config equals twin" "$dir/bb.config" "$dir/heredoc.config"
    run_out berth "$himg" "$dir/heredoc.run"
    same "$fx: heredoc image runs in berth" "$dir/heredoc.run" "$expect"
    # --flat must give the same for the heredoc forms too.
    if checked "$fx: berth build --flat Dockerfile.heredoc" bb_build "$ctx" Dockerfile.heredoc "$himg-flat" --flat "${BUILD_FLAGS[@]}"; then
      bb_tree "$himg-flat" "$dir/heredoc-flat.tree"
      same "$fx: heredoc --flat tree equals heredoc layered" "$dir/heredoc.tree" "$dir/heredoc-flat.tree"
    fi
  fi
}
