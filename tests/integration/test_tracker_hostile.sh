#!/bin/sh
# Malformed HTTP and UDP requests to shoal tracker: exact refusals, no crash,
# bounded memory, honest clients still served.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/tracker_hostile.py"
