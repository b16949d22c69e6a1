#!/usr/bin/env bash
# bench/transfer.sh [SIZE_MIB] — one seeder sends one file of SIZE_MIB MiB
# (default 1024) to one fresh leecher over loopback TCP, for two pairs in the
# same run: shoal -> shoal, and libtorrent -> libtorrent (bench/lt_transfer.py,
# two python3-libtorrent processes). Both pairs run plaintext TCP with no uTP,
# no DHT/LSD/UPnP and no trackers. The seeder's file is in page cache; the
# leecher's folder is emptied before every run.
#
# Each pair runs RUNS times (default 3), the pairs taking turns. A run measures:
#   - MB/s from the leecher's session start to its last verified piece, as
#     the leecher itself reports it (shoal's "finished: ... in S s" line,
#     lt_transfer.py's "verified S"); the wall time to process exit is shown
#     beside it;
#   - CPU seconds (user+sys) of the leecher (whole process) and of the seeder
#     (only while the leecher runs, from /proc/PID/stat);
#   - peak RSS of both: the leecher's from wait4 (GNU time %M), the seeder's
#     VmHWM from /proc/PID/status just before it is stopped.
# The leecher's file must be byte-identical to the seeder's after every run.
# The table shows best and median MB/s, median CPU, the highest peak RSS, and
# shoal's speed relative to libtorrent's (best runs). Exits non-zero when a
# peer fails, times out, or the data differs.
#
#   SHOAL_BIN   shoal binary (default: build/shoal beside this script)
#   RUNS        runs per pair (default 3)
#   TIMEOUT     seconds allowed per transfer and per seeder start (default 600)
set -euo pipefail
export SHOAL_LOCAL_ONLY=1
export LC_ALL=C

SIZE_MIB=${1:-1024}
RUNS=${RUNS:-3}
TIMEOUT=${TIMEOUT:-600}
HERE=$(cd "$(dirname "$0")" && pwd)
SHOAL=${SHOAL_BIN:-$HERE/../build/shoal}
PYTHON=/usr/bin/python3
LT_PEER=$HERE/lt_transfer.py
GNU_TIME=/usr/bin/time
DIR=/tmp/shoal-bench-transfer
SEED_DIR=$DIR/seed
LEECH_DIR=$DIR/leech
LOG=$DIR/log
DATA=$SEED_DIR/data.bin
TORRENT=$DIR/data.torrent
# shoal's resume state stays with the bench, never in the user's state
# folder: the seeder's is kept between runs, the leecher's starts afresh.
SEED_STATE=$DIR/seed-state
LEECH_STATE=$DIR/leech-state

case $SIZE_MIB in '' | *[!0-9]* | 0) echo "usage: $0 [SIZE_MIB]" >&2; exit 2 ;; esac
case $RUNS in '' | *[!0-9]* | 0) echo "transfer.sh: RUNS must be a positive number" >&2; exit 2 ;; esac
case $TIMEOUT in '' | *[!0-9]* | 0) echo "transfer.sh: TIMEOUT must be a positive number" >&2; exit 2 ;; esac
[ -x "$SHOAL" ] || { echo "transfer.sh: no shoal binary at $SHOAL (run make)" >&2; exit 2; }
"$PYTHON" -c 'import libtorrent' 2> /dev/null ||
    { echo "transfer.sh: $PYTHON cannot import libtorrent (python3-libtorrent)" >&2; exit 2; }
[ -x "$GNU_TIME" ] || { echo "transfer.sh: GNU time is needed at $GNU_TIME" >&2; exit 2; }

bytes=$((SIZE_MIB * 1024 * 1024))
tick=$(getconf CLK_TCK)
mkdir -p "$SEED_DIR" "$LOG"

# Random data, made once and kept for later runs of the same size.
if [ ! -f "$DATA" ] || [ "$(stat -c %s "$DATA")" != "$bytes" ]; then
    echo "making $DATA ($SIZE_MIB MiB of random data)"
    rm -rf "$SEED_STATE"
    head -c "$bytes" /dev/urandom > "$DATA.tmp"
    mv "$DATA.tmp" "$DATA"
fi

# The piece size shoal would pick itself: about 1000-2000 pieces.
log2=15
while [ $(((bytes + (1 << log2) - 1) >> log2)) -gt 2000 ] && [ $log2 -lt 24 ]; do
    log2=$((log2 + 1))
done
piece_kib=$(((1 << log2) / 1024))
pieces=$(((bytes + (1 << log2) - 1) >> log2))
if ! "$SHOAL" create "$DATA" -o "$TORRENT" --no-date --force \
    --piece-size "${piece_kib}K" > "$LOG/create.log" 2>&1; then
    echo "transfer.sh: shoal create failed:" >&2
    cat "$LOG/create.log" >&2
    exit 1
fi
# Read the data once so that both seeders serve it from page cache.
cat "$DATA" > /dev/null

SEEDER_PID=""

stop_seeder() {
    [ -n "$SEEDER_PID" ] || return 0
    local pid=$SEEDER_PID
    SEEDER_PID=""
    kill -TERM "$pid" 2> /dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
}
trap stop_seeder EXIT
trap 'exit 130' INT TERM

fail() {
    echo "transfer.sh: $*" >&2
    exit 1
}

# show_log FILE... — the tail of each log, for a failure message.
show_log() {
    local f
    for f in "$@"; do
        [ -s "$f" ] || continue
        echo "--- $f" >&2
        tail -n 20 "$f" >&2
    done
}

# proc_ticks PID — user+sys CPU of a running process, in clock ticks.
proc_ticks() {
    local stat
    stat=$(< "/proc/$1/stat") || return 1
    # Fields after the command name, which is in parentheses: field N is $((N-2)).
    stat=${stat##*) }
    # shellcheck disable=SC2086
    set -- $stat
    echo $((${12} + ${13}))
}

# proc_hwm PID — peak resident set of a running process, in KiB.
proc_hwm() {
    awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status"
}

# start_seeder PAIR RUN — starts the pair's seeder on $DATA and waits until it
# accepts peers; sets SEEDER_PID and SEEDER_PORT.
start_seeder() {
    local pair=$1 run=$2 out err deadline
    out=$LOG/$pair-$run-seed.out
    err=$LOG/$pair-$run-seed.err
    if [ "$pair" = shoal ]; then
        XDG_STATE_HOME=$SEED_STATE "$SHOAL" seed "$TORRENT" -d "$SEED_DIR" --port 0 \
            > "$out" 2> "$err" &
    else
        "$PYTHON" "$LT_PEER" seed "$TORRENT" "$SEED_DIR" --timeout $((2 * TIMEOUT + 60)) \
            > "$out" 2> "$err" &
    fi
    SEEDER_PID=$!
    SEEDER_PORT=""
    deadline=$((SECONDS + TIMEOUT))
    while [ $SECONDS -lt $deadline ]; do
        kill -0 "$SEEDER_PID" 2> /dev/null || break
        if [ "$pair" = shoal ]; then
            # Ready once listening and in the seeding state (the data is checked first).
            SEEDER_PORT=$(awk '/^listening on port / { print $4 }' "$out" 2> /dev/null || true)
            [ -n "$SEEDER_PORT" ] && grep -qs 'seeding' "$err" && return 0
        else
            SEEDER_PORT=$(awk '$1 == "port" { print $2 }' "$out" 2> /dev/null || true)
            [ -n "$SEEDER_PORT" ] && return 0
        fi
        sleep 0.05
    done
    show_log "$out" "$err"
    fail "$pair seeder did not start"
}

declare -A mbs seed_cpu leech_cpu seed_rss leech_rss inner

# run_pair PAIR RUN — one transfer: seeder, fresh leecher, checks, numbers.
run_pair() {
    local pair=$1 run=$2 out err tfile rc=0 t0 t1 c0 c1 hwm wall user sys rss
    out=$LOG/$pair-$run-leech.out
    err=$LOG/$pair-$run-leech.err
    tfile=$LOG/$pair-$run-leech.time
    rm -rf "$LEECH_DIR" "$LEECH_STATE"
    mkdir -p "$LEECH_DIR"
    start_seeder "$pair" "$run"
    local cmd
    if [ "$pair" = shoal ]; then
        cmd=(env XDG_STATE_HOME="$LEECH_STATE" "$SHOAL" get "$TORRENT" -o "$LEECH_DIR"
            --peer "127.0.0.1:$SEEDER_PORT"
            --exit-when-done)
    else
        cmd=("$PYTHON" "$LT_PEER" leech "$TORRENT" "$LEECH_DIR"
            --peer "127.0.0.1:$SEEDER_PORT" --timeout "$TIMEOUT")
    fi
    c0=$(proc_ticks "$SEEDER_PID") || fail "$pair seeder exited early"
    t0=$EPOCHREALTIME
    "$GNU_TIME" -f '%U %S %M' -o "$tfile" timeout -k 5 "$TIMEOUT" "${cmd[@]}" \
        > "$out" 2> "$err" || rc=$?
    t1=$EPOCHREALTIME
    c1=$(proc_ticks "$SEEDER_PID") || { show_log "$LOG/$pair-$run-seed.err"; fail "$pair seeder died"; }
    hwm=$(proc_hwm "$SEEDER_PID")
    stop_seeder
    if [ $rc -ne 0 ]; then
        show_log "$out" "$err" "$LOG/$pair-$run-seed.err"
        [ $rc -eq 124 ] && fail "$pair leecher timed out after $TIMEOUT s (run $run)"
        fail "$pair leecher failed with status $rc (run $run)"
    fi
    cmp -s "$DATA" "$LEECH_DIR/data.bin" || fail "$pair: the leecher's file differs (run $run)"

    # GNU time puts a status line first when the command fails; the numbers are last.
    read -r user sys rss < <(tail -n 1 "$tfile")
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    leech_cpu[$pair]+="$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }') "
    seed_cpu[$pair]+="$(awk -v a="$c0" -v b="$c1" -v t="$tick" 'BEGIN { printf "%.2f", (b - a) / t }') "
    leech_rss[$pair]+="$rss "
    seed_rss[$pair]+="$hwm "
    # The leecher's own time from its session start to its last verified
    # piece: what the MB/s figures are computed from.
    local secs
    if [ "$pair" = shoal ]; then
        secs=$(sed -n 's/.*finished: .* in \([0-9.]*\) s.*/\1/p' "$err" | tail -n 1)
    else
        secs=$(awk '$1 == "verified" { print $2 }' "$out")
    fi
    [ -n "$secs" ] || fail "$pair leecher did not report its finishing time (run $run)"
    inner[$pair]+="$secs "
    mbs[$pair]+="$(awk -v n="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", n / s / 1e6 }') "
    printf '  run %d %-10s %6.3f s to the last piece (%6.2f s wall)  %8s MB/s  cpu seeder %5s s leecher %5s s\n' \
        "$run" "$pair" "$secs" \
        "$wall" "$(awk -v n="$bytes" -v s="$secs" 'BEGIN { printf "%.1f", n / s / 1e6 }')" \
        "$(echo "${seed_cpu[$pair]}" | awk '{ print $NF }')" \
        "$(echo "${leech_cpu[$pair]}" | awk '{ print $NF }')"
}

# best LIST / median LIST / highest LIST — of numbers separated by spaces.
best() { tr ' ' '\n' <<< "$1" | sed '/^$/d' | sort -g | tail -n 1; }
median() {
    local sorted n
    sorted=$(tr ' ' '\n' <<< "$1" | sed '/^$/d' | sort -g)
    n=$(wc -l <<< "$sorted")
    sed -n "$(((n + 1) / 2))p" <<< "$sorted"
}
lowest() { tr ' ' '\n' <<< "$1" | sed '/^$/d' | sort -g | head -n 1; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k * 1024 / 1e6 }'; }

pairs=(shoal libtorrent)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "transfer: $SIZE_MIB MiB, $pieces pieces of $piece_kib KiB, loopback TCP, $(nproc) cores," \
    "$RUNS runs per pair"
for run in $(seq "$RUNS"); do
    for pair in "${pairs[@]}"; do
        run_pair "$pair" "$run"
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "MB/s from the leecher's session start to its last verified piece; seeder CPU only"
echo "while the leecher ran;"
echo "CPU is the median run, RSS the highest peak (MB = 10^6 bytes)"
printf '%-24s %8s %8s %18s %18s\n' pair "best" "median" "CPU s seed/leech" "RSS MB seed/leech"
printf '%-24s %8s %8s\n' "" "MB/s" "MB/s"
for pair in "${pairs[@]}"; do
    label="$pair -> $pair"
    printf '%-24s %8s %8s %18s %18s\n' "$label" "$(best "${mbs[$pair]}")" \
        "$(median "${mbs[$pair]}")" \
        "$(median "${seed_cpu[$pair]}") / $(median "${leech_cpu[$pair]}")" \
        "$(mib "$(best "${seed_rss[$pair]}")") / $(mib "$(best "${leech_rss[$pair]}")")"
done
echo "time to the last verified piece, best of $RUNS:" \
    "shoal $(lowest "${inner[shoal]}") s, libtorrent $(lowest "${inner[libtorrent]}") s"
echo "load average before: $load_before, after: $load_after"
awk -v s="$(best "${mbs[shoal]}")" -v l="$(best "${mbs[libtorrent]}")" \
    'BEGIN { printf "shoal/libtorrent ratio: %.2f (best)\n", s / l }'
