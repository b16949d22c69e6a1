#!/bin/sh
# The attacks of test_admission.sh spread over 200 loopback addresses
# (127.0.0.2-201), which the per-address limits see as 200 hosts; then
# those limits one by one (4 half-open, 4 peers per torrent per address).
set -eu
exec /usr/bin/python3 "$(dirname "$0")/admission.py" many
