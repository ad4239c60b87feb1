#!/usr/bin/env bash
# `berth build` against `podman build` on a Debian minbase (debootstrap, cached
# in $BERTH_CACHE): apt-get install over --network host, useradd/groupadd,
# COPY --chown by names from the image's own passwd. See tests/e2e/lib/build.sh.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/build.sh"
build_setup
if ! checked "minbase imported into berth and podman" build_import_minbase; then
  e2e_finish; exit
fi
# Arguments pick fixtures (for debugging one); ctest passes none.
[ $# -gt 0 ] || set -- debian-apt debian-useradd
for f in "$@"; do
  build_compare_fixture "$f"
done
e2e_finish
