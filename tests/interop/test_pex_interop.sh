#!/bin/sh
# Peer exchange (BEP 11) both ways between shoal and libtorrent on
# loopback. See pex_interop.py.
set -eu
here=$(dirname "$0")
exec /usr/bin/python3 "$here/pex_interop.py"
