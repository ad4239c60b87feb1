#!/usr/bin/env bash
# berth run --network bridge|none|host end to end: a web server in a container
# reached on its IP, on 127.0.0.1:<hostport> and the host's own address:<hostport>
# (-p, -P), NAT out to the host's address, the generated /etc files, and no
# iptables rule, veth or namespace left after rm. Needs root, the CNI plugins,
# busybox-static, umoci, jq.
set -uo pipefail
source "$BERTH_SRC/tests/e2e/lib/bundle.sh"
source "$BERTH_SRC/tests/e2e/lib/image_fixtures.sh"
# Every berth call is bounded (-k: berth proxies SIGTERM to the container).
B="timeout -k 5 120 $BERTH_BIN/berth"

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 0; }
[ -x /usr/lib/cni/bridge ] || { echo "SKIP: containernetworking-plugins not installed"; exit 0; }

T=$(e2e_tmpdir)
trap 'exit 1' TERM INT  # through the EXIT trap: cleanup runs when ctest times out
# Store and run dir (netns mounts, CNI state) inside $T: e2e_cleanup unmounts them.
export BERTH_ROOT=$T/store BERTH_RUN=$T/run
# A bridge and subnet of our own, so parallel runs never meet.
n=$(( ($$ % 200) + 20 ))
export BERTH_BRIDGE=berthe2e$n BERTH_SUBNET=10.232.$n.0/24
# Last: the netns dir is a (shared) mount berth made; it may be stacked twice.
e2e_on_exit "umount -l $T/run/netns; umount -l $T/run/netns"
e2e_on_exit "ip link del $BERTH_BRIDGE"
# rm detaches (CNI DEL): rules, veths and IPs go before the bridge does.
e2e_on_exit "$B ps -aq | xargs -r $B rm -f"

pass=0 fail=0
check() {  # check NAME CMD...
  local name=$1; shift
  if "$@" >"$T/out" 2>&1; then pass=$((pass + 1)); echo "ok   $name"
  else fail=$((fail + 1)); echo "FAIL $name"; sed 's/^/     /' "$T/out" | tail -20; fi
}
hostip=$(ip -4 -o addr show scope global | awk '$2 !~ /^(berth|cni|docker|veth|podman)/ {split($4, a, "/"); print a[1]; exit}')
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("",0)); print(s.getsockname()[1])'; }
inspect_ip() { $B inspect "$1" | jq -r 'if type == "array" then .[0] else . end | .NetworkSettings.IPAddress'; }
fetch() { curl -fsS --max-time 5 "$1"; }
# in_ctr [run flags] IMAGE CMD...: a short container's output (fails when it
# prints nothing). Runs detached and polls the log instead of waiting for the
# exit, which keeps the check on networking rather than on exit plumbing.
in_ctr() {
  local id out="" i
  id=$($B run -d "$@") || return 1
  for i in $(seq 100); do
    out=$($B logs "$id" 2>/dev/null)
    [ -n "$out" ] && { sleep 0.5; out=$($B logs "$id" 2>/dev/null); break; }
    sleep 0.2
  done
  $B rm -f "$id" >/dev/null
  printf '%s\n' "$out"
  [ -n "$out" ]
}
export B; export -f in_ctr

fixture_oci_layout
umoci config --image "$T/oci:busybox" --config.exposedports 80/tcp >/dev/null
$B load -i "$T/oci" >/dev/null || { echo "FAIL: loading the busybox image"; exit 1; }
IMG=localhost/busybox:latest
SERVE='mkdir -p /srv && echo hello-from-web > /srv/index.html && exec /bin/busybox httpd -f -p 80 -h /srv'

before=$(iptables-save | grep -c "$BERTH_SUBNET\|10\.232\.$n\.")

check "run -d with -p 127.0.0.1::80 and -p <port>:80" \
  $B run -d --name web -p 127.0.0.1::80 -p "$(free_port):80" "$IMG" sh -c "$SERVE"
ip=$(inspect_ip web)
check "container got an IP in the subnet" bash -c "[[ '$ip' == 10.232.$n.* ]]"
for _ in $(seq 50); do fetch "http://$ip/" >/dev/null 2>&1 && break; sleep 0.2; done
check "host reaches the container on its IP" bash -c "[ \"\$(curl -fsS --max-time 5 http://$ip/)\" = hello-from-web ]"
lo_port=$($B port web 80/tcp | grep '^127.0.0.1:' | cut -d: -f2)
all_port=$($B port web 80/tcp | grep '^0.0.0.0:' | cut -d: -f2)
check "berth port lists both mappings" bash -c "[ -n '$lo_port' ] && [ -n '$all_port' ]"
check "-p 127.0.0.1::80 reachable on 127.0.0.1:$lo_port" bash -c "[ \"\$(curl -fsS --max-time 5 http://127.0.0.1:$lo_port/)\" = hello-from-web ]"
check "-p $all_port:80 reachable on the host address $hostip" bash -c "[ \"\$(curl -fsS --max-time 5 http://$hostip:$all_port/)\" = hello-from-web ]"
check "-p $all_port:80 reachable on 127.0.0.1" bash -c "[ \"\$(curl -fsS --max-time 5 http://127.0.0.1:$all_port/)\" = hello-from-web ]"
check "MASQUERADE rule for the subnet's container" bash -c "iptables-save -t nat | grep -F -- '-s $ip/32' | grep -q CNI-"
check "another container reaches web on its IP" \
  in_ctr "$IMG" /bin/busybox wget -qO- "http://$ip/"
check "another container reaches web through the host port (hairpin)" \
  in_ctr "$IMG" /bin/busybox wget -qO- "http://$hostip:$all_port/"

# NAT out: a server on the host's address, fetched from a container.
mkdir -p "$T/www" && echo hello-from-host > "$T/www/index.html"
hport=$(free_port)
busybox httpd -f -p "$hostip:$hport" -h "$T/www" & hpid=$!
e2e_on_exit "kill $hpid"
check "container reaches the host's address (NAT out)" \
  bash -c "[ \"\$(in_ctr '$IMG' /bin/busybox wget -qO- http://$hostip:$hport/)\" = hello-from-host ]"

check "-P publishes EXPOSEd 80/tcp" $B run -d --name web2 -P "$IMG" sh -c "$SERVE"
p2=$($B port web2 80/tcp | cut -d: -f2)
for _ in $(seq 50); do fetch "http://127.0.0.1:$p2/" >/dev/null 2>&1 && break; sleep 0.2; done
check "-P port answers on 127.0.0.1:$p2" bash -c "[ \"\$(curl -fsS --max-time 5 http://127.0.0.1:$p2/)\" = hello-from-web ]"

check "/etc/hosts has -h, --add-host and the IP" bash -c \
  "in_ctr -h myhost --add-host db:10.1.2.3 '$IMG' cat /etc/hosts > $T/hosts && grep -qP '^10\.1\.2\.3\tdb$' $T/hosts && grep -qP '^10\.232\.$n\.\d+\tmyhost$' $T/hosts && grep -qP '^127\.0\.0\.1\tlocalhost$' $T/hosts"
check "--dns and --dns-search write resolv.conf" bash -c \
  "in_ctr --dns 192.0.2.53 --dns-search example.com '$IMG' cat /etc/resolv.conf > $T/resolv && grep -qx 'nameserver 192.0.2.53' $T/resolv && grep -qx 'search example.com' $T/resolv"
check "bridge resolv.conf has no loopback nameserver" bash -c \
  "in_ctr '$IMG' cat /etc/resolv.conf > $T/r2 && ! grep -q '^nameserver 127\.' $T/r2"
check "--network none: only lo, and it is up" bash -c \
  "in_ctr --network none '$IMG' /bin/busybox ip -o link > $T/links; [ \$(wc -l < $T/links) = 1 ] && grep -q 'lo:.*UP' $T/links"
check "--network host: the host's interfaces" bash -c \
  "in_ctr --network host '$IMG' /bin/busybox ip -o -4 addr | grep -qF '$hostip/'"

cid=$($B inspect web | jq -r 'if type == "array" then .[0] else . end | .Id')
check "rm -f removes the containers" $B rm -f web web2
check "no iptables rule of web left" bash -c "! iptables-save | grep -qF -- '$cid'"
check "no rule for the subnet left" bash -c "[ \$(iptables-save | grep -c '$BERTH_SUBNET\|10\.232\.$n\.') -le $before ]"
check "no veth left on the bridge" bash -c "[ -z \"\$(ip -o link show master $BERTH_BRIDGE 2>/dev/null)\" ]"
check "no namespace left" bash -c "[ ! -e $T/run/netns/$cid ]"

echo "network_bridge: $pass passed, $fail failed"
[ "$fail" = 0 ]
