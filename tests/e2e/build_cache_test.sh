#!/usr/bin/env bash
# The layer cache of `berth build` (tests/build/cache): a rebuild without
# changes hits the cache for every step; changing an unread or ignored file,
# or only a file's mtime, keeps every step; editing a file re-runs from the
# first step that reads it; --no-cache re-runs everything; a build arg the
# Dockerfile does not declare keeps every step, and a declared ARG re-runs
# only the RUN steps after its declaration (Docker: RUN steps see every ARG
# in scope in their environment). Each RUN of the fixture writes random
# bytes, so a re-run step shows in the image whatever the engine prints.
# CACHE_ENGINE=podman runs the same expectations against podman build (the
# peer they were checked with) instead of berth.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/build.sh"
build_setup
engine=${CACHE_ENGINE:-berth}
check "busybox base imported into berth and podman" build_import_busybox
ctx=$(build_context cache)
img=localhost/cache:$TAGS
out=$(e2e_tmpdir)

# rebuild NAME KEPT [FLAGS...]: build, then check the first KEPT of the four
# RUN steps kept their output from the previous build and the rest changed.
prev=""
rebuild() {
  local name=$1 kept=$2 now i a b ok=true; shift 2
  if [ "$engine" = berth ]; then
    bb_build "$ctx" Dockerfile "$img" --network=none --iidfile "$out/iid" "$@" || { check "$name: build" false; return; }
  else
    pm_build "$ctx" Dockerfile "$img" --network=none --iidfile "$out/iid" "$@" || { check "$name: build" false; return; }
  fi
  run_out "$engine" "$img" "$out/run"
  now=$(cat "$out/run")
  if [ -n "$prev" ]; then
    for i in 1 2 3 4; do
      a=$(cut -d' ' -f$i <<<"$prev") b=$(cut -d' ' -f$i <<<"$now")
      if [ "$i" -le "$kept" ] && [ "$a" != "$b" ]; then ok=false; echo "#   step r$i re-ran, should be cached"; fi
      if [ "$i" -gt "$kept" ] && [ "$a" = "$b" ]; then ok=false; echo "#   step r$i cached, should have re-run"; fi
    done
    case $kept in
      4) check "$name: every RUN step cached" $ok ;;
      0) check "$name: every RUN step re-ran" $ok ;;
      *) check "$name: first $kept RUN steps cached, the rest re-ran" $ok ;;
    esac
  fi
  prev=$now
}

rebuild "first build" 0
[ -n "$prev" ] || { echo "# the first build failed: nothing to compare"; e2e_finish; exit; }
iid1=$(cat "$out/iid")
rebuild "no-change rebuild" 4
# Both engines print podman's "--> Using cache ID" for a hit. podman prints it
# for config-only steps (ENV, ARG, CMD) too, berth only for the steps that
# make a filesystem snapshot: require at least one per RUN/COPY/WORKDIR.
fs_steps=$(grep -cE 'STEP [0-9]+/[0-9]+: (RUN|COPY|ADD|WORKDIR) ' "$BUILD_LOG")
hits=$(grep -c 'Using cache' "$BUILD_LOG")
check "no-change rebuild reports a cache hit for each of the $fs_steps RUN/COPY/WORKDIR steps ($hits hits)" \
  test "$hits" -ge "$fs_steps" -a "$fs_steps" -eq 7
expect_eq "no-change rebuild gives the same image id" "$iid1" "$(cat "$out/iid")"
touch -d '2001-01-01' "$ctx/a.txt" "$ctx/dir/f"
rebuild "touched (mtime only) a.txt and dir/f" 4
echo changed >>"$ctx/unread.txt"
rebuild "edited a file no step reads" 4
echo changed >>"$ctx/dir/ignored.txt"
rebuild "edited a .dockerignore'd file" 4
echo changed >>"$ctx/dir/f"
rebuild "edited dir/f (read by the 2nd COPY)" 2
echo changed >>"$ctx/a.txt"
rebuild "edited a.txt (read by the 1st COPY)" 1
rebuild "--build-arg the Dockerfile does not declare" 4 --build-arg NOT_DECLARED=x
rebuild "--build-arg LATE=2 (declared before the 4th RUN)" 3 --build-arg LATE=2
rebuild "same LATE=2 again" 4 --build-arg LATE=2
rebuild "--no-cache" 0 --no-cache
e2e_finish
