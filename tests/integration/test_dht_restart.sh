#!/bin/bash
# shoal DHT nodes on loopback: lookups and announces through them, a node
# restarted from its saved table with no bootstrap node, and a trackerless
# seed and get that meet through the DHT alone.
exec /usr/bin/python3 "$(dirname "$0")/dht_restart.py"
