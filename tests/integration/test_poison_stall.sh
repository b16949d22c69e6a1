#!/bin/bash
# A peer that sends one good block of a piece, then chokes the leecher and
# sits: the honest seeder next to it (on 127.0.0.1, and on one host
# 127.0.0.2) still delivers, and the download finishes byte-identical.
exec /usr/bin/python3 "$(dirname "$0")/stall.py"
