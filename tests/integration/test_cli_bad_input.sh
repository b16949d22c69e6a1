#!/bin/bash
# Bad input to the CLI: every hand-made bad torrent and a set of bad magnet
# links must give exit code 2 and one stderr line naming the problem, print
# nothing on stdout and write no file; usage errors give 2, I/O errors 1.
set -u
SHOAL=${SHOAL_BIN:-build/shoal}
SRC=${SHOAL_SRC:-.}
work=$(mktemp -d /tmp/shoal-cli-bad.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
pass=0 fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect_fail CODE TEXT CMD...: exit CODE, stderr one line (MAXLINES) holding
# PREFIX and TEXT, empty stdout, and the working folder still empty.
PREFIX="" MAXLINES=1
expect_fail() {
    local code=$1 text=$2
    shift 2
    "$@" > out.txt 2> err.txt
    local rc=$?
    local lines
    lines=$(wc -l < err.txt)
    if [ "$rc" != "$code" ]; then
        bad "$* -> exit $rc, want $code ($(cat err.txt))"
    elif ! grep -qF -- "$text" err.txt || ! grep -qF -- "$PREFIX" err.txt; then
        bad "$* -> stderr '$(cat err.txt)' lacks '$PREFIX' or '$text'"
    elif [ "$lines" -lt 1 ] || [ "$lines" -gt "$MAXLINES" ]; then
        bad "$* -> $lines stderr lines, want 1 to $MAXLINES"
    elif [ -s out.txt ]; then
        bad "$* -> wrote to stdout"
    elif [ -n "$(ls -A | grep -v -e '^out.txt$' -e '^err.txt$')" ]; then
        bad "$* -> left files behind: $(ls -A)"
    else
        ok
    fi
    rm -f out.txt err.txt
}

PREFIX="bad torrent: "
for t in "$SRC"/tests/data/torrents/bad/*.torrent; do
    want=$(head -n 1 "${t%.torrent}.expect")
    expect_fail 2 "$want" "$SHOAL" info "$t"
    expect_fail 2 "$want" "$SHOAL" info --json "$t"
done

PREFIX="bad magnet: "
while IFS='|' read -r magnet text; do
    [ -z "$magnet" ] && continue
    expect_fail 2 "$text" "$SHOAL" info "$magnet"
done <<'MAGNETS'
magnet:?dn=no-hash|
magnet:?xt=urn:btih:123|
magnet:?xt=urn:btih:zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz|
magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=%zz|
magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&x.pe=127.0.0.1:0|
magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&so=5-2|
magnet:?xt=urn:btmh:1220caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e|v2-only
MAGNETS

# Usage errors: getopt may add a line of its own.
PREFIX="" MAXLINES=2
expect_fail 2 "usage: shoal info" "$SHOAL" info
expect_fail 2 "usage: shoal info" "$SHOAL" info a b
expect_fail 2 "shoal info: unknown option '--bogus'" "$SHOAL" info --bogus x.torrent
expect_fail 2 "unknown command" "$SHOAL" frobnicate

# A path that names nothing is bad input; a file that cannot be read is a
# runtime failure.
MAXLINES=1
expect_fail 2 "cannot open the torrent file" "$SHOAL" info "$work/missing.torrent"
expect_fail 2 "torrent path is a directory" "$SHOAL" info /
if [ "$(id -u)" != 0 ]; then
    : > "$work/../shoal-cli-unreadable.$$"
    chmod 000 "$work/../shoal-cli-unreadable.$$"
    expect_fail 1 "Permission denied" "$SHOAL" info "$work/../shoal-cli-unreadable.$$"
    rm -f "$work/../shoal-cli-unreadable.$$"
fi

# Oversized torrent: refused from its size, before reading.
truncate -s 11M "$work/../shoal-cli-big.$$.torrent"
expect_fail 2 "limit 10485760" "$SHOAL" info "$work/../shoal-cli-big.$$.torrent"
rm -f "$work/../shoal-cli-big.$$.torrent"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
