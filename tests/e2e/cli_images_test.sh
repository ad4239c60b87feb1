#!/usr/bin/env bash
# berth's image verbs against the real peers: archives written by skopeo load
# in berth; berth unpack gives exactly umoci's tree; berth save output is
# accepted by skopeo and podman, and the image runs in podman.
set -euo pipefail
source "$BERTH_SRC/tests/e2e/lib/image_fixtures.sh"
T=$(mktemp -d /tmp/berth-e2e-images.XXXXXX)
export BERTH_ROOT=$T/store
PODROOT=$T/podman
podman_() { podman --root "$PODROOT/root" --runroot "$PODROOT/run" --storage-driver vfs --cgroup-manager cgroupfs --events-backend none "$@"; }
cleanup() { podman_ rm -af >/dev/null 2>&1 || true; umount -R "$PODROOT" 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
B=$BERTH_BIN/berth
pass=0; fail=0
ok() { echo "ok - $*"; pass=$((pass+1)); }
not_ok() { echo "not ok - $*"; fail=$((fail+1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }

fixture_oci_layout
umoci unpack --image "$T/oci:busybox" "$T/umoci-unpacked" >/dev/null
python3 "$BERTH_SRC/tests/e2e/lib/treesum.py" "$T/umoci-unpacked/rootfs" > "$T/umoci.sum"
skopeo copy -q "oci:$T/oci:busybox" "docker-archive:$T/docker.tar:busybox:latest"
skopeo copy -q "oci:$T/oci:busybox" "oci-archive:$T/oci.tar:busybox"

# docker-archive (skopeo) -> berth
check "load docker-archive written by skopeo" bash -c "$B load -i $T/docker.tar | grep -q 'Loaded image: docker.io/library/busybox:latest'"
check "images lists it" bash -c "$B images | grep -q '^busybox  *latest'"
check "unpack of docker-archive image equals umoci unpack" bash -c "
  $B unpack busybox $T/u1 && python3 $BERTH_SRC/tests/e2e/lib/treesum.py $T/u1 > $T/u1.sum && diff -u $T/umoci.sum $T/u1.sum"

# oci-archive (skopeo) and OCI layout dir -> berth, in a second store
check "load oci-archive written by skopeo" bash -c "BERTH_ROOT=$T/store2 $B load -i $T/oci.tar | grep -q 'Loaded image: localhost/busybox:latest'"
check "load OCI layout directory" bash -c "BERTH_ROOT=$T/store3 $B load -i $T/oci | grep -q 'localhost/busybox:latest'"
check "unpack of oci-archive image equals umoci unpack" bash -c "
  BERTH_ROOT=$T/store2 $B unpack localhost/busybox $T/u2 && python3 $BERTH_SRC/tests/e2e/lib/treesum.py $T/u2 > $T/u2.sum && diff -u $T/umoci.sum $T/u2.sum"

# tag / inspect / rmi
check "tag" $B tag busybox:latest example.com/team/bb:1.0
check "inspect shows config Cmd and RepoTags" bash -c "$B inspect example.com/team/bb:1.0 | python3 -c '
import json,sys; d=json.load(sys.stdin)[0]
assert d[\"Config\"][\"Cmd\"]==[\"/bin/sh\"], d[\"Config\"]
assert \"example.com/team/bb:1.0\" in d[\"RepoTags\"], d[\"RepoTags\"]
assert d[\"Os\"]==\"linux\"'"
check "inspect --format {{.Os}}" bash -c "[ \"\$($B inspect --format '{{.Os}}' busybox)\" = linux ]"

# berth save -> skopeo inspect, podman load + run
check "save docker-archive" $B save -o "$T/out-docker.tar" example.com/team/bb:1.0
check "skopeo inspect accepts berth's docker-archive" bash -c "skopeo inspect docker-archive:$T/out-docker.tar | grep -q '\"Architecture\": \"amd64\"'"
check "save oci-archive" $B save --format oci-archive -o "$T/out-oci.tar" busybox
check "skopeo inspect accepts berth's oci-archive" bash -c "skopeo inspect oci-archive:$T/out-oci.tar >/dev/null"
check "save oci-dir" $B save --format oci-dir -o "$T/out-ocidir" busybox
check "umoci reads berth's oci-dir" bash -c "umoci ls --layout $T/out-ocidir | grep -q ."
check "podman loads berth's docker-archive" bash -c "podman_() { podman --root $PODROOT/root --runroot $PODROOT/run --storage-driver vfs --events-backend none \"\$@\"; }; podman_ load -q -i $T/out-docker.tar >/dev/null 2>&1"
check "image saved by berth runs in podman" bash -c "[ \"\$(podman --root $PODROOT/root --runroot $PODROOT/run --storage-driver vfs --events-backend none run --rm --network none example.com/team/bb:1.0 /bin/cat /etc/passwd | head -1)\" = 'root:x:0:0:root:/root:/bin/sh' ]"
check "save | load round trip through stdin" bash -c "$B save busybox | BERTH_ROOT=$T/store4 $B load | grep -q busybox"

# import a rootfs tarball with --change
fixture_rootfs "$T/rootfs2"
tar -C "$T/rootfs2" -czf "$T/rootfs2.tgz" .
check "import rootfs tar.gz with --change" bash -c "$B import --change 'CMD [\"/bin/echo\",\"hi\"]' --change 'ENV A=b' $T/rootfs2.tgz imported:1 | grep -q '^sha256:'"
check "imported config carries the changes" bash -c "$B inspect imported:1 | python3 -c '
import json,sys; d=json.load(sys.stdin)[0]
assert d[\"Config\"][\"Cmd\"]==[\"/bin/echo\",\"hi\"], d[\"Config\"]
assert \"A=b\" in d[\"Config\"][\"Env\"]'"

# hostile input: a corrupt archive changes nothing
before=$(cd "$BERTH_ROOT" && find blobs -type f | sort | md5sum; $B images --format json | md5sum)
head -c 300000 "$T/docker.tar" > "$T/truncated.tar"
check "truncated archive is refused with a one-line error" bash -c "! $B load -i $T/truncated.tar 2>$T/err && [ \$(wc -l < $T/err) -eq 1 ] && grep -q '^Error: ' $T/err"
after=$(cd "$BERTH_ROOT" && find blobs -type f | sort | md5sum; $B images --format json | md5sum)
$B gc >/dev/null
after_gc=$(cd "$BERTH_ROOT" && find blobs -type f | sort | md5sum; $B images --format json | md5sum)
check "store unchanged after a failed load (after gc)" [ "$before" = "$after_gc" ]
check "unknown image gives exit 125" bash -c "$B inspect nosuch:image >/dev/null 2>&1; [ \$? -eq 125 ]"

# rmi + gc frees the blobs
check "rmi untags" bash -c "$B rmi example.com/team/bb:1.0 | grep -q Untagged"
$B rmi busybox imported:1 >/dev/null
check "after rmi of every image, gc leaves no blobs" bash -c "$B gc >/dev/null; [ -z \"\$(find $BERTH_ROOT/blobs -type f)\" ]"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
