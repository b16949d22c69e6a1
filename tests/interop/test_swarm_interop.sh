#!/bin/sh
# shoal and real clients (libtorrent, aria2, Transmission) transfer a
# multi-file torrent both ways on loopback. See swarm_interop.py.
set -eu
here=$(dirname "$0")
exec /usr/bin/python3 "$here/swarm_interop.py"
