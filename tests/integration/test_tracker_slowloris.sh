#!/bin/sh
# 500 slowloris connections to shoal tracker's HTTP port (a byte every 3 s):
# each is closed at its 10 s deadline, an honest announce is served during
# the attack, and the tracker's descriptors return to their baseline.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/tracker_slowloris.py"
