#!/bin/bash
# Three shoal nodes on loopback: the third learns the seeder only through
# the second's ut_pex message (BEP 11). See pex_swarm.py.
exec /usr/bin/python3 "$(dirname "$0")/pex_swarm.py"
