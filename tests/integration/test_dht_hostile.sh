#!/bin/bash
# Hostile KRPC against a standalone shoal dht node: garbage, oversized and
# unasked datagrams get no answer, bad tokens get 203, floods are rate-limited,
# fake ids leave the table within its caps, and the node stays up.
exec /usr/bin/python3 "$(dirname "$0")/dht_hostile.py"
