#!/usr/bin/python3
"""shoal tracker and shoal's tracker clients over IPv6, on ::1:

  - `shoal tracker` listens on [::1] for HTTP and UDP; `shoal share` announces
    to http://[::1]:P/announce, and two `shoal get` (one through the HTTP
    URL, one through udp://[::1]:P) find the sharer and finish byte-identical.
  - A hand-made HTTP announce from ::1 gets the sharer back in `peers6`
    (BEP 7: 16-byte address + port), and a hand-made BEP 15 announce over
    IPv6 gets it back as an 18-byte record.
  - A seeder gets no seeders of the other family either: with IPv6 peers
    announced over UDP on [::1], an IPv4 seeder's HTTP announce on
    127.0.0.1 gets the IPv6 leecher in `peers6` and never the IPv6 seeder.
"""
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools  # noqa: E402

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
procs = peer_tools.Procs()
checks = peer_tools.Checks("tracker ipv6")
check = checks.check
LOOP6 = socket.inet_pton(socket.AF_INET6, "::1")



def http_announce(hp, ih):
    q = urllib.parse.urlencode({"info_hash": ih, "peer_id": b"-XX0001-" + os.urandom(12),
                                "port": 6881, "uploaded": 0, "downloaded": 0, "left": 1,
                                "compact": 1, "numwant": 50}, quote_via=urllib.parse.quote)
    with urllib.request.urlopen("http://[::1]:%d/announce?%s" % (hp, q), timeout=5) as r:
        return peer_tools.bdecode(r.read())[0]


def udp_announce(up, ih, left=1, port=6882, event=0):
    """A BEP 15 announce from ::1 for the peer at [::1]:port; the reply, or
    None when the connect fails."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(5)
    try:
        tid = random.getrandbits(32)
        s.sendto(struct.pack(">QII", 0x41727101980, 0, tid), ("::1", up))
        action, rtid, cid = struct.unpack(">IIQ", s.recv(2048)[:16])
        if action != 0 or rtid != tid:
            return None
        tid = random.getrandbits(32)
        s.sendto(struct.pack(">QII20s20sQQQIIIiH", cid, 1, tid, ih,
                             b"-XX0001-" + os.urandom(12), 0, left, 0, event, 0, 0, 50, port),
                 ("::1", up))
        return s.recv(2048)
    finally:
        s.close()


def http4_announce(hp, ih, left, port):
    q = urllib.parse.urlencode({"info_hash": ih, "peer_id": b"-XX0001-" + os.urandom(12),
                                "port": port, "uploaded": 0, "downloaded": 0, "left": left,
                                "compact": 1, "numwant": 50}, quote_via=urllib.parse.quote)
    with urllib.request.urlopen("http://127.0.0.1:%d/announce?%s" % (hp, q), timeout=5) as r:
        return peer_tools.bdecode(r.read())[0]


def peers4(blob):
    return [(blob[i:i + 4], struct.unpack(">H", blob[i + 4:i + 6])[0])
            for i in range(0, len(blob) - 5, 6)]


def seeders_across_families(work):
    """An IPv4 seeder asking over HTTP gets leechers only, in both families."""
    out = os.path.join(work, "tracker-mixed")
    procs.start([SHOAL, "tracker", "--http", "127.0.0.1:0", "--udp", "[::1]:0"], out)
    ports = peer_tools.tracker_ports(out)
    check(ports is not None, "mixed: shoal tracker on 127.0.0.1 (HTTP) and [::1] (UDP)")
    if not ports:
        return
    hp, up = ports
    ih = os.urandom(20)
    ok = udp_announce(up, ih, 0, 7001, event=2) is not None  # IPv6 seeder
    ok = ok and udp_announce(up, ih, 5, 7004, event=2) is not None  # IPv6 leecher
    http4_announce(hp, ih, 5, 7002)  # IPv4 leecher
    check(ok, "mixed: an IPv6 seeder and an IPv6 leecher announced over UDP")
    reply = http4_announce(hp, ih, 0, 7003)  # IPv4 seeder
    got6 = peers6(reply.get(b"peers6", b""), 18)
    got4 = peers4(reply.get(b"peers", b""))
    check((LOOP6, 7001) not in got6,
          "mixed: an IPv4 seeder does not get the IPv6 seeder in peers6 (%r)" % got6)
    check((LOOP6, 7004) in got6,
          "mixed: an IPv4 seeder gets the IPv6 leecher in peers6 (%r)" % got6)
    check(got4 == [(socket.inet_aton("127.0.0.1"), 7002)],
          "mixed: an IPv4 seeder gets the IPv4 leecher alone in peers (%r)" % got4)
    # A leecher gets both kinds of the other family.
    reply = http4_announce(hp, ih, 5, 7005)
    got6 = peers6(reply.get(b"peers6", b""), 18)
    check(sorted(p for _, p in got6) == [7001, 7004],
          "mixed: an IPv4 leecher gets both IPv6 peers in peers6 (%r)" % got6)


def peers6(blob, size):
    return [(blob[i:i + 16], struct.unpack(">H", blob[i + 16:i + 18])[0])
            for i in range(0, len(blob) - size + 1, size)]


def main():
    work = tempfile.mkdtemp(prefix="shoal-tracker-ipv6.")
    try:
        out = os.path.join(work, "tracker")
        procs.start([SHOAL, "tracker", "--http", "[::1]:0", "--udp", "[::1]:0"], out)
        ports = peer_tools.tracker_ports(out)
        check(ports is not None, "shoal tracker listens on [::1]")
        if not ports:
            return 1
        hp, up = ports
        data = os.path.join(work, "share", "talk.ogg")
        os.makedirs(os.path.dirname(data))
        with open(data, "wb") as f:
            f.write(os.urandom(2 * 1024 * 1024 + 17))
        torrent = os.path.join(work, "talk.torrent")
        share_out = os.path.join(work, "share")
        procs.start([SHOAL, "share", data, "-t", "http://[::1]:%d/announce" % hp, "-o",
                     torrent, "--port", "0"], share_out)
        sharer_port = peer_tools.shoal_port(share_out)
        ok = peer_tools.wait_for(lambda: "magnet:" in peer_tools.read_text(share_out + ".out"),
                                 20)
        check(ok and sharer_port is not None, "shoal share is seeding")
        ih = peer_tools.Torrent(torrent).infohash

        # The sharer's announce may take a moment to arrive.
        got = []

        def sharer_listed():
            got[:] = [http_announce(hp, ih)]
            return (LOOP6, sharer_port) in peers6(got[0].get(b"peers6", b""), 18)
        listed = peer_tools.wait_for(sharer_listed, 10, 0.2)
        check(listed, "HTTP over IPv6: peers6 holds [::1]:%s (reply: %r)"
              % (sharer_port, got[0] if got else None))
        reply = udp_announce(up, ih)
        ok = reply is not None and len(reply) >= 20 and struct.unpack(">I", reply[:4])[0] == 1
        check(ok and (LOOP6, sharer_port) in peers6(reply[20:], 18),
              "UDP over IPv6: the announce reply holds [::1]:%s in an 18-byte record"
              % sharer_port)

        udp_torrent = os.path.join(work, "talk-udp.torrent")
        subprocess.run([SHOAL, "create", data, "-o", udp_torrent, "-t", "udp://[::1]:%d" % up],
                       check=True, capture_output=True)
        for name, t in (("http", torrent), ("udp", udp_torrent)):
            dest = os.path.join(work, "get-" + name)
            p = procs.start([SHOAL, "get", t, "-o", dest, "--port", "0", "--exit-when-done"],
                            dest)
            procs.wait(p, 60)
            got_file = os.path.join(dest, "talk.ogg")
            same = peer_tools.same_file(data, got_file)
            check(p.returncode == 0 and same, "%s over IPv6: shoal get found the sharer "
                  "through the tracker and finished byte-identical" % name)
            if not same:
                print(peer_tools.tail(dest + ".err"))
        seeders_across_families(work)
    finally:
        procs.stop_all()
        checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
