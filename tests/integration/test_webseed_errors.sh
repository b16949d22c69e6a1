#!/bin/sh
# A web seed answering 404, then 503, then working: it backs off, warns once
# per change of reason, and the download completes from it.
exec /usr/bin/python3 "$(dirname "$0")/webseed.py" errors
