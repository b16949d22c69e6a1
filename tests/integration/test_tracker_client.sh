#!/bin/sh
# shoal's HTTP(S) tracker client against a scripted tracker: tiers, redirects,
# failure replies, events, tracker id, certificates.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/tracker_client.py"
