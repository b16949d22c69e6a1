#!/bin/bash
# libtorrent's DHT and shoal's bootstrapped to each other on loopback: each
# finds, through get_peers, the peer the other announced.
exec /usr/bin/python3 "$(dirname "$0")/dht_libtorrent.py"
