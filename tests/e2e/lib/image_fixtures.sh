# Shared e2e fixtures for image tests: a busybox rootfs from Debian's
# busybox-static, and OCI / docker archives of it written by the real peers
# (umoci builds the OCI layout, skopeo converts). Source this file.
# Needs: $BERTH_BIN, $BERTH_SRC. Everything goes under $T (a temp dir the
# caller owns and removes).

fixture_rootfs() {  # fixture_rootfs DIR
  local d=$1
  mkdir -p "$d/bin" "$d/etc" "$d/tmp" "$d/root" "$d/usr/sbin"
  cp /bin/busybox "$d/bin/busybox"
  for a in sh ls cat echo true false sleep id env mkdir rm touch stat grep wc head printf; do
    ln -sf busybox "$d/bin/$a"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' > "$d/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$d/etc/group"
  chmod 1777 "$d/tmp"
}

# An OCI layout at $T/oci with two layers (busybox; then a change layer that
# deletes a file and adds a setuid file, a hardlink, a symlink, a fifo and a
# file with a capability) tagged "busybox". Built by umoci.
fixture_oci_layout() {
  local layout=$T/oci
  umoci init --layout "$layout" >/dev/null
  umoci new --image "$layout:busybox" >/dev/null
  fixture_rootfs "$T/rootfs"
  echo "to be deleted" > "$T/rootfs/etc/gone"
  umoci insert --image "$layout:busybox" "$T/rootfs" / >/dev/null
  mkdir -p "$T/l2/usr/local/bin" "$T/l2/etc"
  echo "suid" > "$T/l2/usr/local/bin/suid"; chmod 4755 "$T/l2/usr/local/bin/suid"
  echo "shared" > "$T/l2/usr/local/bin/a"; ln "$T/l2/usr/local/bin/a" "$T/l2/usr/local/bin/b"
  ln -s ../../bin/busybox "$T/l2/usr/local/bin/bb"
  mkfifo "$T/l2/usr/local/fifo"
  cp /bin/busybox "$T/l2/usr/local/bin/ping"
  setcap cap_net_raw+ep "$T/l2/usr/local/bin/ping" 2>/dev/null || true
  umoci insert --image "$layout:busybox" "$T/l2" / >/dev/null
  # The whiteout: umoci raw add-layer of a tar holding etc/.wh.gone
  mkdir -p "$T/wh/etc" && touch "$T/wh/etc/.wh.gone"
  tar -C "$T/wh" -cf "$T/wh.tar" etc
  umoci raw add-layer --image "$layout:busybox" "$T/wh.tar" >/dev/null
  umoci config --image "$layout:busybox" --config.cmd /bin/sh --config.env PATH=/usr/local/bin:/bin >/dev/null
}
