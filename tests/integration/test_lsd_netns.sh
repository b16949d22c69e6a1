#!/bin/bash
# Local service discovery (BEP 14): two shoal nodes with no tracker, no DHT
# and no peer given find each other through multicast announces, and one
# downloads from the other byte-identically. Multicast must not leave the
# machine, so the nodes run in two network namespaces joined by a veth pair
# made here, with nothing else in them: no route to any real network. The
# nodes run without local-only mode (which turns LSD off). First, a
# listener in the second namespace checks that nothing is multicast by a
# node in local-only mode or for a private torrent, and that the seeder's
# announces, IPv4 and IPv6, are BEP 14's. Last, a peer in the second
# namespace (not on loopback) sends the seeder a ut_pex message naming
# loopback addresses and one ordinary address: only the ordinary one is
# taken. Prints SKIP and why where namespaces cannot be made. Everything is
# removed on the way out.
set -u
SHOAL=${SHOAL_BIN:-build/shoal}
PY=/usr/bin/python3
tag=shl$$
ns1=${tag}a
ns2=${tag}b
work=$(mktemp -d /tmp/shoal-lsd.XXXXXX)
pids=()
failed=0

skip() {
    echo "SKIP: $*"
    exit 0
}
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null
    done
    ip netns del "$ns1" 2>/dev/null
    ip netns del "$ns2" 2>/dev/null
    if [ "$failed" = 0 ]; then rm -rf "$work"; else echo "work folder kept: $work"; fi
}
check() {
    if [ "$1" = 0 ]; then echo "ok    $2"; else echo "FAIL  $2"; failed=1; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

[ "$(id -u)" = 0 ] || skip "creating network namespaces needs root (CAP_SYS_ADMIN)"
command -v ip >/dev/null || skip "iproute2 (ip) is not installed"
ip netns add "$ns1" 2>"$work/netns.err" || skip "ip netns add failed: $(cat "$work/netns.err")"
ip netns add "$ns2" 2>"$work/netns.err" || skip "ip netns add failed: $(cat "$work/netns.err")"
setup() {
    ip link add "${tag}x" netns "$ns1" type veth peer name "${tag}y" netns "$ns2" &&
        ip -n "$ns1" addr add 10.201.7.1/24 dev "${tag}x" &&
        ip -n "$ns2" addr add 10.201.7.2/24 dev "${tag}y" &&
        ip -n "$ns1" link set lo up && ip -n "$ns2" link set lo up &&
        ip -n "$ns1" link set "${tag}x" up && ip -n "$ns2" link set "${tag}y" up &&
        ip -n "$ns1" route add 224.0.0.0/4 dev "${tag}x" &&
        ip -n "$ns2" route add 224.0.0.0/4 dev "${tag}y"
}
setup 2>"$work/veth.err" || skip "cannot make the veth pair: $(cat "$work/veth.err")"
# The namespaces reach nothing but each other.
routes=$(ip -n "$ns1" route show; ip -n "$ns2" route show)
echo "$routes" | grep -q default && { echo "FAIL  a namespace has a default route"; failed=1; exit 1; }

# Shoal in a namespace, without local-only mode unless asked.
in_ns() {
    local ns=$1
    shift
    ip netns exec "$ns" env -u SHOAL_LOCAL_ONLY "$@"
}
# The same in the background, as one process ($! is shoal's own PID once
# ip and env have exec'd it, so that cleanup's kill reaches it).
in_ns_bg() {
    local ns=$1
    shift
    exec ip netns exec "$ns" env -u SHOAL_LOCAL_ONLY "$@"
}

mkdir -p "$work/a" "$work/b" "$work/p"
head -c 2500000 /dev/urandom >"$work/a/lsd.bin"
head -c 300000 /dev/urandom >"$work/p/private.bin"
"$SHOAL" create "$work/a/lsd.bin" -o "$work/lsd.torrent" >/dev/null &&
    "$SHOAL" create "$work/p/private.bin" -o "$work/private.torrent" --private >/dev/null ||
    {
        echo "FAIL  shoal create"
        failed=1
        exit 1
    }

# A listener on both groups in the second namespace: prints each announce.
listen() {
    in_ns "$ns2" "$PY" -c '
import select, socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("", 6771))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
             struct.pack("4s4s", socket.inet_aton("239.192.152.143"), socket.inet_aton("0.0.0.0")))
s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s6.bind(("", 6771))
s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
              socket.inet_pton(socket.AF_INET6, "ff15::efc0:988f") + struct.pack("@I", 0))
end = time.time() + float(sys.argv[1])
print("listening", flush=True)
while time.time() < end:
    r, _, _ = select.select([s, s6], [], [], max(0.05, end - time.time()))
    for sock in r:
        data, addr = sock.recvfrom(2048)
        print("from %s: %r" % (addr[0], data), flush=True)
' "$1"
}

# 1. Nothing is multicast in local-only mode, nor for a private torrent.
listen 6 >"$work/listen1.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q listening "$work/listen1.out" && break; sleep 0.1; done
ip netns exec "$ns1" env SHOAL_LOCAL_ONLY=1 "$SHOAL" seed "$work/lsd.torrent" -d "$work/a" \
    --port 0 --no-dht -v >"$work/local.out" 2>"$work/local.err" &
pids+=($!)
in_ns_bg "$ns1" "$SHOAL" seed "$work/private.torrent" -d "$work/p" --port 0 --no-dht -v \
    >"$work/private.out" 2>"$work/private.err" &
pids+=($!)
wait "${pids[0]}"
grep -q "^from " "$work/listen1.out"
check $((!$?)) "no announce from a local-only node or for a private torrent in 6 s"
kill "${pids[1]}" "${pids[2]}" 2>/dev/null
wait "${pids[1]}" "${pids[2]}" 2>/dev/null
pids=()

# 2. Discovery: a seeder in one namespace, a leecher given nothing in the other.
listen 8 >"$work/listen2.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do grep -q listening "$work/listen2.out" && break; sleep 0.1; done
in_ns_bg "$ns1" "$SHOAL" seed "$work/lsd.torrent" -d "$work/a" --port 0 --no-dht -v \
    >"$work/seed.out" 2>"$work/seed.err" &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on port" "$work/seed.out" && break; sleep 0.1; done
sleep 1
start=$(date +%s)
in_ns "$ns2" timeout 60 "$SHOAL" get "$work/lsd.torrent" -o "$work/b" --port 0 --no-dht \
    --no-pex -v >"$work/get.out" 2>"$work/get.err"
rc=$?
took=$(($(date +%s) - start))
check "$rc" "the leecher finishes (exit $rc, $took s)"
cmp -s "$work/a/lsd.bin" "$work/b/lsd.bin"
check $? "its copy is byte-identical"
grep -q "lsd: peer 10.201.7.[12]:[0-9]* on the local network" "$work/seed.err" "$work/get.err"
check $? "a node logs the peer it found on the local network"
ih=$("$SHOAL" info "$work/lsd.torrent" --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["infohash"])' 2>/dev/null)
wait "${pids[0]}"
grep -qi "from 10.201.7.1: b'BT-SEARCH \* HTTP/1.1\\\\r\\\\nHost: 239.192.152.143:6771\\\\r\\\\nPort: [0-9]*\\\\r\\\\nInfohash: $ih\\\\r\\\\ncookie: [0-9a-f]*\\\\r\\\\n\\\\r\\\\n\\\\r\\\\n'" "$work/listen2.out"
check $? "the seeder's announce is BEP 14's, with its infohash ($ih) and a cookie"
grep -qi "from fe80::[0-9a-f:]*%\?[a-z0-9]*: b'BT-SEARCH \* HTTP/1.1\\\\r\\\\nHost: \[ff15::efc0:988f\]:6771\\\\r\\\\nPort: [0-9]*\\\\r\\\\nInfohash: $ih" "$work/listen2.out"
check $? "and it announces on the IPv6 group too, from its link-local address"

# 3. A ut_pex message from a peer that is not on loopback naming loopback.
sport=$(sed -n 's/^listening on port //p' "$work/seed.out" | head -n 1)
in_ns "$ns2" "$PY" "$(dirname "$0")/pex_remote.py" 10.201.7.1 "$sport" "$work/lsd.torrent" \
    >"$work/remote.out" 2>&1
grep -q sent "$work/remote.out"
check $? "a peer at 10.201.7.2 sends the seeder a ut_pex message"
for _ in $(seq 50); do grep -q "pex: .* from 10.201.7.2:" "$work/seed.err" && break; sleep 0.1; done
grep -q "pex: 1 peers from 10.201.7.2:[0-9]* (3 refused)" "$work/seed.err"
check $? "of 127.0.0.1, 127.9.9.9, ::1 and 10.201.7.99 only the last is taken from it"
if [ "$failed" != 0 ]; then
    for f in listen1.out listen2.out seed.err get.err local.err private.err remote.out; do
        echo "--- $f"
        tail -n 20 "$work/$f"
    done
fi
exit "$failed"
