#!/usr/bin/env bash
# libarchive is loaded with dlopen on the first tar operation, not linked
# (src/libarchive/libarchive.h; docs/startup.md): berth's ELF does not need
# it, commands without tar (run of an unpacked image, images, import) work
# where libarchive.so.13 is unusable, save/load and the first run of an
# imported image there fail with one line naming the cause, and they work
# normally with the library in place.
# The broken library is simulated in a private mount namespace (an empty file
# bind-mounted over it), so nothing outside this test sees it.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/engine.sh"
source "$BERTH_SRC/tests/e2e/lib/nolib.sh"
for t in readelf ldd unshare ldconfig; do
  command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 0; }
done
B=$BERTH_BIN/berth
engine_setup bb
T=$(e2e_tmpdir)

check_not_linked "$B" archive

real=$(library_file libarchive.so.13)
# without_archive CMD...: CMD in a mount namespace where libarchive.so.13 is empty.
without_archive() { without_library "$real" "$@"; }
WANT="libarchive.so.13 could not be loaded (needed for tar): "

# bb's layer is unpacked by its first run, which needs libarchive.
check "first run of bb with libarchive" b run --rm --network none bb true
check "berth --version without libarchive" without_archive "$B" --version
check "berth images without libarchive" without_archive "$B" --root "$ROOT" images -q
expect_eq "run --rm without libarchive" "ran" "$(without_archive "$B" --root "$ROOT" run --rm --network none bb echo ran 2>&1)"

# fails_clearly NAME CMD...: CMD fails without libarchive, with one line naming the cause.
fails_clearly() {
  local name=$1 err rc
  shift
  err=$(without_archive "$@" 2>&1)
  rc=$?
  check "$name without libarchive fails" test "$rc" -ne 0
  check "... naming the missing library" sh -c 'printf %s "$1" | grep -qF "$2"' _ "$err" "$WANT"
  expect_eq "... on one line" 1 "$(printf '%s\n' "$err" | wc -l)"
}
fails_clearly "save" "$B" --root "$ROOT" save -o "$T/nolib.tar" bb
check "... and leaves no archive behind" test ! -s "$T/nolib.tar"

# With the library in place the same verbs work; their outputs feed the
# failing cases below.
check "save with libarchive" b save -o "$T/bb.tar" bb
check "... writes an archive" test -s "$T/bb.tar"
fails_clearly "load" "$B" --root "$ROOT" load -q -i "$T/bb.tar"

# import only hashes and stores the tarball (no tar parsing), so it works
# without libarchive; the layer is unpacked by the first run, which needs it.
engine_rootfs "$T/rootfs"
echo lazy > "$T/rootfs/marker"
tar -C "$T/rootfs" -cf "$T/rootfs.tar" .
check "import without libarchive" without_archive "$B" --root "$ROOT" import -q "$T/rootfs.tar" lazyimp
fails_clearly "first run of an imported image" "$B" --root "$ROOT" run --rm --network none lazyimp cat /marker
expect_eq "... and with libarchive it runs" "lazy" "$(b run --rm --network none lazyimp cat /marker 2>&1)"

engine_new_root
check "load with libarchive" b load -q -i "$T/bb.tar"
expect_eq "... and the loaded image runs" "ran" "$(b run --rm --network none bb echo ran 2>&1)"

e2e_finish
