#!/usr/bin/env bash
# bench/create.sh [SIZE_MIB] — times `shoal create` against mktorrent and
# transmission-create on one file of SIZE_MIB MiB (default 2048) held in page
# cache, all at the same piece size, and checks that shoal's piece hashes
# equal mktorrent's. Each tool runs RUNS times (default 3); the table shows the
# best and the median time, and shoal's speed relative to the fastest other
# tool. Exits non-zero when a tool fails or the hashes differ.
#
#   SHOAL_BIN   shoal binary (default: build/shoal beside this script)
#   RUNS        runs per tool (default 3)
set -euo pipefail
export SHOAL_LOCAL_ONLY=1
export LC_ALL=C

SIZE_MIB=${1:-2048}
RUNS=${RUNS:-3}
DIR=/tmp/shoal-bench-create
DATA=$DIR/data.bin
OUT=$DIR/out
SHOAL=${SHOAL_BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/shoal}

case $SIZE_MIB in '' | *[!0-9]* | 0) echo "usage: $0 [SIZE_MIB]" >&2; exit 2 ;; esac
case $RUNS in '' | *[!0-9]* | 0) echo "create.sh: RUNS must be a positive number" >&2; exit 2 ;; esac
[ -x "$SHOAL" ] || { echo "create.sh: no shoal binary at $SHOAL (run make)" >&2; exit 2; }

bytes=$((SIZE_MIB * 1024 * 1024))
mkdir -p "$DIR" "$OUT"

# Random data, made once and kept for later runs of the same size.
if [ ! -f "$DATA" ] || [ "$(stat -c %s "$DATA")" != "$bytes" ]; then
    echo "making $DATA ($SIZE_MIB MiB of random data)"
    head -c "$bytes" /dev/urandom > "$DATA.tmp"
    mv "$DATA.tmp" "$DATA"
fi
# Read it once so that every tool hashes from page cache, not disk.
cat "$DATA" > /dev/null

# The piece size shoal would pick itself (about 1000-2000 pieces), but at
# least 2^15: mktorrent accepts nothing smaller.
log2=15
while [ $(((bytes + (1 << log2) - 1) >> log2)) -gt 2000 ] && [ $log2 -lt 24 ]; do
    log2=$((log2 + 1))
done
piece_kib=$(((1 << log2) / 1024))
threads=$(nproc)

now() {
    echo "$EPOCHREALTIME"
}

# time_tool NAME OUTFILE CMD... — runs CMD RUNS times, removing OUTFILE first;
# sets BEST and MEDIAN (seconds).
time_tool() {
    local name=$1 outfile=$2
    shift 2
    local times=() t0 t1
    for _ in $(seq "$RUNS"); do
        rm -f "$outfile"
        t0=$(now)
        if ! "$@" > "$OUT/$name.log" 2>&1; then
            echo "create.sh: $name failed:" >&2
            cat "$OUT/$name.log" >&2
            exit 1
        fi
        t1=$(now)
        times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
    done
    local sorted
    sorted=$(printf '%s\n' "${times[@]}" | sort -n)
    BEST=$(echo "$sorted" | head -n 1)
    MEDIAN=$(echo "$sorted" | sed -n "$(((RUNS + 1) / 2))p")
}

# pieces_sum FILE — SHA-1 of the `pieces` string of a .torrent.
pieces_sum() {
    local match off len start
    match=$(grep -obaE '6:pieces[0-9]+:' "$1" | head -n 1)
    [ -n "$match" ] || { echo "none"; return; }
    off=${match%%:*}
    match=${match#*:}
    len=${match#6:pieces}
    len=${len%:}
    start=$((off + ${#match} + 1))
    tail -c +"$start" "$1" | head -c "$len" | sha1sum | cut -d' ' -f1
}

infohash() {
    "$SHOAL" info "$1" | awk '$1 == "infohash:" { print $2 }'
}

declare -A best median
tools=()

time_tool shoal "$OUT/shoal.torrent" \
    "$SHOAL" create "$DATA" -o "$OUT/shoal.torrent" --no-date --force \
    --piece-size "${piece_kib}K"
best[shoal]=$BEST median[shoal]=$MEDIAN
tools+=(shoal)

if command -v mktorrent > /dev/null; then
    time_tool mktorrent "$OUT/mktorrent.torrent" \
        mktorrent -t "$threads" -l "$log2" -d -o "$OUT/mktorrent.torrent" "$DATA"
    best[mktorrent]=$BEST median[mktorrent]=$MEDIAN
    tools+=(mktorrent)
else
    echo "mktorrent is not installed: skipped"
fi

if command -v transmission-create > /dev/null; then
    time_tool transmission-create "$OUT/transmission.torrent" \
        transmission-create -o "$OUT/transmission.torrent" -s "$piece_kib" "$DATA"
    best[transmission-create]=$BEST median[transmission-create]=$MEDIAN
    tools+=(transmission-create)
else
    echo "transmission-create is not installed: skipped"
fi

echo
echo "create: $SIZE_MIB MiB in page cache, pieces of $piece_kib KiB, $threads cores," \
    "best and median of $RUNS"
printf '%-22s %9s %9s %11s\n' tool "best s" "median s" "MB/s"
fastest_other=""
for t in "${tools[@]}"; do
    mbs=$(awk -v b="$bytes" -v s="${best[$t]}" 'BEGIN { printf "%.0f", b / s / 1e6 }')
    label=$t
    [ "$t" = mktorrent ] && label="mktorrent -t $threads"
    printf '%-22s %9s %9s %11s\n' "$label" "${best[$t]}" "${median[$t]}" "$mbs"
    if [ "$t" != shoal ]; then
        if [ -z "$fastest_other" ] ||
            awk -v a="${best[$t]}" -v b="${best[$fastest_other]}" 'BEGIN { exit !(a < b) }'; then
            fastest_other=$t
        fi
    fi
done
if [ -n "$fastest_other" ]; then
    awk -v o="${best[$fastest_other]}" -v s="${best[shoal]}" -v n="$fastest_other" \
        'BEGIN { printf "shoal is %.2fx the speed of %s (best times)\n", o / s, n }'
fi

status=0
if [ -f "$OUT/mktorrent.torrent" ]; then
    a=$(pieces_sum "$OUT/shoal.torrent")
    b=$(pieces_sum "$OUT/mktorrent.torrent")
    if [ "$a" = "$b" ] && [ "$a" != none ]; then
        echo "pieces: shoal and mktorrent are identical"
    else
        echo "pieces: shoal and mktorrent DIFFER"
        status=1
    fi
    a=$(infohash "$OUT/shoal.torrent")
    b=$(infohash "$OUT/mktorrent.torrent")
    if [ -n "$a" ] && [ "$a" = "$b" ]; then
        echo "infohash: identical ($a)"
    else
        echo "infohash: shoal $a, mktorrent $b"
        status=1
    fi
fi
if [ -f "$OUT/transmission.torrent" ]; then
    if [ "$(pieces_sum "$OUT/shoal.torrent")" = "$(pieces_sum "$OUT/transmission.torrent")" ]; then
        echo "pieces: shoal and transmission-create are identical"
    else
        echo "pieces: shoal and transmission-create DIFFER"
        status=1
    fi
fi
exit $status
