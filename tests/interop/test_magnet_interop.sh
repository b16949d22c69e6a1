#!/bin/sh
# Magnet links (BEP 9) between shoal and libtorrent / aria2 on loopback, both
# ways. See magnet_interop.py.
set -eu
here=$(dirname "$0")
exec /usr/bin/python3 "$here/magnet_interop.py"
