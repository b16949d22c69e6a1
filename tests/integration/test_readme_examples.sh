#!/bin/sh
# Every ```sh example of README.md, pasted in order into an empty folder,
# works as written (readme_examples.py says how a block is run).
set -eu
exec /usr/bin/python3 "$(dirname "$0")/readme_examples.py"
