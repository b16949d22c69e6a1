#!/bin/bash
# A seeder on 127.0.0.1, the address every local client shares, next to the
# honest seeder there, that answers with random bytes and comes back from
# new source ports with its one peer id: the leecher bans that peer (its
# endpoint and peer id) within two failed pieces, refuses it at every
# handshake after, never bans the honest seeder and finishes.
exec /usr/bin/python3 "$(dirname "$0")/poison.py" shared
