#!/bin/sh
# Unfinished files carry .part; unselected files are not created. See part_files.py.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/part_files.py"
