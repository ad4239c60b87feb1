#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for N seconds (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
[ -d fuzz ] || { echo "fuzz: no targets"; exit 0; }
CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DBERTH_FUZZ=ON -DBERTH_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=Fuzz -DCMAKE_C_FLAGS="-O1 -g0" -DCMAKE_CXX_FLAGS="-O1 -g0" >/dev/null
ninja -C build-fuzz fuzz_all
fails=0; n=0
for t in build-fuzz/bin/fuzz_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t"); n=$((n+1))
  corpus=fuzz/corpus/${name#fuzz_}
  work=$(mktemp -d /tmp/berth-fuzz.XXXXXX)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null || true
  mkdir -p /tmp/berth-fuzz-artifacts
  if "$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -artifact_prefix=/tmp/berth-fuzz-artifacts/"$name"- "$work" >"/tmp/$name.log" 2>&1; then
    echo "fuzz: $name ok ($(grep -o 'Done [0-9]* runs' "/tmp/$name.log" | head -1))"
  else
    echo "fuzz: $name FAILED"; tail -40 "/tmp/$name.log"; fails=$((fails+1))
  fi
  rm -rf "$work"
done
echo "fuzz: $((n-fails)) passed, $fails failed"
[ $fails -eq 0 ]
