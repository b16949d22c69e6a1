#!/bin/bash
# Hostile ut_pex messages (BEP 11) against a shoal seeder; private and
# --no-pex torrents do not speak ut_pex. See pex_hostile.py.
exec /usr/bin/python3 "$(dirname "$0")/pex_hostile.py"
