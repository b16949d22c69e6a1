#!/bin/bash
# Session commands from the command line: the local-only guard refuses
# outside addresses, --max-down holds a download to its rate, IPv6 loopback
# works, bad options give exit 2, and a seeder stops cleanly on SIGTERM.
set -u
SHOAL=${SHOAL_BIN:-build/shoal}
work=$(mktemp -d /tmp/shoal-session-cli.XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2> /dev/null; done
    wait 2> /dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
export SHOAL_LOCAL_ONLY=1
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok    $*"; }
bad() { fail=$((fail + 1)); echo "FAIL  $*"; }

mkdir seed
head -c 8388608 /dev/urandom > seed/data.bin
"$SHOAL" create seed/data.bin -o t.torrent --piece-size 256K > /dev/null 2>&1

# Local-only: an outside address or a DNS name is refused before any packet.
for target in 10.1.2.3:6881 192.168.1.1:6881 8.8.8.8:53 router.bittorrent.com:6881 \
    '[2001:db8::1]:6881'; do
    timeout 20 "$SHOAL" get t.torrent -o out --peer "$target" > /dev/null 2> err.txt
    rc=$?
    if [ $rc = 2 ] && grep -q "local-only" err.txt; then
        ok "local-only refuses --peer $target"
    else
        bad "local-only --peer $target: exit $rc: $(cat err.txt)"
    fi
done

# Bad options.
for args in "--port 70000" "--max-down fast" "--peer nocolon" "--only 9"; do
    # shellcheck disable=SC2086
    timeout 20 "$SHOAL" get t.torrent -o out $args > /dev/null 2> err.txt
    rc=$?
    [ $rc = 2 ] && ok "get $args -> exit 2 ($(head -c 80 err.txt))" || bad "get $args -> exit $rc"
done

start_seeder() {
    "$SHOAL" seed t.torrent -d seed --port 0 "$@" > seed.out 2> seed.err &
    seeder=$!
    pids="$pids $seeder"
    for _ in $(seq 100); do
        grep -q "listening on port" seed.out 2> /dev/null && break
        sleep 0.1
    done
    port=$(sed -n 's/listening on port //p' seed.out)
}

# --max-down: 8 MiB at 2 MiB/s cannot take less than about 3 s.
start_seeder
t0=$(date +%s.%N)
timeout 60 "$SHOAL" get t.torrent -o slow --peer 127.0.0.1:"$port" --max-down 2M > /dev/null 2>&1
rc=$?
t1=$(date +%s.%N)
secs=$(echo "$t1 - $t0" | bc)
if [ $rc = 0 ] && cmp -s seed/data.bin slow/data.bin && [ "$(echo "$secs >= 2.8" | bc)" = 1 ]; then
    ok "--max-down 2M: 8 MiB in ${secs}s, identical"
else
    bad "--max-down 2M: exit $rc in ${secs}s"
fi

# IPv6 loopback.
timeout 60 "$SHOAL" get t.torrent -o v6 --peer "[::1]:$port" > /dev/null 2> v6.err
rc=$?
if [ $rc = 0 ] && cmp -s seed/data.bin v6/data.bin; then
    ok "download over [::1]"
else
    bad "download over [::1]: exit $rc $(tail -2 v6.err)"
fi

# --only: one file of a three-file torrent; the others are not fetched.
mkdir -p multi/m
head -c 3000000 /dev/urandom > multi/m/a.bin
head -c 2000000 /dev/urandom > multi/m/b.bin
head -c 3000000 /dev/urandom > multi/m/c.bin
"$SHOAL" create multi/m -o m.torrent --piece-size 64K > /dev/null 2>&1
"$SHOAL" seed m.torrent -d multi --port 0 > mseed.out 2> mseed.err &
mseeder=$!
pids="$pids $mseeder"
for _ in $(seq 100); do
    grep -q "listening on port" mseed.out 2> /dev/null && break
    sleep 0.1
done
mport=$(sed -n 's/listening on port //p' mseed.out)
timeout 60 "$SHOAL" get m.torrent -o only --only 1 --peer 127.0.0.1:"$mport" > /dev/null \
    2> only.err
rc=$?
got=$(sed -n 's/.*totals: downloaded=\([0-9]*\).*/\1/p' only.err)
# b.bin plus at most the two pieces it shares with its neighbours.
if [ $rc = 0 ] && cmp -s multi/m/b.bin only/m/b.bin && [ "$got" -le $((2000000 + 2 * 65536)) ]; then
    ok "--only 1 fetched b.bin alone ($got bytes)"
else
    bad "--only 1: exit $rc, downloaded $got"
fi
kill "$mseeder"

# SIGTERM: the seeder says how to go on, exits 143 (128 + SIGTERM) and
# prints its totals last.
kill -TERM "$seeder"
wait "$seeder"
rc=$?
if [ $rc = 143 ] && grep -q "stopped; run the same command to resume" seed.err &&
    tail -1 seed.err | grep -q "totals: downloaded=0 uploaded="; then
    ok "seeder stops cleanly on SIGTERM"
else
    bad "seeder on SIGTERM: exit $rc"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
