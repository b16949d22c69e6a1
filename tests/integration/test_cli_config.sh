#!/bin/sh
# The config file: where it is found, how it applies, how the command line
# overrides it, its errors, and `shoal config` (cli_config.py says more).
set -eu
exec /usr/bin/python3 "$(dirname "$0")/cli_config.py"
