#!/bin/sh
# Transmission, libtorrent and aria2c find each other through shoal tracker
# (HTTP, UDP) and finish byte-identical.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/tracker_interop.py"
