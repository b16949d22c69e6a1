#!/bin/sh
# make demo: shoal at work on loopback. One node shares a sample folder
# (create + seed, printing its magnet link), three other nodes download it at
# once from it and from each other, each showing its progress line, and then
# every copy is compared with the original. Also shows `shoal info`.
# Everything happens under a fresh temporary folder with SHOAL_LOCAL_ONLY=1.
set -eu
SHOAL=${1:-build/shoal}
case "$SHOAL" in /*) ;; *) SHOAL="$PWD/$SHOAL" ;; esac
export SHOAL_LOCAL_ONLY=1

work=$(mktemp -d /tmp/shoal-demo.XXXXXX)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
cd "$work"

mkdir -p share/sample/docs share/sample/media
printf 'Shoal demo: every node is a client and a server.\n' > share/sample/README.txt
printf 'notes\n' > share/sample/docs/notes.md
head -c 24000000 /dev/urandom > share/sample/media/clip.bin
head -c 9000000 /dev/urandom > share/sample/media/track.bin
: > share/sample/docs/empty.txt

echo "== node 1: shoal share sample  (seeding at most 8 MB/s so the others also trade)"
"$SHOAL" share share/sample -o sample.torrent --port 0 --max-up 8M > share.out 2> share.err &
pids="$pids $!"
i=0
while ! grep -q "listening on port" share.out 2>/dev/null; do
    i=$((i + 1))
    [ $i -gt 100 ] && { echo "node 1 did not start"; cat share.err; exit 1; }
    sleep 0.1
done
cat share.out
port=$(sed -n 's/listening on port //p' share.out)
echo

echo "== shoal info sample.torrent"
"$SHOAL" info sample.torrent
echo

# Three downloaders that know node 1 and each other.
p2=$((port + 101)) p3=$((port + 102)) p4=$((port + 103))
echo "== nodes 2, 3, 4: shoal get sample.torrent (progress every few seconds)"
for n in 2 3 4; do
    eval mine=\$p$n
    others=""
    for m in 2 3 4; do
        [ $m = $n ] && continue
        eval o=\$p$m
        others="$others --peer 127.0.0.1:$o"
    done
    # shellcheck disable=SC2086
    "$SHOAL" get sample.torrent -o "node$n" --port "$mine" --peer "127.0.0.1:$port" $others \
        > "node$n.out" 2> "node$n.err" &
    eval pid$n=$!
    pids="$pids $!"
done
status=0
for n in 2 3 4; do
    eval pid=\$pid$n
    wait "$pid" || status=1
    sed "s/^/  node $n | /" "node$n.err"
done
echo
echo "== comparing every downloaded copy with the original"
for n in 2 3 4; do
    if diff -r share/sample "node$n/sample" > /dev/null; then
        echo "  node $n: identical"
    else
        echo "  node $n: DIFFERENT"
        status=1
    fi
done
exit $status
