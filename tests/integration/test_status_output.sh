#!/bin/sh
# What a user sees: the live line in an 80- and 40-column terminal, Ctrl-C,
# tracker failures, -v and --log, a piped seeder.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/status_output.py"
