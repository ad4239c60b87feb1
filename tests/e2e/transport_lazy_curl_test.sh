#!/usr/bin/env bash
# libcurl is loaded with dlopen on the first HTTP request, not linked
# (src/transport/curl_api.h; docs/transport.md "libcurl is loaded lazily"):
# berth's ELF does not need it, commands without HTTP work where libcurl.so.4
# is unusable, pull and ADD <url> there fail with one line naming the cause,
# and ADD <url> downloads through the loaded library.
# The broken library is simulated in a private mount namespace (an empty file
# bind-mounted over it), so nothing outside this test sees it.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/engine.sh"
source "$BERTH_SRC/tests/e2e/lib/nolib.sh"
for t in readelf ldd unshare ldconfig python3; do
  command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 0; }
done
B=$BERTH_BIN/berth
engine_setup bb
T=$(e2e_tmpdir)

check_not_linked "$B" curl

real=$(library_file libcurl.so.4)
# without_curl CMD...: CMD in a mount namespace where libcurl.so.4 is empty.
without_curl() { without_library "$real" "$@"; }

check "berth --version without libcurl" without_curl "$B" --version
check "berth images without libcurl" without_curl "$B" --root "$ROOT" images -q
err=$(without_curl "$B" --root "$ROOT" pull -q --tls-verify=false 127.0.0.1:1/none/x:v1 2>&1)
rc=$?
check "pull without libcurl fails" test "$rc" -ne 0
check "... naming the missing library" sh -c 'printf %s "$1" | grep -q "libcurl.so.4 could not be loaded (needed for HTTP): "' _ "$err"
expect_eq "... on one line" 1 "$(printf '%s\n' "$err" | wc -l)"

mkdir -p "$T/ctx" "$T/www"
echo "fetched over http" > "$T/www/file.txt"
err=$(printf 'FROM bb\nADD http://127.0.0.1:9/file.txt /x\n' | without_curl "$B" --root "$ROOT" build -q -f - "$T/ctx" 2>&1)
rc=$?
check "ADD <url> without libcurl fails" test "$rc" -ne 0
check "... naming the URL and the missing library" sh -c \
  'printf %s "$1" | grep -q "ADD http://127.0.0.1:9/file.txt: libcurl.so.4 could not be loaded (needed for HTTP)"' _ "$err"

# With the library in place, ADD <url> downloads through it.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$port" >"$T/http.log" 2>&1 &
srv=$!
e2e_on_exit "kill $srv; wait $srv"
for _ in $(seq 100); do python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/file.txt')" 2>/dev/null && break; sleep 0.1; done
printf 'FROM bb\nADD http://127.0.0.1:%s/file.txt /x\n' "$port" > "$T/ctx/Dockerfile"
check "ADD <url> with libcurl builds" b build -q -t curlload "$T/ctx"
expect_eq "... and the file is in the image" "fetched over http" "$(b run --rm --network none curlload cat /x)"

e2e_finish
