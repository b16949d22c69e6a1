#!/bin/sh
# kill -9 a leecher right after a resume save: the state claims every piece
# verified before the file times it records, and only pieces on disk.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/resume_kill.py"
