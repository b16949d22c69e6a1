#!/bin/sh
# kill -9 in the middle of a download, then the same command again.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/swarm.py" crash
