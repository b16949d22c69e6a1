#!/bin/sh
# Hostile connections from 127.0.0.1 against a shoal seeder (never a
# handshake, slowloris, idle handshaked peers): an honest download during
# each starts within 10 s and finishes; descriptors and memory come back.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/admission.py" one
