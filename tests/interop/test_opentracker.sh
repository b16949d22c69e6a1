#!/bin/sh
# shoal seeders and leechers find each other through opentracker (HTTP, UDP).
set -eu
exec /usr/bin/python3 "$(dirname "$0")/opentracker.py"
