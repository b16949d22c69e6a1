#!/bin/sh
# The default port 6881, the fallback when it is taken, and an explicit --port that is taken.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/session_run.py" port
