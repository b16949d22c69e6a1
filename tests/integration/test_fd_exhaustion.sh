#!/bin/sh
# Out of descriptors (ulimit -n 64) under 200 idle connections each,
# `shoal seed` and `shoal tracker` neither spin nor flood stderr, and both
# serve again once the connections close.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/fd_exhaustion.py"
