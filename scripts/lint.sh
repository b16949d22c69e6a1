#!/bin/sh
# Bans libc calls that invite overflows or silent failures, and raw heap
# allocation outside the one wrapper (src/alloc.c), from the library and CLI.
set -eu
cd "$(dirname "$0")/.."
status=0
banned='\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|atoll|strtok)\s*\('
if grep -nE "$banned" src/*.c src/*.h src/server/*.c cli/*.c cli/*.h 2>/dev/null; then
    echo "lint: banned function (use snprintf, memcpy with a length, strtol/parse_u64)" >&2
    status=1
fi
raw='\b(malloc|calloc|realloc|free|strdup|strndup)\s*\('
if grep -nE "$raw" src/*.c src/*.h src/server/*.c 2>/dev/null | grep -v '^src/alloc\.c:'; then
    echo "lint: raw allocation outside src/alloc.c (use xmalloc/xfree)" >&2
    status=1
fi
[ $status = 0 ] && echo "lint: ok"
exit $status
