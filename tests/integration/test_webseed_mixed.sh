#!/bin/sh
# A web seed and a seeding peer together: both contribute, byte-identical.
exec /usr/bin/python3 "$(dirname "$0")/webseed.py" mixed
