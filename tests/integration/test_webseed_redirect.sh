#!/bin/sh
# A web seed redirecting off this machine is dropped once with the
# local-only reason, never retried; the peer completes the download.
exec /usr/bin/python3 "$(dirname "$0")/webseed.py" redirect
