#!/usr/bin/python3
"""Peer exchange between three shoal nodes on loopback, run by
test_pex_swarm.sh.

A seeds (with --no-pex, so it tells nobody anything); B downloads from A,
the only peer it is given; C is given only B. No tracker, no DHT, no local
discovery: the one way C can hear of A is B's ut_pex message. C must log
the peers it took from B, dial A itself, and finish byte-identically; B
must never send A a ut_pex message (A did not offer ut_pex). Every process
is stopped by PID; every wait is bounded.
"""
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools as pt  # noqa: E402

SIZE = 3 * 1024 * 1024 + 4321
# B's first message to C goes out on B's tick after C's extension
# handshake: a few seconds, with room for a slow sanitizer build.
PEX_WITHIN = 30.0
NOT_DISCOVERY = ["--no-dht", "--no-lsd"]


def main():
    checks = pt.Checks("pex_swarm")
    work = tempfile.mkdtemp(prefix="shoal-pex.")
    procs = pt.Procs()
    try:
        src, torrent = pt.make_torrent(work, "a", "pex.bin", SIZE, piece_size="64K")
        src_dir = os.path.dirname(src)
        pa, pb, pc = pt.free_port(), pt.free_port(), pt.free_port()
        while len({pa, pb, pc}) < 3:
            pb, pc = pt.free_port(), pt.free_port()
        a_out, b_out, c_out = (os.path.join(work, x) for x in ("A", "B", "C"))
        a = procs.start([pt.SHOAL, "seed", torrent, "-d", src_dir, "--port", str(pa), "-v",
                         "--no-pex"] + NOT_DISCOVERY, a_out)
        checks.check(pt.shoal_port(a_out) == pa, "A listens on %d" % pa)
        b_dir, c_dir = os.path.join(work, "b"), os.path.join(work, "c")
        os.makedirs(b_dir)
        os.makedirs(c_dir)
        b = procs.start([pt.SHOAL, "get", torrent, "-o", b_dir, "--seed", "--port", str(pb),
                         "-v", "--peer", "127.0.0.1:%d" % pa] + NOT_DISCOVERY, b_out)
        a_addr = "127.0.0.1:%d" % pa
        b_to_a = pt.wait_for(lambda: "%s: outgoing" % a_addr in pt.read_text(b_out + ".err"),
                             20)
        checks.check(b_to_a, "B connects to A")
        c = procs.start([pt.SHOAL, "get", torrent, "-o", c_dir, "--seed", "--port", str(pc),
                         "-v", "--peer", "127.0.0.1:%d" % pb] + NOT_DISCOVERY, c_out)
        pex_re = re.compile(r"pex: (\d+) peers from 127\.0\.0\.1:%d " % pb)

        def pex_lines():
            return [m for m in (pex_re.search(x) for x in
                                pt.read_text(c_out + ".err").splitlines()) if m]
        got_pex = pt.wait_for(lambda: any(int(m.group(1)) >= 1 for m in pex_lines()),
                              PEX_WITHIN, 0.2)
        checks.check(got_pex, "C takes A from B's ut_pex message")
        c_to_a = pt.wait_for(lambda: "%s: outgoing" % a_addr in pt.read_text(c_out + ".err"),
                             20)
        checks.check(c_to_a, "C dials A, whom it was never given")
        done = pt.wait_for(lambda: pt.same_file(src, os.path.join(c_dir, "pex.bin")), 60, 0.2)
        checks.check(done, "C's copy is byte-identical")
        b_err = pt.read_text(b_out + ".err")
        # C dialed B, so B names C by the connection's source port.
        checks.check(re.search(r"pex: told 127\.0\.0\.1:\d+ of 1 peers", b_err) is not None,
                     "B logs its message to C")
        checks.check("pex: told %s" % a_addr not in b_err,
                     "B sends A (which runs --no-pex) no ut_pex message")
        checks.check("pex:" not in pt.read_text(a_out + ".err"),
                     "A neither sends nor reads ut_pex")
        for name, p in (("A", a), ("B", b), ("C", c)):
            checks.check(p.poll() is None, "%s still runs" % name)
        if checks.failures:
            for o in (a_out, b_out, c_out):
                print(o)
                print(pt.tail(o + ".err", 30))
    finally:
        procs.stop_all()
        checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
