#!/bin/sh
# A UDP tracker that forgot its connection ids: shoal connects again once
# instead of failing the exchange.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/tracker_udp_restart.py"
