#!/bin/sh
# make demo: shoal at work on loopback. A `shoal tracker` runs as the
# central index; one node shares a sample folder (create + seed, printing its
# magnet link) with the tracker's announce URL in the torrent; three other
# nodes know nothing but the torrent, find the sharer and each other through
# the tracker, and download at once from all of them, each showing its
# progress line. Then every copy is compared with the original, and the
# tracker's counters are shown. Also shows `shoal info`.
# Everything happens under a fresh temporary folder with SHOAL_LOCAL_ONLY=1,
# the resume state included.
set -eu
SHOAL=${1:-build/shoal}
case "$SHOAL" in /*) ;; *) SHOAL="$PWD/$SHOAL" ;; esac
export SHOAL_LOCAL_ONLY=1

work=$(mktemp -d /tmp/shoal-demo.XXXXXX)
# The nodes' resume state stays in the demo's folder (and goes with it), and
# the user's config file does not change what the demo shows.
export XDG_STATE_HOME="$work/state" XDG_CONFIG_HOME="$work/config"
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

# wait_line FILE PATTERN WHAT: waits up to 10 s for a line in FILE.
wait_line() {
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 100 ] && { echo "$3 did not start"; cat "${1%.out}.err"; exit 1; }
        sleep 0.1
    done
}

echo "== shoal tracker --http 127.0.0.1:0  (the index every node announces to)"
"$SHOAL" tracker --http 127.0.0.1:0 > tracker.out 2> tracker.err &
pids="$pids $!"
wait_line tracker.out "http on port" "the tracker"
hport=$(sed -n 's/^http on port //p' tracker.out)
announce="http://127.0.0.1:$hport/announce"
echo "  announce URL: $announce"
echo

echo "== node 1: shoal share sample -t $announce"
echo "   (seeding at most 8 MB/s so the others also trade)"
"$SHOAL" share share/sample -t "$announce" -o sample.torrent --port 0 --max-up 8M \
    > share.out 2> share.err &
pids="$pids $!"
wait_line share.out "magnet:" "node 1"
cat share.out
echo

echo "== shoal info sample.torrent"
"$SHOAL" info sample.torrent
echo

echo "== nodes 2, 3, 4: shoal get sample.torrent (only the torrent: peers come from the tracker)"
for n in 2 3 4; do
    "$SHOAL" get sample.torrent -o "node$n" --port 0 > "node$n.out" 2> "node$n.err" &
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
echo
echo "== the tracker's counters (GET /stats)"
if command -v curl > /dev/null; then
    curl -s "http://127.0.0.1:$hport/stats"
    echo
fi
exit $status
