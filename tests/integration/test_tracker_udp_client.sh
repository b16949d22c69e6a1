#!/bin/sh
# shoal's UDP tracker client against a scripted tracker: a connection id is
# not used past its minute (BEP 15), retransmits included.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/tracker_udp_client.py"
