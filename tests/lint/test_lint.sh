#!/usr/bin/env bash
# Self-test of scripts/lint.sh: it passes on the tree as it is, and fails,
# naming the file and the rule, on each deliberately wrong change made to a
# copy of the tree (an include that points up a layer, with quotes or angle
# brackets, an include without its folder, an event loop in a pure layer,
# the CLI reaching into src/, a raw malloc, a banned libc call, a folder that
# is no layer, a file whose opening comment does not name its layer).
set -euo pipefail
SRC=${SHOAL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
LINT=$SRC/scripts/lint.sh
work=$(mktemp -d /tmp/shoal-lint.XXXXXX)
trap 'rm -rf "$work"' EXIT
fails=0

fresh_copy() {
    rm -rf "$work/tree"
    mkdir -p "$work/tree"
    cp -r "$SRC/src" "$SRC/cli" "$work/tree/"
}

# expect_fail NAME FILE LINE PATTERN: appends LINE to FILE in a fresh copy;
# lint must exit 1 and print PATTERN.
expect_fail() {
    local name=$1 file=$2 line=$3 pattern=$4
    fresh_copy
    mkdir -p "$(dirname "$work/tree/$file")"
    printf '%s\n' "$line" >>"$work/tree/$file"
    local rc=0
    sh "$LINT" "$work/tree" >"$work/out" 2>&1 || rc=$?
    if [ $rc -ne 1 ]; then
        echo "FAIL $name: lint exited $rc, wanted 1"
        fails=$((fails + 1))
    elif ! grep -q -- "$pattern" "$work/out"; then
        echo "FAIL $name: lint output lacks '$pattern':"
        sed 's/^/    /' "$work/out"
        fails=$((fails + 1))
    else
        echo "ok   $name"
    fi
}

fresh_copy
if sh "$LINT" "$work/tree" >"$work/out" 2>&1; then
    echo "ok   the tree as it is passes"
else
    echo "FAIL the tree as it is does not pass:"
    sed 's/^/    /' "$work/out"
    fails=$((fails + 1))
fi

expect_fail "codec includes session" src/codec/wire.c '#include "session/session.h"' \
    'codec/ may not include from session/'
expect_fail "base includes engine" src/base/buf.h '#include "engine/picker.h"' \
    'base/ may not include from engine/'
expect_fail "engine includes server" src/engine/picker.c '#include "server/tracker.h"' \
    'engine/ may not include from server/'
expect_fail "session includes server" src/session/peer.c '#include "server/tracker.h"' \
    'session/ may not include from server/'
expect_fail "codec includes session with angle brackets" src/codec/bencode.c \
    '#include <session/session.h>' 'include a layer folder with quotes'
expect_fail "include without its folder" src/session/peer.c '#include "picker.h"' \
    'include names no layer folder'
expect_fail "engine uses libevent" src/engine/disk.c '#include <event2/event.h>' \
    'engine/ does no I/O'
expect_fail "codec uses curl" src/codec/bencode.c '#include <curl/curl.h>' \
    'codec/ does no I/O'
expect_fail "cli reaches into src" cli/shoal.c '#include "base/alloc.h"' \
    'the command line uses only the public API'
expect_fail "raw malloc" src/engine/picker.c 'static void *f(void) { return malloc(4); }' \
    'raw allocation outside src/base/alloc.c'
expect_fail "banned strcpy" cli/shoal.c 'static void g(char *d) { strcpy(d, "x"); }' \
    'banned function'
expect_fail "unknown folder" src/misc/x.c '/* nothing */' 'not a layer folder'
expect_fail "file without its layer" src/engine/new_policy.c '/* new_policy.c — no layer named. */' \
    'the opening comment does not say "Engine layer"'

if [ $fails -ne 0 ]; then
    echo "$fails lint self-test(s) failed"
    exit 1
fi
echo "lint self-test: all passed"
