#!/bin/sh
# shoal get MAGNET: metadata from the swarm (BEP 9), hostile metadata peers.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/magnet.py"
