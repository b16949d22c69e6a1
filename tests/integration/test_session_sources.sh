#!/bin/sh
# A .torrent by http URL (with a redirect; bad URLs refused) and two torrents in one get.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/session_run.py" sources
