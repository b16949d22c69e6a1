#!/usr/bin/python3
"""A random-infohash flood against a full `shoal tracker` keeps a lone seeder.

`shoal tracker --max-swarms 1000 --interval 10` on loopback. A real `shoal
seed` announces its torrent over HTTP and, later, announces again, as every
client does each interval (shoal's client waits 30 s at least). Then a flood of UDP (BEP 15) announces, each
for a new random infohash, fills the table ten times over. Afterwards the
seeder's swarm is still there: a scrape counts its one seeder, and a
leecher's announce gets the seeder's address. The tracker saw no third
announce from the seeder meanwhile, so the swarm outlived the flood rather
than being made again. The flood is bounded: 10,000 announces from 8
loopback addresses, 32 in flight per address, 60 seconds at most. Takes
about 35 s, most of it waiting for the second announce.
"""
import json
import os
import random
import socket
import struct
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools  # noqa: E402

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
procs = peer_tools.Procs()
checks = peer_tools.Checks("tracker evict")
check = checks.check
MAGIC = 0x41727101980
MAX_SWARMS = 1000
FLOOD = 10 * MAX_SWARMS
SOURCES = 8
WINDOW = 32


def http_get(hp, target):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (hp, target), timeout=10) as r:
        return r.read()


def stats(hp):
    return json.loads(http_get(hp, "/stats"))


def udp_connect(s, up):
    tid = random.getrandbits(32)
    s.sendto(struct.pack(">QII", MAGIC, 0, tid), ("127.0.0.1", up))
    action, rtid, cid = struct.unpack(">IIQ", s.recv(2048)[:16])
    return cid if action == 0 and rtid == tid else None


def flood(up, count, deadline):
    """count announces of new random infohashes, spread over SOURCES
    sockets bound to 127.0.0.2 and up, WINDOW in flight on each. Returns
    the number answered with an announce reply."""
    socks = []
    for i in range(SOURCES):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.%d" % (2 + i), 0))
        s.settimeout(2)
        cid = udp_connect(s, up)
        if cid is None:
            return 0
        socks.append((s, cid))
    answered = sent = 0
    while sent < count and time.monotonic() < deadline:
        for s, cid in socks:
            n = min(WINDOW, count - sent)
            want = set()
            for _ in range(n):
                tid = random.getrandbits(32)
                want.add(tid)
                # left > 0: the flood's peers claim to leech, as a flood of
                # announces for made-up torrents would.
                s.sendto(struct.pack(">QII20s20sQQQIIIiH", cid, 1, tid, os.urandom(20),
                                     os.urandom(20), 0, 1000, 0, 2, 0, 0, 0,
                                     random.randint(1, 65535)), ("127.0.0.1", up))
            sent += n
            while want:
                try:
                    reply = s.recv(2048)
                except socket.timeout:
                    break
                action, tid = struct.unpack(">II", reply[:8])
                if tid in want:
                    want.discard(tid)
                    answered += action == 1
    for s, _ in socks:
        s.close()
    return answered


def main():
    work = tempfile.mkdtemp(prefix="shoal-tracker-evict.")
    try:
        out = os.path.join(work, "tracker")
        procs.start([SHOAL, "tracker", "--http", "127.0.0.1:0", "--udp", "127.0.0.1:0",
                     "--max-swarms", str(MAX_SWARMS), "--interval", "10", "--rate",
                     "1000000"], out)
        ports = peer_tools.tracker_ports(out)
        check(ports is not None, "shoal tracker started")
        if not ports:
            return 1
        hp, up = ports
        seeder, sout = peer_tools.start_seeder(procs, work,
                                               "http://127.0.0.1:%d/announce" % hp, 100000)
        sport = peer_tools.shoal_port(sout)
        check(sport is not None, "the seeder listens")
        ih = peer_tools.Torrent(os.path.join(work, "notes.torrent")).infohash
        # Its first announce, then the one a client sends each interval.
        t0 = time.monotonic()
        ok = peer_tools.wait_for(lambda: stats(hp)["announces_http"] >= 2, 60, 0.2)
        print("second announce after %.1f s" % (time.monotonic() - t0), flush=True)
        check(ok, "the seeder announced and announced again (%d announces)"
              % stats(hp)["announces_http"])
        if not ok:
            return 1

        t0 = time.monotonic()
        answered = flood(up, FLOOD, t0 + 60)
        took = time.monotonic() - t0
        st = stats(hp)
        print("flood: %d of %d announces answered in %.1f s; tracker: %d swarms, "
              "%d evicted" % (answered, FLOOD, took, st["swarms"], st["evicted_swarms"]),
              flush=True)
        check(answered >= FLOOD * 9 // 10, "the flood's announces were taken (%d)" % answered)
        check(st["swarms"] <= MAX_SWARMS, "the table holds at most %d swarms" % MAX_SWARMS)
        check(st["evicted_swarms"] >= answered - MAX_SWARMS,
              "the flood filled the table %d times over (%d evictions)"
              % (answered // MAX_SWARMS, st["evicted_swarms"]))
        check(st["announces_http"] == 2,
              "no announce from the seeder came during the flood (%d)" % st["announces_http"])

        q = urllib.parse.quote_from_bytes(ih)
        body = http_get(hp, "/scrape?info_hash=" + q)
        files = peer_tools.bdecode(body)[0].get(b"files", {})
        counts = files.get(ih, {})
        check(counts.get(b"complete") == 1 and counts.get(b"incomplete") == 0,
              "a scrape counts the lone seeder (%r)" % counts)
        body = http_get(hp, "/announce?info_hash=%s&peer_id=-XX0001-leecher00001&port=7777"
                        "&left=1000&compact=1&event=started" % q)
        reply = peer_tools.bdecode(body)[0]
        peers = reply.get(b"peers", b"")
        want = socket.inet_aton("127.0.0.1") + struct.pack(">H", sport or 0)
        check(reply.get(b"complete") == 1 and peers == want,
              "a leecher's announce gets the seeder's address (%r)" % reply)
        check(procs.stop(seeder) == peer_tools.EXIT_TERMINATED,
              "the seeder exits %d on SIGTERM" % peer_tools.EXIT_TERMINATED)
    finally:
        procs.stop_all()
        checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
