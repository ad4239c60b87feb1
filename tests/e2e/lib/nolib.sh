# Shared by the tests of libraries berth loads with dlopen (libcurl,
# libarchive): run a command where such a library is unusable, without
# touching the host. Source after bundle.sh (needs e2e_tmpdir).

# library_file SONAME: the file the dynamic loader maps for SONAME, this
# machine's ABI first (ldconfig -p lists every ABI's copy).
library_file() {
  local lib
  lib=$(ldconfig -p | awk -v s="$1" '$1 == s && /x86-64|x32|64bit|AArch64/ {print $NF; exit}')
  [ -n "$lib" ] || lib=$(ldconfig -p | awk -v s="$1" '$1 == s {print $NF; exit}')
  readlink -f "$lib"
}

# without_library FILE CMD...: CMD in a private mount namespace where FILE is
# an empty file (bind-mounted over it), so dlopen of it fails; nothing outside
# that namespace sees the change.
NOLIB_EMPTY="$(e2e_tmpdir)/empty.so"
: >"$NOLIB_EMPTY"
without_library() {
  local file=$1; shift
  unshare -m --propagation private -- sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' _ "$NOLIB_EMPTY" "$file" "$@"
}

# check_not_linked BIN NAME: BIN's ELF does not NEED libNAME, nor does any
# library the loader maps for it at start (ldd).
check_not_linked() {
  local bin=$1 name=$2 base
  base=$(basename "$bin")
  check "$base does not link lib$name" sh -c "! readelf -d '$bin' | grep -q 'NEEDED.*lib$name'"
  check "nor does any library $base loads at start" sh -c "! ldd '$bin' | grep -q lib$name"
}
