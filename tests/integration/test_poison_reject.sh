#!/bin/bash
# A seeder that rejects every block but one per piece and corrupts that one,
# so each piece it touches mixes good and bad blocks: the leecher bans it
# within two failed pieces and never bans the honest seeder.
exec /usr/bin/python3 "$(dirname "$0")/poison.py" reject
