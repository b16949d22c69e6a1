#!/bin/bash
# A seeder that answers with random bytes: the leecher bans it, finishes from
# the honest seeder and never dials the bad one again.
exec /usr/bin/python3 "$(dirname "$0")/poison.py"
