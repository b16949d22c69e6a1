#!/bin/sh
# make demo: builds a sample folder, makes a torrent of it with shoal, shows
# it with `shoal info`, and cross-checks the infohash with transmission-show
# when that is installed. Everything happens under a fresh temporary folder.
set -eu
SHOAL=${1:-build/shoal}
case "$SHOAL" in /*) ;; *) SHOAL="$PWD/$SHOAL" ;; esac
export SHOAL_LOCAL_ONLY=1

work=$(mktemp -d /tmp/shoal-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

mkdir -p sample/docs sample/media
printf 'Shoal demo: every node is a client and a server.\n' > sample/README.txt
printf 'notes\n' > sample/docs/notes.md
head -c 3000000 /dev/urandom > sample/media/clip.bin
: > sample/docs/empty.txt

echo "== shoal create sample -t http://127.0.0.1:6969/announce"
"$SHOAL" create sample -o sample.torrent -t http://127.0.0.1:6969/announce \
    --comment "made by make demo"
echo
echo "== shoal info sample.torrent"
"$SHOAL" info sample.torrent
echo
echo "== shoal info --json sample.torrent (first lines)"
"$SHOAL" info --json sample.torrent | head -n 12
if command -v transmission-show >/dev/null 2>&1; then
    ours=$("$SHOAL" info --json sample.torrent | sed -n 's/.*"infohash": "\([0-9a-f]*\)".*/\1/p')
    theirs=$(transmission-show sample.torrent | sed -n 's/.*Hash: *\([0-9a-f]*\).*/\1/p' | head -n 1)
    echo
    echo "== infohash check: shoal $ours, transmission-show $theirs"
    [ "$ours" = "$theirs" ] && echo "match"
fi
echo
magnet=$("$SHOAL" info --json sample.torrent | sed -n 's/.*"magnet": "\(.*\)".*/\1/p')
echo "== shoal info '$magnet'"
"$SHOAL" info "$magnet"
