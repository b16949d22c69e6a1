#!/bin/bash
# A seeder on its own address that answers with random bytes and comes back
# from new source ports: the leecher bans its address within two failed
# pieces, finishes from the honest seeder and never lets it in again.
exec /usr/bin/python3 "$(dirname "$0")/poison.py" random
