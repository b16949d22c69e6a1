#!/bin/sh
# Help for every command, option errors, the version, the man page and
# make install (cli_help.py says what each check is).
set -eu
exec /usr/bin/python3 "$(dirname "$0")/cli_help.py"
