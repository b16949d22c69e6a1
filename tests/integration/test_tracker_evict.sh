#!/bin/sh
# A random-infohash flood fills a small shoal tracker ten times over; the
# swarm of a lone seeder that re-announced survives it.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/tracker_evict.py"
