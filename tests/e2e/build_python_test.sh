#!/usr/bin/env bash
# `berth build` against `podman build` on the Python wheelhouse pattern
# (tests/build/debian-wheelhouse: python3 from apt on Debian minbase over
# --network host, a build stage making a wheel, a runtime stage installing
# it). Its own test: the apt install runs in 3 builds and takes a while.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/build.sh"
build_setup
if checked "minbase imported into berth and podman" build_import_minbase; then
  build_compare_fixture debian-wheelhouse
fi
e2e_finish
