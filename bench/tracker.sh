#!/usr/bin/env bash
# bench/tracker.sh [SECONDS] — announces per second of `shoal tracker` against
# opentracker in the same run, over UDP (BEP 15) and HTTP, then the memory a
# million peers take.
#
# Load: bench/trackerload.c, compiled here, sends announces for NHASHES
# infohashes (default 1000) for SECONDS (default 10): peer p announces
# infohash p % NHASHES with port 1 + (p / NHASHES) % PORTS (default 1000), so
# swarms fill up to PORTS peers and are then refreshed. UDP keeps 256
# requests outstanding on 16 sockets (sendmmsg and recvmmsg, a connection id
# per socket); HTTP runs 32 keep-alive connections, one request in flight on
# each, and opens a connection again when the server closes it or leaves it
# unanswered for a second. Every announce asks for 50 peers. The load comes
# from 16 loopback addresses (127.0.0.1-16; SOURCES=1 sends it all from
# 127.0.0.1): shoal's per-address limit lets at most 200 requests through
# in one millisecond whatever --rate says, which would throttle a
# single-address load.
#
# Servers: shoal tracker in open mode with --rate 1000000, and opentracker
# (Debian builds it with a whitelist, so the NHASHES infohashes are written to
# one in its chroot folder). Every measurement starts a fresh server on free
# loopback ports; each (server, protocol) pair runs RUNS times (default 3),
# the servers taking turns. The table shows the best and median announces/s,
# the server's CPU time per announce, the CPU the server and the load
# generator used (100% = one core) and what other processes on the machine
# used meanwhile (when they used much, the CPU time per announce is the
# steadier figure), and shoal's ratio to opentracker (floor: UDP 1.0,
# HTTP 0.8; goal: UDP 1.5).
#
# Memory: a fresh shoal tracker receives FILL_PEERS (default 1000000) distinct
# peers over UDP (NHASHES infohashes x FILL_PEERS / NHASHES ports); the table
# shows its VmRSS before and after, the peers and memory_bytes of its /stats,
# and the same RSS for opentracker (skipped with OT_FILL=0).
#
# Exits non-zero when a server fails to start or dies, a run gets no
# announce answered, or a fill does not reach its peer count in shoal.
#
#   SHOAL_BIN   shoal binary (default: build/shoal beside this script)
#   RUNS        runs per server and protocol (default 3)
#   NHASHES     infohashes (default 1000); PORTS peers per infohash (default 1000)
#   FILL_PEERS  peers for the memory measurement (default 1000000)
#   OT_FILL     1 (default) to measure opentracker's memory too, 0 to skip it
#   SOURCES     loopback addresses the load comes from: 1, 2, 4, 8 or 16 (default)
#   PROTOS      protocols to measure (default "udp http")
set -euo pipefail
export SHOAL_LOCAL_ONLY=1
export LC_ALL=C

DURATION=${1:-10}
RUNS=${RUNS:-3}
NHASHES=${NHASHES:-1000}
PORTS=${PORTS:-1000}
FILL_PEERS=${FILL_PEERS:-1000000}
OT_FILL=${OT_FILL:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
SHOAL=${SHOAL_BIN:-$HERE/../build/shoal}
DIR=/tmp/shoal-bench-tracker
LOG=$DIR/log
JAIL=$DIR/jail
LOAD=$DIR/trackerload
START_TIMEOUT=10

num_ok() { case $1 in '' | *[!0-9]* | 0*) return 1 ;; esac; }
num_ok "$DURATION" || { echo "usage: $0 [SECONDS]" >&2; exit 2; }
[ "$DURATION" -le 3600 ] || { echo "tracker.sh: at most 3600 seconds" >&2; exit 2; }
for v in RUNS NHASHES PORTS FILL_PEERS; do
    num_ok "${!v}" || { echo "tracker.sh: $v must be a positive number" >&2; exit 2; }
done
read -r -a protos <<< "${PROTOS:-udp http}"
for proto in "${protos[@]}"; do
    case $proto in
    udp | http) ;;
    *) echo "tracker.sh: PROTOS takes udp and http, not $proto" >&2; exit 2 ;;
    esac
done
[ "$PORTS" -le 65535 ] || { echo "tracker.sh: PORTS must be at most 65535" >&2; exit 2; }
[ "$FILL_PEERS" -le $((NHASHES * 65535)) ] ||
    { echo "tracker.sh: FILL_PEERS must be at most NHASHES x 65535" >&2; exit 2; }
[ -x "$SHOAL" ] || { echo "tracker.sh: no shoal binary at $SHOAL (run make)" >&2; exit 2; }
command -v opentracker > /dev/null ||
    { echo "tracker.sh: opentracker is not installed" >&2; exit 2; }

rm -rf "$DIR"
mkdir -p "$LOG" "$JAIL"
cc -O2 -o "$LOAD" "$HERE/trackerload.c"
"$LOAD" hashes "$NHASHES" > "$JAIL/whitelist"
tick=$(getconf CLK_TCK)

SERVER_PID=""

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    local pid=$SERVER_PID
    SERVER_PID=""
    kill -TERM "$pid" 2> /dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2> /dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
}
trap stop_server EXIT
trap 'exit 130' INT TERM

fail() {
    echo "tracker.sh: $*" >&2
    exit 1
}

show_log() {
    local f
    for f in "$@"; do
        [ -s "$f" ] || continue
        echo "--- $f" >&2
        tail -n 20 "$f" >&2
    done
}

# http_get PORT PATH — the body of an HTTP/1.0 GET to 127.0.0.1:PORT.
http_get() {
    # shellcheck disable=SC2016 # expanded by the inner shell
    timeout 5 bash -c 'exec 3<> "/dev/tcp/127.0.0.1/$1" || exit 1
        printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3
        cat <&3' _ "$1" "$2" 2> /dev/null | sed '1,/^\r$/d'
}

# An announce with event=stopped for the first infohash: answered with a
# dictionary once the tracker takes announces (and, for opentracker, once
# its whitelist is loaded); it adds no peer.
probe_path="/announce?info_hash=$(head -n 1 "$JAIL/whitelist" | sed 's/../%&/g')"
probe_path+="&peer_id=-TL0001-probeprobepr&port=65535&uploaded=0&downloaded=0&left=1"
probe_path+="&compact=1&event=stopped"

# proc_ticks PID — user+sys CPU of a process (all its threads), in clock ticks.
proc_ticks() {
    local stat
    stat=$(< "/proc/$1/stat") || return 1
    stat=${stat##*) }
    # shellcheck disable=SC2086
    set -- $stat
    echo $((${12} + ${13}))
}

# busy_ticks — CPU ticks spent by every process on the machine so far.
busy_ticks() {
    awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

proc_rss() {
    awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"
}

# start_server NAME TAG [EXTRA...] — a fresh shoal tracker or opentracker;
# sets SERVER_PID, HTTP_PORT and UDP_PORT once it answers announces.
start_server() {
    local name=$1 tag=$2 out err deadline body port
    shift 2
    out=$LOG/$tag.out
    err=$LOG/$tag.err
    if [ "$name" = shoal ]; then
        "$SHOAL" tracker --http 127.0.0.1:0 --udp 127.0.0.1:0 --rate 1000000 \
            > "$out" 2> "$err" &
        SERVER_PID=$!
        HTTP_PORT="" UDP_PORT=""
    else
        port=$("$LOAD" freeport)
        opentracker -i 127.0.0.1 -p "$port" -P "$port" -d "$JAIL" -w /whitelist "$@" \
            > "$out" 2> "$err" &
        SERVER_PID=$!
        HTTP_PORT=$port UDP_PORT=$port
    fi
    deadline=$((SECONDS + START_TIMEOUT))
    while [ $SECONDS -lt $deadline ]; do
        kill -0 "$SERVER_PID" 2> /dev/null || break
        if [ "$name" = shoal ]; then
            HTTP_PORT=$(awk '/^http on port / { print $4 }' "$out" 2> /dev/null || true)
            UDP_PORT=$(awk '/^udp on port / { print $4 }' "$out" 2> /dev/null || true)
        fi
        if [ -n "$HTTP_PORT" ] && [ -n "$UDP_PORT" ]; then
            body=$(http_get "$HTTP_PORT" "$probe_path" || true)
            case $body in d*failure*) ;; d*) return 0 ;; esac
        fi
        sleep 0.1
    done
    show_log "$out" "$err"
    fail "$name tracker did not start (or does not answer announces)"
}

declare -A rate scpu lcpu other cost

# measure SERVER PROTO RUN — one load run against a fresh server.
measure() {
    local name=$1 proto=$2 run=$3 tag out c0 c1 b0 b1 t0 t1 line n r lc wall us
    tag=$name-$proto-$run
    out=$LOG/$tag.load
    start_server "$name" "$tag"
    c0=$(proc_ticks "$SERVER_PID") || fail "$name died before the load"
    b0=$(busy_ticks)
    t0=$EPOCHREALTIME
    if ! timeout -k 5 $((DURATION + 60)) "$LOAD" "$proto" 127.0.0.1 \
        "$([ "$proto" = udp ] && echo "$UDP_PORT" || echo "$HTTP_PORT")" \
        "$DURATION" "$NHASHES" "$PORTS" > "$out" 2> "$LOG/$tag.load.err"; then
        show_log "$out" "$LOG/$tag.load.err" "$LOG/$tag.err"
        fail "$name $proto run $run: the load generator failed (no announce answered?)"
    fi
    t1=$EPOCHREALTIME
    b1=$(busy_ticks)
    c1=$(proc_ticks "$SERVER_PID") ||
        { show_log "$LOG/$tag.err"; fail "$name died during the $proto load (run $run)"; }
    stop_server
    line=$(tail -n 1 "$out")
    # "announces N seconds S rate R/s ... cpu C"
    read -r _ n _ _ _ r _ <<< "$line"
    r=${r%/s}
    lc=$(awk '{ for (i = 1; i < NF; i++) if ($i == "cpu") print $(i + 1) }' <<< "$line")
    [ "${n:-0}" -gt 0 ] || fail "$name $proto run $run: no announce answered"
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    rate[$name-$proto]+="$r "
    scpu[$name-$proto]+="$(awk -v c=$((c1 - c0)) -v t="$tick" -v w="$wall" \
        'BEGIN { printf "%.0f", 100 * c / t / w }') "
    lcpu[$name-$proto]+="$(awk -v c="$lc" -v w="$wall" 'BEGIN { printf "%.0f", 100 * c / w }') "
    us=$(awk -v c=$((c1 - c0)) -v t="$tick" -v n="$n" 'BEGIN { printf "%.2f", 1e6 * c / t / n }')
    cost[$name-$proto]+="$us "
    other[$name-$proto]+="$(awk -v b=$((b1 - b0)) -v c=$((c1 - c0)) -v l="$lc" -v t="$tick" \
        -v w="$wall" 'BEGIN { o = 100 * ((b - c) / t - l) / w; printf "%.0f", o < 0 ? 0 : o }') "
    printf '  run %d %-11s %-4s %8s announces/s %6s us/announce  (%s)\n' "$run" "$name" \
        "$proto" "$r" "$us" "$(cut -d' ' -f7- <<< "$line")"
}

best() { tr ' ' '\n' <<< "$1" | sed '/^$/d' | sort -g | tail -n 1; }
median() {
    local sorted n
    sorted=$(tr ' ' '\n' <<< "$1" | sed '/^$/d' | sort -g)
    n=$(wc -l <<< "$sorted")
    sed -n "$(((n + 1) / 2))p" <<< "$sorted"
}

servers=(shoal opentracker)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "tracker: $DURATION s per run, $RUNS runs per server and protocol, $NHASHES infohashes" \
    "x $PORTS ports, loopback, $(nproc) cores"
for run in $(seq "$RUNS"); do
    for proto in "${protos[@]}"; do
        for name in "${servers[@]}"; do
            measure "$name" "$proto" "$run"
        done
    done
done

# ------------------------------------------------------------------ memory

# fill NAME — FILL_PEERS peers into a fresh server; sets RSS0, RSS1 (KiB),
# FILL_OK, FILL_LINE.
fill() {
    local name=$1 extra=()
    [ "$name" = opentracker ] && extra=(-A 127.0.0.1) # may read /stats
    start_server "$name" "$name-fill" "${extra[@]}"
    RSS0=$(proc_rss "$SERVER_PID")
    FILL_OK=1
    timeout -k 5 200 "$LOAD" fill 127.0.0.1 "$UDP_PORT" "$FILL_PEERS" "$NHASHES" \
        > "$LOG/$name-fill.load" 2> "$LOG/$name-fill.load.err" || FILL_OK=0
    FILL_LINE=$(tail -n 1 "$LOG/$name-fill.load")
    kill -0 "$SERVER_PID" 2> /dev/null ||
        { show_log "$LOG/$name-fill.err"; fail "$name died during the fill"; }
    RSS1=$(proc_rss "$SERVER_PID")
}

echo
echo "memory: $FILL_PEERS peers over UDP ($NHASHES infohashes x" \
    "$(((FILL_PEERS + NHASHES - 1) / NHASHES)) ports)"
fill shoal
stats=$(http_get "$HTTP_PORT" /stats || true)
shoal_peers=$(grep -o '"peers": [0-9]*' <<< "$stats" | grep -o '[0-9]*$' || echo "?")
shoal_mem=$(grep -o '"memory_bytes": [0-9]*' <<< "$stats" | grep -o '[0-9]*$' || echo "?")
shoal_rss0=$RSS0 shoal_rss1=$RSS1 shoal_fill_ok=$FILL_OK
echo "  shoal:       $FILL_LINE"
stop_server
if [ "$OT_FILL" = 1 ]; then
    fill opentracker
    ot_peers=$(http_get "$HTTP_PORT" '/stats?mode=peer' | head -n 1 || true)
    ot_rss0=$RSS0 ot_rss1=$RSS1 ot_fill_ok=$FILL_OK
    echo "  opentracker: $FILL_LINE"
    stop_server
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ tables

echo
echo "announces/s, best and median of $RUNS runs of $DURATION s; the other columns are"
echo "medians over the runs: the server's CPU time per announce, and the CPU (100% = one"
echo "core) of the server, the load generator and all other processes on the machine"
printf '%-12s %-5s %9s %9s %11s %7s %7s %7s\n' server proto best median "us/announce" \
    server load other
for proto in "${protos[@]}"; do
    for name in "${servers[@]}"; do
        k=$name-$proto
        printf '%-12s %-5s %9s %9s %11s %6s%% %6s%% %6s%%\n' "$name" "$proto" \
            "$(best "${rate[$k]}")" "$(median "${rate[$k]}")" "$(median "${cost[$k]}")" \
            "$(median "${scpu[$k]}")" "$(median "${lcpu[$k]}")" "$(median "${other[$k]}")"
    done
done
echo "load average before: $load_before, after: $load_after"
for k in "${!other[@]}"; do
    if [ "$(median "${other[$k]}")" -gt 25 ]; then
        echo "note: other processes used the CPU during the runs; announces/s are lower than" \
            "on an idle machine"
        break
    fi
done

# verdict PROTO FLOOR [GOAL]
verdict() {
    local proto=$1 floor=$2 goal=${3:-} rb rm text
    rb=$(awk -v s="$(best "${rate[shoal-$proto]}")" -v o="$(best "${rate[opentracker-$proto]}")" \
        'BEGIN { printf "%.2f", s / o }')
    rm=$(awk -v s="$(median "${rate[shoal-$proto]}")" \
        -v o="$(median "${rate[opentracker-$proto]}")" 'BEGIN { printf "%.2f", s / o }')
    if awk -v r="$rb" -v f="$floor" 'BEGIN { exit !(r >= f) }'; then
        text="floor $floor met"
    else
        text="BELOW the floor $floor"
    fi
    if [ -n "$goal" ]; then
        if awk -v r="$rb" -v g="$goal" 'BEGIN { exit !(r >= g) }'; then
            text+=", goal $goal met"
        else
            text+=", goal $goal not met"
        fi
    fi
    printf 'shoal/opentracker %-4s %s (best), %s (median): %s\n' "${proto^^}" \
        "$rb" "$rm" "$text"
}
for proto in "${protos[@]}"; do
    case $proto in
    udp) verdict udp 1.0 1.5 ;;
    http) verdict http 0.8 ;;
    esac
done

mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }'; }
echo
echo "memory after $FILL_PEERS peers (MB = 10^6 bytes)"
printf '%-12s %10s %10s %10s %10s %12s %14s\n' server peers "RSS before" "RSS after" \
    "RSS B/peer" "stats MB" "stats B/peer"
per_peer() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.1f", (b - a) * 1024 / n }'; }
printf '%-12s %10s %10s %10s %10s %12s %14s\n' shoal "$shoal_peers" "$(mb "$shoal_rss0")" \
    "$(mb "$shoal_rss1")" "$(per_peer "$shoal_rss0" "$shoal_rss1" "$FILL_PEERS")" \
    "$(awk -v m="$shoal_mem" 'BEGIN { printf "%.1f", m / 1e6 }')" \
    "$(awk -v m="$shoal_mem" -v n="$FILL_PEERS" 'BEGIN { printf "%.1f", m / n }')"
if [ "$OT_FILL" = 1 ]; then
    printf '%-12s %10s %10s %10s %10s %12s %14s\n' opentracker "${ot_peers:-?}" \
        "$(mb "$ot_rss0")" "$(mb "$ot_rss1")" "$(per_peer "$ot_rss0" "$ot_rss1" "$FILL_PEERS")" \
        - -
    [ "$ot_fill_ok" = 1 ] || echo "opentracker did not take all $FILL_PEERS peers in time"
fi

[ "$shoal_fill_ok" = 1 ] || fail "shoal did not take all $FILL_PEERS peers (see $LOG)"
[ "$shoal_peers" = "$FILL_PEERS" ] ||
    fail "shoal's /stats counts $shoal_peers peers, $FILL_PEERS were announced"
