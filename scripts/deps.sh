#!/usr/bin/env bash
# Installs everything berth needs to build, test and demo on a fresh Debian 12 (as root).
# Idempotent: a second run only checks. Both README commands call this first.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config clang-14 libclang-rt-14-dev
  libssl-dev libarchive-dev zlib1g-dev libzstd-dev nlohmann-json3-dev libcli11-dev
  libsqlite3-dev libseccomp-dev libcap-dev libyaml-cpp-dev libcurl4-openssl-dev
  libboost-dev libgtest-dev libgmock-dev libisal-dev
  libcurl4  # run time: dlopen'ed on the first HTTP request (docs/transport.md), invisible to ldd
  libarchive13  # run time: dlopen'ed on the first tar operation (docs/startup.md), invisible to ldd
)
# Reference peers the tests compare berth against (rule 2: real peers, no mocks).
PEER_PKGS=(
  busybox-static debootstrap umoci skopeo podman buildah runc containerd
  docker-registry uidmap apache2-utils curl jq tar gzip zstd python3 iproute2
  containernetworking-plugins iptables procps util-linux hyperfine libcap2-bin time bc slirp4netns
)

want=("${BUILD_PKGS[@]}")
[ "${BERTH_DEPS:-all}" = build ] || want+=("${PEER_PKGS[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# podman's default ulimits exceed this class of host's hard nofile limit, and
# crun refuses hybrid cgroup hosts: pin the peers to values that work everywhere.
if [ "${BERTH_DEPS:-all}" != build ]; then
  mkdir -p /etc/containers
  if ! grep -q 'berth test setup' /etc/containers/containers.conf 2>/dev/null; then
    cat > /etc/containers/containers.conf <<'CONF'
# written by berth test setup (scripts/deps.sh)
[containers]
default_ulimits = ["nofile=1024:1024","nproc=4096:4096"]
[engine]
runtime = "runc"
CONF
  fi
  [ -f /etc/containers/policy.json ] || echo '{"default":[{"type":"insecureAcceptAnything"}]}' > /etc/containers/policy.json
fi
echo "deps: ok"
