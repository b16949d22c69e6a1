#!/bin/sh
# A single-file torrent whose only source is a web seed (BEP 19) on a local
# HTTP server with ranges: the download completes byte-identical.
exec /usr/bin/python3 "$(dirname "$0")/webseed.py" single
