#!/bin/sh
# --seed-ratio and --seed-time stop seeding; --on-done gets a hostile name only as data.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/session_run.py" limits
