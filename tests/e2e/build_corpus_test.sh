#!/usr/bin/env bash
# `berth build` against `podman build` on the busybox fixtures of tests/build:
# the same final tree and config, layered and --flat alike, and the image
# runs in berth and (saved by berth) in podman. See tests/e2e/lib/build.sh.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/build.sh"
build_setup
check "busybox base imported into berth and podman" build_import_busybox
# Arguments pick fixtures (for debugging one); ctest passes none.
[ $# -gt 0 ] || set -- multistage workdir-user copy-chown-chmod dockerignore args-env onbuild config heredoc whiteouts
for f in "$@"; do
  build_compare_fixture "$f"
done
e2e_finish
