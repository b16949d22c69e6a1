#!/bin/sh
# A web seed that serves a corrupted range is dropped (never asked again)
# and the download completes from the peer, byte-identical.
exec /usr/bin/python3 "$(dirname "$0")/webseed.py" corrupt
