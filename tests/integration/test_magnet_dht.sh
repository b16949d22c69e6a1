#!/bin/sh
# Magnet links with nothing but the DHT: a bootstrap node, a seeder, four leechers.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/magnet_dht.py"
