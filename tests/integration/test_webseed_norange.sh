#!/bin/sh
# A server that ignores Range and sends whole files: the web seed is dropped
# at its first reply and the download completes from the peer.
exec /usr/bin/python3 "$(dirname "$0")/webseed.py" norange
