#!/bin/sh
# Disk trouble under a running torrent: readonly. See disk_states.py.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/disk_states.py" readonly
