#!/usr/bin/python3
"""Peer exchange (BEP 11) between shoal and libtorrent on loopback, run by
test_pex_interop.sh.

L is a libtorrent seed (python3-libtorrent, tests/interop/lt_peer.py) on
127.0.0.2, told to connect to S, a shoal seed. Then:

1. X, a shoal leecher given only L, must take S from L's ut_pex message
   and connect to it (its -v log names the peers it took from L and shows
   the outgoing connection to S).
2. Y, a shoal leecher given nobody (and running --no-pex, so it tells
   nobody anything), and Z, a shoal leecher given L and Y: L must learn Y
   from Z's ut_pex message and connect to it. L's connected peers must list
   Y's listening address with the PEX source; Y, which knew no peer at all,
   then downloads byte-identically.

No tracker, DHT or local discovery anywhere. Every process is started here
and stopped by PID; every wait is bounded.
"""
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import peer_tools as pt  # noqa: E402

SIZE = 6 * 1024 * 1024 + 99
# libtorrent sends its first ut_pex message on its second tick once it has
# two peers; shoal on its one-second tick. Room for slow sanitizer builds.
PEX_WITHIN = 40.0
QUIET = ["--no-dht", "--no-lsd"]


def lt_peers(out):
    """The last "peers:" line of lt_peer.py as {addr: sources}."""
    lines = [x for x in pt.read_text(out + ".out").splitlines() if x.startswith("peers:")]
    if not lines:
        return {}
    return dict(x.rsplit("/", 1) for x in lines[-1].split()[1:])


def main():
    checks = pt.Checks("pex_interop")
    try:
        import libtorrent  # noqa: F401
    except ImportError as e:
        print("SKIP: python3-libtorrent is not installed (%s)" % e)
        return 0
    work = tempfile.mkdtemp(prefix="shoal-pexi.")
    procs = pt.Procs()
    try:
        src, torrent = pt.make_torrent(work, "s", "pexi.bin", SIZE, piece_size="64K")
        sdir = os.path.dirname(src)
        ps = pt.free_port()
        s_out = os.path.join(work, "S")
        procs.start([pt.SHOAL, "seed", torrent, "-d", sdir, "--port", str(ps), "-v",
                     "--no-pex"] + QUIET, s_out)
        checks.check(pt.shoal_port(s_out) == ps, "S (shoal seed) listens on %d" % ps)
        s_addr = "127.0.0.1:%d" % ps

        l_out = os.path.join(work, "L")
        procs.start(["/usr/bin/python3", os.path.join(HERE, "lt_peer.py"), "seed", torrent,
                     sdir, "--bind", "127.0.0.2", "--peer", s_addr, "--timeout", "150",
                     "--peers-every", "0.5", "--keep-seed-links"], l_out)
        ok = pt.wait_for(lambda: re.search(r"^port \d+", pt.read_text(l_out + ".out"), re.M),
                         20)
        pl = int(re.search(r"^port (\d+)", pt.read_text(l_out + ".out"), re.M).group(1)) \
            if ok else 0
        checks.check(pl > 0, "L (libtorrent seed) listens on 127.0.0.2:%d" % pl)
        l_addr = "127.0.0.2:%d" % pl
        checks.check(pt.wait_for(lambda: s_addr in lt_peers(l_out), 20),
                     "L connects to S")

        # 1. shoal learns a peer from libtorrent's ut_pex.
        x_dir = os.path.join(work, "x")
        os.makedirs(x_dir)
        x_out = os.path.join(work, "X")
        procs.start([pt.SHOAL, "get", torrent, "-o", x_dir, "--seed", "--port", "0", "-v",
                     "--peer", l_addr] + QUIET, x_out)
        from_l = re.compile(r"pex: ([1-9]\d*) peers from %s " % re.escape(l_addr))
        ok = pt.wait_for(lambda: from_l.search(pt.read_text(x_out + ".err")), PEX_WITHIN, 0.2)
        checks.check(ok, "X takes peers from L's ut_pex message")
        ok = pt.wait_for(lambda: "%s: outgoing" % s_addr in pt.read_text(x_out + ".err"), 20)
        checks.check(ok, "X connects to S, which only L named")
        ok = pt.wait_for(lambda: pt.same_file(src, os.path.join(x_dir, "pexi.bin")), 60, 0.2)
        checks.check(ok, "X's copy is byte-identical")

        # 2. libtorrent learns a peer from shoal's ut_pex.
        py = pt.free_port()
        y_dir, z_dir = os.path.join(work, "y"), os.path.join(work, "z")
        os.makedirs(y_dir)
        os.makedirs(z_dir)
        y_out, z_out = os.path.join(work, "Y"), os.path.join(work, "Z")
        procs.start([pt.SHOAL, "get", torrent, "-o", y_dir, "--seed", "--port", str(py), "-v",
                     "--no-pex"] + QUIET, y_out)
        checks.check(pt.shoal_port(y_out) == py, "Y (shoal, given no peer) listens on %d" % py)
        y_addr = "127.0.0.1:%d" % py
        procs.start([pt.SHOAL, "get", torrent, "-o", z_dir, "--seed", "--port", "0", "-v",
                     "--peer", l_addr, "--peer", y_addr] + QUIET, z_out)
        told = re.compile(r"pex: told %s of [1-9]" % re.escape(l_addr))
        ok = pt.wait_for(lambda: told.search(pt.read_text(z_out + ".err")), PEX_WITHIN, 0.2)
        checks.check(ok, "Z sends L a ut_pex message")
        ok = pt.wait_for(lambda: "p" in lt_peers(l_out).get(y_addr, ""), PEX_WITHIN, 0.2)
        checks.check(ok, "L connects to Y with PEX as its source (L's peers: %s)" %
                     " ".join("%s/%s" % kv for kv in sorted(lt_peers(l_out).items())))
        ok = pt.wait_for(lambda: pt.same_file(src, os.path.join(y_dir, "pexi.bin")), 60, 0.2)
        checks.check(ok, "Y, which knew no peer, downloads byte-identically")
        if checks.failures:
            for o in (s_out, l_out, x_out, y_out, z_out):
                print("--- " + o)
                print(pt.tail(o + ".err", 25))
                print(pt.tail(o + ".out", 5))
    finally:
        procs.stop_all()
        checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
