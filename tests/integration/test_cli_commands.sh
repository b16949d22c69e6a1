#!/bin/sh
# info's file numbers against --only, the tracker schema of magnet and
# torrent JSON, share --force, and the tracker on a taken port
# (cli_commands.py says more).
set -eu
exec /usr/bin/python3 "$(dirname "$0")/cli_commands.py"
