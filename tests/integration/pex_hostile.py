#!/usr/bin/python3
"""Hostile ut_pex messages against a shoal seeder, run by
test_pex_hostile.sh.

A fake peer (peer_tools.Peer) offers ut_pex to `shoal seed -v` and sends it
messages naming multicast, broadcast, unspecified and port-0 addresses and
the seeder's own address; then 10,000 entries in one message; then garbage
that is not bencode; then more messages a minute than anyone honest sends.
The seeder must take none of the bad addresses (its log says how many it
took and refused, and it never dials itself), take at most 100 entries of
the big message, stay up with the fake peer still connected, and serve an
honest peer meanwhile and an honest `shoal get` afterwards. A private
torrent's seeder and one run with --no-pex must not offer ut_pex in their
extension handshakes, and must ignore ut_pex messages sent anyway. Every
process is stopped by PID; every wait is bounded.
"""
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools as pt  # noqa: E402

SIZE = 8 * 65536 + 777
# What shoal logs for a ut_pex message it read.
TAKEN = re.compile(r"pex: (\d+) peers from (\S+) \((\d+) refused\)")


def v4(a, port):
    return socket.inet_aton(a) + struct.pack(">H", port)


def ext_handshake(p, port):
    """Offers ut_pex as id 1 and reads the other side's extension
    handshake; returns it as a dict."""
    hs = pt.bencode({"m": {"ut_pex": 1}, "p": port, "v": "pex-hostile"})
    p.send(pt.msg(pt.EXTENDED, b"\0" + hs))
    payload = p.wait_msg(pt.EXTENDED, 5.0, lambda x: x[:1] == b"\0")
    return pt.bdecode(payload[1:])[0]


def pex_msg(ut_pex_id, added=b"", flags=None, raw=None):
    body = raw if raw is not None else pt.bencode(
        {"added": added, "added.f": flags if flags is not None else b"\0" * (len(added) // 6)})
    return pt.msg(pt.EXTENDED, bytes([ut_pex_id]) + body)


def taken_lines(err, addr):
    return [(int(m.group(1)), int(m.group(3)))
            for m in (TAKEN.search(x) for x in pt.read_text(err).splitlines())
            if m and m.group(2) == addr]


def make_torrent(work, name, private=False):
    d = os.path.join(work, name)
    os.makedirs(d)
    src = os.path.join(d, name + ".bin")
    with open(src, "wb") as f:
        f.write(os.urandom(SIZE))
    torrent = os.path.join(work, name + ".torrent")
    subprocess.run([pt.SHOAL, "create", src, "-o", torrent, "--piece-size", "64K"] +
                   (["--private"] if private else []), check=True, capture_output=True,
                   timeout=30)
    return d, src, torrent


def public_seeder(checks, procs, work):
    d, src, torrent = make_torrent(work, "pub")
    out = os.path.join(work, "seed")
    seeder = procs.start([pt.SHOAL, "seed", torrent, "-d", d, "--port", "0", "-v",
                          "--no-dht", "--no-lsd"], out)
    port = pt.shoal_port(out)
    checks.check(port is not None and pt.shoal_state(out) is not None, "the seeder starts")
    if port is None:
        return
    err = out + ".err"
    t = pt.Torrent(torrent)
    honest = pt.open_session(port, t, fast=True, extended=True)
    p = pt.open_session(port, t, fast=True, extended=True)
    addr = p.local_addr()
    theirs = ext_handshake(p, 40000)
    pex_id = theirs.get(b"m", {}).get(b"ut_pex", 0)
    checks.check(pex_id > 0, "a public torrent offers ut_pex (id %d)" % pex_id)

    bad = (v4("239.192.152.143", 6771) + v4("224.0.0.1", 6881) + v4("255.255.255.255", 6881)
           + v4("0.0.0.0", 6881) + v4("198.51.100.7", 0) + v4("127.0.0.1", port))
    p.send(pex_msg(pex_id, bad))
    ok = pt.wait_for(lambda: len(taken_lines(err, addr)) >= 1, 10)
    first = taken_lines(err, addr)[:1]
    checks.check(ok and first == [(0, 6)],
                 "multicast, broadcast, 0.0.0.0, port 0 and its own address: none taken "
                 "(%s)" % first)

    # 10,000 entries in one message: 60,000 bytes, under the size cap with
    # no flags (missing flags read as 0).
    many = b"".join(v4("127.0.3.%d" % (1 + i % 250), 20000 + i) for i in range(10000))
    p.send(pex_msg(pex_id, many, flags=b""))
    ok = pt.wait_for(lambda: len(taken_lines(err, addr)) >= 2, 10)
    second = taken_lines(err, addr)[1:2]
    checks.check(ok and second and second[0][0] == 100 and sum(second[0]) == 10000,
                 "10,000 entries: 100 taken, the rest refused (%s)" % second)

    p.send(pex_msg(pex_id, raw=b"this is not bencode"))
    ok = pt.wait_for(lambda: "pex: bad message from %s" % addr in pt.read_text(err), 10)
    checks.check(ok, "garbage is logged as a bad message")
    # Three read so far; the seventh in a minute is ignored unread.
    for i in range(4):
        p.send(pex_msg(pex_id, v4("127.0.4.1", 30000 + i)))
    ok = pt.wait_for(lambda: "pex: %s sends more than 6 messages a minute" % addr
                     in pt.read_text(err), 10)
    checks.check(ok and len(taken_lines(err, addr)) == 5,
                 "the seventh message in a minute is ignored (%d read)" %
                 len(taken_lines(err, addr)))
    checks.check(p.is_open(0.5), "the hostile peer is not disconnected for it")
    checks.check("127.0.0.1:%d: outgoing" % port not in pt.read_text(err),
                 "the seeder never dials itself")
    try:
        block = pt.fetch_block(honest, 0, 0, 16384)
        with open(os.path.join(d, "pub.bin"), "rb") as f:
            checks.check(block == f.read(16384), "another peer is served meanwhile")
    except (pt.Closed, socket.timeout, ValueError) as e:
        checks.check(False, "another peer is served meanwhile (%s)" % e)
    checks.check(seeder.poll() is None, "the seeder still runs")
    p.close()
    honest.close()

    get_dir = os.path.join(work, "get")
    os.makedirs(get_dir)
    g = procs.start([pt.SHOAL, "get", torrent, "-o", get_dir, "--port", "0", "--no-dht",
                     "--no-lsd", "--peer", "127.0.0.1:%d" % port], os.path.join(work, "get"))
    rc = procs.wait(g, 60)
    checks.check(rc == 0 and pt.same_file(src, os.path.join(get_dir, "pub.bin")),
                 "an honest shoal get downloads byte-identically afterwards (exit %s)" % rc)
    if checks.failures:
        print(pt.tail(err, 40))


def silent_seeder(checks, procs, work, name, private, extra):
    """A seeder that must neither offer nor read ut_pex."""
    d, src, torrent = make_torrent(work, name, private)
    out = os.path.join(work, name + "-seed")
    procs.start([pt.SHOAL, "seed", torrent, "-d", d, "--port", "0", "-v", "--no-dht",
                 "--no-lsd"] + extra, out)
    port = pt.shoal_port(out)
    if port is None or pt.shoal_state(out) is None:
        checks.check(False, "the %s seeder starts" % name)
        return
    p = pt.open_session(port, pt.Torrent(torrent), fast=True, extended=True)
    theirs = ext_handshake(p, 40001)
    checks.check(b"ut_pex" not in theirs.get(b"m", {}),
                 "%s: no ut_pex in the extension handshake" % name)
    # Sent anyway, under the id shoal uses when it offers ut_pex.
    p.send(pex_msg(2, v4("127.0.5.1", 40002)))
    p.send(pt.keepalive())
    checks.check(p.is_open(1.0) and "pex:" not in pt.read_text(out + ".err"),
                 "%s: a ut_pex message sent anyway is ignored" % name)
    p.close()


def main():
    checks = pt.Checks("pex_hostile")
    work = tempfile.mkdtemp(prefix="shoal-pexh.")
    procs = pt.Procs()
    try:
        public_seeder(checks, procs, work)
        silent_seeder(checks, procs, work, "private", True, [])
        silent_seeder(checks, procs, work, "nopex", False, ["--no-pex"])
    finally:
        procs.stop_all()
        checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
