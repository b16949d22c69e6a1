#!/bin/sh
# A multi-file torrent, names that need percent-encoding, from a web seed
# alone: every file byte-identical, URLs laid out as BEP 19 says.
exec /usr/bin/python3 "$(dirname "$0")/webseed.py" multi
