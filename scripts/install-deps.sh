#!/bin/sh
# Installs the Debian packages shoal needs to build, test and run its interop
# tests. Idempotent: only packages that are missing are installed, so a second
# run on a ready machine changes nothing and needs no network.
set -eu

PACKAGES="
build-essential cmake ninja-build pkg-config
libevent-dev libssl-dev libcurl4-openssl-dev libsqlite3-dev libjansson-dev
libcmocka-dev clang libclang-rt-14-dev clang-format
libminiupnpc-dev libnatpmp-dev zlib1g-dev
transmission-cli aria2 python3-libtorrent opentracker mktorrent
microsocks dante-server miniupnpd iperf3 iproute2 nftables iptables
man-db
"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

echo "install-deps: installing$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
