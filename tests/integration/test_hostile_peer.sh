#!/bin/bash
# A hostile peer against a shoal seeder: protocol violations close the
# connection with the right reason, and the seeder keeps serving.
exec /usr/bin/python3 "$(dirname "$0")/hostile_peer.py"
