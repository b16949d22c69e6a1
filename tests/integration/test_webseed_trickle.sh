#!/bin/sh
# A web seed trickling 4 KB/s beside a seeding peer: the pieces it holds go
# to the idle peer, and a 4 MiB download finishes in well under 30 s.
exec /usr/bin/python3 "$(dirname "$0")/webseed.py" trickle
