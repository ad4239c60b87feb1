#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs unit + e2e tests
# (ctest), then every libFuzzer target briefly. Exit status is the verdict.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build
mkdir -p /var/cache/berth-test
rc=0
(cd build && ctest --output-on-failure -j2 --timeout 900) || rc=1
# Fuzzers: a short run of each target (rule 3). Seconds per target via BERTH_FUZZ_SECONDS.
bash scripts/fuzz.sh "${BERTH_FUZZ_SECONDS:-20}" || rc=1
exit $rc
