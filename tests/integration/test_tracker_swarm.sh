#!/bin/sh
# shoal tracker + shoal share + 4 x shoal get, and scrape counts. See tracker_swarm.py.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/tracker_swarm.py"
