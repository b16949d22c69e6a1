#!/bin/bash
# aria2's DHT and shoal's on loopback: a torrent with no tracker crosses
# between them both ways through a shoal dht node.
exec /usr/bin/python3 "$(dirname "$0")/dht_aria2.py"
