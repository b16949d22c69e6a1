#!/usr/bin/python3
"""A peer that is not on loopback sends a shoal node a ut_pex message naming
loopback addresses (and one ordinary address), for test_lsd_netns.sh,
which runs it in a network namespace of its own.

    pex_remote.py HOST PORT TORRENT

Connects to HOST:PORT, offers ut_pex, sends the message under the id the
node gave, keeps the connection a moment and prints "sent".
"""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools as pt  # noqa: E402


def main():
    host, port, torrent = sys.argv[1], int(sys.argv[2]), pt.Torrent(sys.argv[3])
    p = pt.Peer.connect(port, host=host, timeout=10)
    p.send(pt.handshake(torrent.infohash, pt.random_peer_id(), fast=True, extended=True))
    p.read_handshake(10)
    p.send(pt.msg(pt.EXTENDED, b"\0" + pt.bencode({"m": {"ut_pex": 1}, "p": 6881})))
    theirs = pt.bdecode(p.wait_msg(pt.EXTENDED, 10, lambda x: x[:1] == b"\0")[1:])[0]
    pex_id = theirs[b"m"][b"ut_pex"]
    added = (socket.inet_aton("127.0.0.1") + struct.pack(">H", 6881) +
             socket.inet_aton("127.9.9.9") + struct.pack(">H", 6882) +
             socket.inet_aton("10.201.7.99") + struct.pack(">H", 6883))
    added6 = socket.inet_pton(socket.AF_INET6, "::1") + struct.pack(">H", 6884)
    body = pt.bencode({"added": added, "added.f": b"\0\0\0", "added6": added6,
                       "added6.f": b"\0"})
    p.send(pt.msg(pt.EXTENDED, bytes([pex_id]) + body))
    time.sleep(1)
    p.close()
    print("sent", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
