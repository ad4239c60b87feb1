#!/usr/bin/env bash
# berth commit (running container, --change, -m, whiteouts, save -> podman
# load) and volumes (named, anonymous, binds, tmpfs, image VOLUME, the
# volume verbs, system df), with Docker's semantics as the reference.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/engine.sh"
engine_setup
T=$(e2e_tmpdir)
N="cv$$"

# --- commit ---
b run -d --network none --name "$N" bb sh -c 'rm -rf /usr && mkdir /usr && echo o >/usr/only; echo committed >/hello; rm /etc/group; sleep 1000' >/dev/null
engine_wait_status "$N" running
for _ in $(seq 50); do b exec "$N" test -f /hello && break; sleep 0.1; done
id=$(b commit -m "a message" --change 'CMD ["cat","/hello"]' "$N" "committed$$:v1"); rc=$?
expect_eq "commit of a running container rc" 0 $rc
check "commit prints the image id ($id)" grep -Eq '^sha256:[0-9a-f]{64}$' <<<"$id"
expect_eq "container still running after commit" running "$(b inspect --format '{{.State.Status}}' "$N")"
expect_eq "run the committed image: file + new CMD" committed "$(b run --rm --network none "committed$$:v1")"
b run --rm --network none "committed$$:v1" test -e /etc/group; rc=$?
expect_eq "a file deleted in the container is gone in the image (whiteout)" 1 $rc
expect_eq "a directory replaced in the container hides the old contents (opaque whiteout)" "only" \
  "$(b run --rm --network none "committed$$:v1" ls -A /usr)"
check "commit message in history" sh -c "'$BERTH_BIN/berth' --root '$ROOT' history --no-trunc 'committed$$:v1' 2>/dev/null | grep -q 'a message' || '$BERTH_BIN/berth' --root '$ROOT' image inspect 'committed$$:v1' | grep -q 'a message'"
check "commit event journaled" grep -q '"commit"' "$ROOT/events.jsonl"

b save -o "$T/c.tar" "committed$$:v1"; expect_eq "save the committed image" 0 $?
mkdir -p "$T/saved" && tar -C "$T/saved" -xf "$T/c.tar"
top=$(jq -r '.[0].Layers[-1]' "$T/saved/manifest.json")
tar -tf "$T/saved/$top" >"$T/top.list" 2>/dev/null
check "committed layer has the OCI whiteout etc/.wh.group" grep -qx 'etc/.wh.group' "$T/top.list"
check "committed layer has no runtime mount points (etc/hosts, etc/resolv.conf, etc/hostname)" \
  sh -c "! grep -Eq '^etc/(hosts|resolv.conf|hostname)$' '$T/top.list'"
if command -v podman >/dev/null; then
  P="$T/podman"; mkdir -p "$P"
  e2e_on_exit "podman --root '$P/root' --runroot '$P/run' --storage-driver vfs rm -af; podman --root '$P/root' --runroot '$P/run' --storage-driver vfs rmi -af"
  pm() { podman --root "$P/root" --runroot "$P/run" --storage-driver vfs "$@"; }
  pm load -i "$T/c.tar" >"$T/pload.out" 2>&1; rc=$?
  expect_eq "podman loads berth's save of a committed image" 0 $rc
  [ $rc -eq 0 ] || cat "$T/pload.out"
  out=$(pm run --rm --runtime runc --network none "localhost/committed$$:v1" 2>&1)
  expect_eq "podman runs the committed image (file + CMD)" committed "$out"
fi
b commit --pause=false "$N" "committed$$:nopause" >/dev/null; expect_eq "commit --pause=false" 0 $?
b rm -f "$N" >/dev/null

# --- volumes ---
vol_exists() { b volume inspect "$1" >/dev/null 2>&1; }
b volume create "named$$" >/dev/null
b run --rm --network none -v "named$$:/data" bb sh -c 'echo kept >/data/f'
expect_eq "named volume persists across containers" kept "$(b run --rm --network none -v "named$$:/data" bb cat /data/f)"
expect_eq "volume ls lists it" "local named$$" "$(b volume ls | awk -v n="named$$" '$2==n {print $1, $2}')"
check "volume ls header is Docker's" sh -c "'$BERTH_BIN/berth' --root '$ROOT' volume ls | head -1 | grep -Eq '^DRIVER +VOLUME NAME$'"
expect_eq "volume inspect Name" "named$$" "$(b volume inspect "named$$" | jq -r '.[0].Name')"
expect_eq "volume inspect Driver" "local" "$(b volume inspect --format '{{.Driver}}' "named$$")"
mp=$(b volume inspect --format '{{.Mountpoint}}' "named$$")
expect_eq "volume inspect Mountpoint holds the data" kept "$(cat "$mp/f" 2>/dev/null)"

expect_eq "--mount type=volume shares the named volume" kept \
  "$(b run --rm --network none --mount "type=volume,source=named$$,target=/m" bb cat /m/f)"
check "volume ls -f dangling=true lists the unused volume" sh -c "'$BERTH_BIN/berth' --root '$ROOT' volume ls -q -f dangling=true | grep -qx 'named$$'"
b run -d --network none --name "$N-u" -v "named$$:/data" bb sleep 1000 >/dev/null
engine_wait_status "$N-u" running
check "volume ls -f dangling=false lists the volume in use" sh -c "'$BERTH_BIN/berth' --root '$ROOT' volume ls -q -f dangling=false | grep -qx 'named$$'"
err=$(b volume rm "named$$" 2>&1); rc=$?
check "volume rm refuses a volume in use (rc=$rc)" test $rc -ne 0
check "in-use error names the container ($err)" grep -q "in use" <<<"$err"
b rm -f "$N-u" >/dev/null
expect_eq "volume rm prints the name" "named$$" "$(b volume rm "named$$")"
b volume inspect "named$$" >/dev/null 2>&1; check "volume gone after rm" test $? -ne 0

# Anonymous volumes: --rm removes them; 100 runs leave the volumes dir as it was.
before=$(ls "$ROOT/volumes" 2>/dev/null | sort | tr '\n' ' ')
du_before=$(du -s "$ROOT/volumes" 2>/dev/null | cut -f1)
ctrs_before=$(ls "$ROOT/containers" 2>/dev/null | sort | tr '\n' ' ')
fails=0
for i in $(seq 100); do b run --rm --network none -v /data bb sh -c 'echo x >/data/x' || fails=$((fails + 1)); done
expect_eq "100 x run --rm -v /data all succeed" 0 "$fails"
after=$(ls "$ROOT/volumes" 2>/dev/null | sort | tr '\n' ' ')
du_after=$(du -s "$ROOT/volumes" 2>/dev/null | cut -f1)
expect_eq "100 x run --rm -v /data: volumes dir listing unchanged" "$before" "$after"
expect_eq "100 x run --rm -v /data: du -s volumes unchanged" "$du_before" "$du_after"
expect_eq "100 x run --rm: no container dirs left behind" "$ctrs_before" "$(ls "$ROOT/containers" 2>/dev/null | sort | tr '\n' ' ')"
check "100 x run --rm: no volume left in volume ls" test -z "$(b volume ls -q)"
b run --network none --name "$N-a" -v /data bb true
anon=$(b inspect "$N-a" | jq -r '.[0].Mounts[] | select(.Destination=="/data") | .Name')
check "anonymous volume exists ($anon)" vol_exists "$anon"
b rm -v "$N-a" >/dev/null
b volume inspect "$anon" >/dev/null 2>&1; check "rm -v removes the anonymous volume" test $? -ne 0

# Binds, tmpfs.
mkdir -p "$T/bind"; echo bound >"$T/bind/b"
expect_eq "bind mount read" bound "$(b run --rm --network none -v "$T/bind:/x:ro" bb cat /x/b)"
b run --rm --network none -v "$T/bind:/x:ro" bb sh -c 'echo no >/x/w' 2>/dev/null
check "write to a :ro bind fails" test ! -e "$T/bind/w"
b run --rm --network none -v "$T/bind:/x" bb sh -c 'echo yes >/x/w'
expect_eq "write to a rw bind reaches the host" yes "$(cat "$T/bind/w" 2>/dev/null)"
expect_eq "--mount type=tmpfs" tmpfs "$(b run --rm --network none --mount type=tmpfs,target=/scratch bb sh -c "awk '\$2==\"/scratch\" {print \$3}' /proc/mounts")"
expect_eq "--tmpfs" tmpfs "$(b run --rm --network none --tmpfs /run2 bb sh -c "awk '\$2==\"/run2\" {print \$3}' /proc/mounts")"

# An image VOLUME gets an anonymous volume populated from the image.
engine_import_image "bbvol$$" 'VOLUME ["/etc"]'
b run --network none --name "$N-iv" "bbvol$$" true
ivname=$(b inspect "$N-iv" | jq -r '.[0].Mounts[] | select(.Destination=="/etc") | .Name')
check "image VOLUME got an anonymous volume ($ivname)" test -n "$ivname" -a "$ivname" != null
ivmp=$(b volume inspect --format '{{.Mountpoint}}' "$ivname" 2>/dev/null)
check "image VOLUME populated from the image" test -f "$ivmp/passwd"

# prune: unused anonymous volumes go; named ones stay (Docker >= 23).
b rm "$N-iv" >/dev/null
b volume create "keep$$" >/dev/null
out=$(b volume prune -f)
check "volume prune lists the anonymous volume" grep -q "$ivname" <<<"$out"
check "volume prune reports reclaimed space" grep -q "Total reclaimed space:" <<<"$out"
check "volume prune keeps named volumes" vol_exists "keep$$"
out=$(b volume prune -af)
check "volume prune -a removes named ones" grep -q "keep$$" <<<"$out"

out=$(b system df)
check "system df header" grep -Eq '^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE' <<<"$out"
expect_eq "system df rows" "Images Containers Local" "$(awk 'NR>1 {print $1}' <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
e2e_finish
