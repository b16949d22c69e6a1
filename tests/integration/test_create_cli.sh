#!/bin/bash
# shoal create from the command line: deterministic output, options that
# reach the torrent, symlink handling, and the errors a user can make (exit
# code 2 or 1, one line, no output file left behind).
set -u
SHOAL=${SHOAL_BIN:-build/shoal}
work=$(mktemp -d /tmp/shoal-create-cli.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
json() { "$SHOAL" info --json "$1" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"; }

mkdir -p tree/sub/deeper emptydir/inner
head -c 1000000 /dev/urandom > tree/big.bin
printf 'x' > tree/sub/one.txt
: > tree/sub/deeper/empty
ln -s big.bin tree/link-to-big
printf 'abc' > single.txt

# Deterministic: same input, --no-date, byte-identical torrents.
"$SHOAL" create tree -o a.torrent --no-date > /dev/null 2>&1
"$SHOAL" create tree -o b.torrent --no-date -j 1 > /dev/null 2>&1
check "cmp -s a.torrent b.torrent" "two runs with --no-date differ"

# File order is sorted; the empty file is kept; the symlink is skipped.
files=$(json a.torrent "','.join(f['path'] for f in d['files'])")
check '[ "$files" = "tree/big.bin,tree/sub/deeper/empty,tree/sub/one.txt" ]' \
    "file list: $files"
check '[ "$(json a.torrent "d[\"creation_date\"]")" = None ]' "--no-date wrote a date"

# --follow-symlinks includes the link target's data under the link's name.
"$SHOAL" create tree -o f.torrent --follow-symlinks > /dev/null 2>&1
n=$(json f.torrent "len(d['files'])")
check '[ "$n" = 4 ]' "--follow-symlinks gave $n files"

# Options reach the torrent.
"$SHOAL" create single.txt -o o.torrent -t http://127.0.0.1:1/a,http://127.0.0.1:2/a \
    -t udp://127.0.0.1:3 -w http://127.0.0.1:4/ws/ --private --source SRC \
    --comment "hi there" --piece-size 32K > /dev/null 2>&1
got=$(json o.torrent "[(t['url'], t['tier']) for t in d['trackers']], d['webseeds'], d['private'], d['source'], d['comment'], d['piece_length'], d['name']")
want="[('http://127.0.0.1:1/a', 0), ('http://127.0.0.1:2/a', 0), ('udp://127.0.0.1:3', 1)] ['http://127.0.0.1:4/ws/'] True SRC hi there 32768 single.txt"
check '[ "$got" = "$want" ]' "options: $got"

# Default output name is NAME.torrent in the current folder.
"$SHOAL" create single.txt > /dev/null 2>&1
check '[ -s single.txt.torrent ]' "default output name"

# expect_fail CODE TEXT CMD...: exit code, one stderr line with TEXT, no
# output file written.
expect_fail() {
    local code=$1 text=$2
    shift 2
    rm -f out.torrent
    "$@" > /dev/null 2> err.txt
    local rc=$?
    if [ "$rc" != "$code" ]; then
        bad "$* -> exit $rc, want $code: $(cat err.txt)"
    elif ! grep -qF -- "$text" err.txt; then
        bad "$* -> '$(cat err.txt)' lacks '$text'"
    elif [ -e out.torrent ] || ls out.torrent.* > /dev/null 2>&1; then
        bad "$* -> left an output file"
    else
        ok
    fi
}
expect_fail 2 "nothing to share" "$SHOAL" create emptydir -o out.torrent
: > zero.bin
expect_fail 2 "nothing to share" "$SHOAL" create zero.bin -o out.torrent
expect_fail 2 "power of two" "$SHOAL" create single.txt -o out.torrent --piece-size 1000
expect_fail 2 "power of two" "$SHOAL" create single.txt -o out.torrent --piece-size 128M
expect_fail 2 "tracker URL" "$SHOAL" create single.txt -o out.torrent -t "not a url"
expect_fail 2 "usage" "$SHOAL" create
expect_fail 2 "No such file" "$SHOAL" create does-not-exist -o out.torrent
# An existing output is kept unless --force.
printf 'keep' > out.torrent
"$SHOAL" create single.txt -o out.torrent > /dev/null 2> err.txt
rc=$?
check '[ $rc != 0 ] && [ "$(cat out.torrent)" = keep ] && grep -q -- --force err.txt' \
    "existing output overwritten or wrong error (exit $rc)"
"$SHOAL" create single.txt -o out.torrent --force > /dev/null 2>&1
check '[ "$(json out.torrent "d[\"name\"]")" = single.txt ]' "--force did not replace"

# A symlink planted at the temporary name is never written through: the
# file it points to keeps its bytes and the torrent lands under its name.
printf 'victim' > victim.txt
ln -s victim.txt planted.torrent.tmp
"$SHOAL" create single.txt -o planted.torrent > /dev/null 2>&1
check '[ "$(cat victim.txt)" = victim ] && [ ! -e planted.torrent.tmp ] &&
    [ "$(json planted.torrent "d[\"name\"]")" = single.txt ]' \
    "create wrote through a symlink at its temporary name"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
