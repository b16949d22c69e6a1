#!/usr/bin/python3
"""A connection that chokes us while holding part of a piece must not starve
the honest peers of its host; run by test_poison_stall.sh.

A Python peer says it has every piece, unchokes the leecher, answers its
first request with one good block of a multi-block piece, then chokes it
and only sends keep-alives: without the fast extension its other requests
are simply dropped, so it holds unverified data with nothing outstanding
and is never snubbed. An honest `shoal seed` is reached through a relay
that waits 3 s before connecting, so the stalled peer holds its block
first. Scenarios:
  shared: both on 127.0.0.1, the address every local client shares, where
          trust is kept per peer (endpoint and peer id), not per address;
  host:   both on 127.0.0.2, one host, where trust is per host: only the
          rule that a choking peer with nothing asked holds nothing up lets
          the honest seeder's data in.
In each, `shoal get` must finish within FINISH_S with byte-identical data,
the staller still connected and having sent its one block. Every process is
stopped by PID; every wait is bounded (about 40 s in all).
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools as pt  # noqa: E402

PIECE = 256 * 1024
SIZE = 8 << 20
FINISH_S = 30.0
RELAY_DELAY_S = 3.0

checks = pt.Checks("stall")


def log(text):
    print(text, flush=True)


def relay(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def relay_to(lsock, target, stop):
    """Accepts one connection, waits RELAY_DELAY_S, then relays it to the
    honest seeder's port."""
    lsock.settimeout(10.0)
    try:
        c, _ = lsock.accept()
    except OSError:
        return
    if stop.wait(RELAY_DELAY_S):
        c.close()
        return
    try:
        u = socket.create_connection(("127.0.0.1", target), timeout=5.0)
    except OSError:
        c.close()
        return
    u.settimeout(None)
    c.settimeout(None)
    threading.Thread(target=relay, args=(c, u), daemon=True).start()
    threading.Thread(target=relay, args=(u, c), daemon=True).start()


class Staller:
    def __init__(self, lsock, t, data, stop):
        self.lsock, self.t, self.data, self.stop = lsock, t, data, stop
        self.sent_block = None
        self.alive = False
        self.error = None
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        self.lsock.settimeout(10.0)
        try:
            s, _ = self.lsock.accept()
        except OSError as e:
            self.error = "no connection: %s" % e
            return
        p = pt.Peer(s)
        try:
            p.read_handshake(10)
            p.send(pt.handshake(self.t.infohash, pt.random_peer_id()))
            p.send(pt.bitfield(self.t.full_bitfield()))
            p.wait_msg(pt.INTERESTED, 10)
            p.send(pt.msg(pt.UNCHOKE))
            pl = p.wait_msg(pt.REQUEST, 10)
            idx, begin, ln = struct.unpack(">III", pl[:12])
            off = idx * self.t.piece_length + begin
            p.send(pt.piece(idx, begin, self.data[off:off + ln]))
            p.send(pt.msg(pt.CHOKE))
            self.sent_block = (idx, begin)
            self.alive = True
            while not self.stop.is_set():
                p.send(pt.keepalive())
                self.stop.wait(2.0)
        except (OSError, pt.Closed, socket.timeout, ValueError) as e:
            if self.sent_block is None:
                self.error = "%s: %s" % (type(e).__name__, e)
            self.alive = False
        finally:
            p.close()


def scenario(name, host, work, procs, torrent, t, data, good_port):
    stop = threading.Event()
    la = socket.socket()
    la.bind((host, 0))
    la.listen(4)
    lp = socket.socket()
    lp.bind((host, 0))
    lp.listen(4)
    staller = Staller(la, t, data, stop)
    threading.Thread(target=relay_to, args=(lp, good_port, stop), daemon=True).start()
    out = os.path.join(work, "got-" + name)
    get_out = os.path.join(work, "get-" + name)
    t0 = time.monotonic()
    g = procs.start([pt.SHOAL, "get", torrent, "-o", out, "--port", "0",
                     "--peer", "%s:%d" % (host, la.getsockname()[1]),
                     "--peer", "%s:%d" % (host, lp.getsockname()[1]), "-v"], get_out)
    try:
        rc = g.wait(timeout=FINISH_S)
    except subprocess.TimeoutExpired:
        rc = None
    took = time.monotonic() - t0
    alive = staller.alive
    if rc is None:
        procs.stop(g)
    stop.set()
    la.close()
    lp.close()
    staller.th.join(5.0)
    got = os.path.join(out, "notes.bin")
    checks.check(staller.sent_block is not None,
                 "%s: the staller sent one good block (%s) then choked%s" % (
                     name, staller.sent_block,
                     ": " + staller.error if staller.sent_block is None and staller.error
                     else ""))
    checks.check(rc == 0, "%s: the download finishes (%s)" % (
        name, "%.1f s" % took if rc == 0 else "exit %s after %.1f s" % (rc, took)))
    checks.check(pt.same_file(os.path.join(work, "share", "notes.bin"), got),
                 "%s: downloaded data is byte-identical" % name)
    checks.check(alive, "%s: the staller was still connected at the end" % name)
    if checks.failures:
        log(pt.tail(get_out + ".err", 20))


def main():
    try:
        probe = socket.socket()
        probe.bind(("127.0.0.2", 0))
        probe.close()
    except OSError as e:
        log("SKIP: cannot bind 127.0.0.2 (%s)" % e)
        return 0
    work = tempfile.mkdtemp(prefix="shoal-stall.")
    procs = pt.Procs()
    started = time.monotonic()
    try:
        src = os.path.join(work, "share", "notes.bin")
        os.makedirs(os.path.dirname(src))
        data = os.urandom(SIZE)
        with open(src, "wb") as f:
            f.write(data)
        torrent = os.path.join(work, "notes.torrent")
        r = subprocess.run([pt.SHOAL, "create", src, "-o", torrent, "--piece-size", "256K"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            checks.check(False, "shoal create: " + r.stderr.strip())
            return 1
        t = pt.Torrent(torrent)
        seed_out = os.path.join(work, "seed")
        seed = procs.start([pt.SHOAL, "seed", torrent, "-d", os.path.dirname(src),
                            "--port", "0", "-v"], seed_out)
        good_port = pt.shoal_port(seed_out)
        if not good_port:
            checks.check(False, "honest seeder starts")
            log(pt.tail(seed_out + ".err"))
            return 1
        scenario("shared", "127.0.0.1", work, procs, torrent, t, data, good_port)
        scenario("host", "127.0.0.2", work, procs, torrent, t, data, good_port)
        procs.stop(seed)
    finally:
        procs.stop_all()
        checks.finish(work)
    log("stall: %.1f s" % (time.monotonic() - started))
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
