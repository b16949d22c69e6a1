#!/bin/sh
# The state folder (never the download folder), the lock, seed -d of a wrong folder, and bad options that create nothing.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/session_run.py" state
