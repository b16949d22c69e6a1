#!/bin/sh
# Torrent files made by shoal are read alike by transmission-show and
# libtorrent, and theirs (and mktorrent's) by shoal. See torrent_files.py.
set -eu
here=$(dirname "$0")
exec /usr/bin/python3 "$here/torrent_files.py"
