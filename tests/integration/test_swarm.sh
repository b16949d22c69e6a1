#!/bin/sh
# 1 shoal seeder + 8 shoal leechers on a 64 MiB multi-file torrent.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/swarm.py" swarm
