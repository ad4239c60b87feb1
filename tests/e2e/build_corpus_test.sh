#!/usr/bin/env bash
# `berth build` against `podman build` on the busybox fixtures of tests/build:
# the same final tree and config, layered and --flat alike, and the image
# runs in berth and (saved by berth) in podman. See tests/e2e/lib/build.sh.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/build.sh"
build_setup
check "busybox base imported into berth and podman" build_import_busybox
# Arguments pick fixtures (for debugging one); ctest passes none.
all=false
[ $# -gt 0 ] || { all=true; set -- multistage workdir-user copy-chown-chmod dockerignore args-env onbuild config heredoc whiteouts; }
for f in "$@"; do
  build_compare_fixture "$f"
done

# --target: the build stage of the multistage fixture, alone, in both engines.
if $all; then
  ctx=$(build_context multistage) d=$(e2e_tmpdir)
  if checked "--target build: podman" pm_build "$ctx" Dockerfile "localhost/pm-target:$TAGS" --network=none --target build &&
     checked "--target build: berth" bb_build "$ctx" Dockerfile "localhost/bb-target:$TAGS" --network=none --target build; then
    pm_tree "localhost/pm-target:$TAGS" "$d/pm.tree"
    bb_tree "localhost/bb-target:$TAGS" "$d/bb.tree"
    bb_config "localhost/bb-target:$TAGS" >"$d/bb.config"
    pm_config "localhost/pm-target:$TAGS" >"$d/pm.config"
    build_tree_filter "$d/pm.tree" "$d/bb.tree" "$d/bb.config"
    same "--target build: tree equals podman's" "$d/pm.tree" "$d/bb.tree"
    same "--target build: config equals podman's" "$d/pm.config" "$d/bb.config"
  fi
fi
e2e_finish
