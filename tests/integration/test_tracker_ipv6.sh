#!/bin/sh
# shoal tracker and shoal's tracker clients over IPv6 (::1): peers6, BEP 15
# over IPv6, downloads found through both.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/tracker_ipv6.py"
