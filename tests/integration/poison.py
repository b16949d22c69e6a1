#!/usr/bin/python3
"""A poisoning seeder against a shoal leecher, run by test_poison.sh.

A Python "bad seeder" on 127.0.0.1 says it has every piece, unchokes
whoever is interested and answers every request with random bytes of the
right length. An honest `shoal seed`, held to --max-up 2M so the leecher
also asks the bad one, serves the same torrent. `shoal get` with both as
--peer must finish with byte-identical data, count hash failures, ban the
bad seeder by address, close its connection and never dial it again.
Every process is stopped by PID; every wait is bounded (about 90 s in all).
"""
import filecmp
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools as pt  # noqa: E402

# 64 pieces of 256 KiB: at 2 MiB/s the honest seeder needs about 8 s, long
# enough for the leecher's first redial (5 s after a dial) to show.
PIECE = 256 * 1024
SIZE = 64 * PIECE
GOOD_RATE = "2M"
GET_TIMEOUT = 75.0
# The leecher redials a known address 5 s after the last dial.
REDIAL_S = 5.0

results = []


def log(text):
    print(text, flush=True)


def record(name, ok, detail=""):
    results.append((name, ok))
    log(("ok    " if ok else "FAIL  ") + name + ("" if ok or not detail else ": " + detail))


class BadSeeder:
    """Accepts connections on a free port and answers requests with random
    bytes. Records when each connection was accepted and when the other
    side closed it."""

    def __init__(self, torrent):
        self.t = torrent
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.accepted = []    # monotonic time of each accept
        self.closed = []      # monotonic time the leecher closed a connection
        self.blocks = 0       # random blocks sent
        self.errors = []
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.accept_loop, daemon=True)]
        self.threads[0].start()

    def accept_loop(self):
        while not self.done.is_set():
            try:
                conn, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.accepted.append(time.monotonic())
            th = threading.Thread(target=self.serve, args=(conn,), daemon=True)
            self.threads.append(th)
            th.start()

    def serve(self, conn):
        p = pt.Peer(conn)
        try:
            reserved, infohash, _ = p.read_handshake(5.0)
            if infohash != self.t.infohash:
                self.errors.append("handshake for another infohash")
                return
            fast = bool(reserved[7] & 0x04)
            p.send(pt.handshake(self.t.infohash, pt.random_peer_id(), fast=fast))
            p.send(pt.msg(pt.HAVE_ALL) if fast else pt.bitfield(self.t.full_bitfield()))
            while not self.done.is_set():
                try:
                    mid, payload = p.read_msg(0.5)
                except socket.timeout:
                    continue
                if mid == pt.INTERESTED:
                    p.send(pt.msg(pt.UNCHOKE))
                elif mid == pt.REQUEST:
                    index, begin, length = struct.unpack(">III", payload)
                    p.send(pt.piece(index, begin, os.urandom(length)))
                    with self.lock:
                        self.blocks += 1
        except pt.Closed:
            with self.lock:
                self.closed.append(time.monotonic())
        except (OSError, ValueError) as e:
            self.errors.append("%s: %s" % (type(e).__name__, e))
        finally:
            p.close()

    def stop(self):
        self.done.set()
        self.lsock.close()
        for th in self.threads:
            th.join(5.0)


def banned_line(text, addr):
    return next((x for x in text.splitlines() if "%s: banned" % addr in x), None)


def main():
    work = tempfile.mkdtemp(prefix="shoal-poison.")
    procs = pt.Procs()
    bad = None
    started = time.monotonic()
    try:
        seed_dir = os.path.join(work, "seed")
        os.makedirs(seed_dir)
        src = os.path.join(seed_dir, "poison.bin")
        with open(src, "wb") as f:
            f.write(os.urandom(SIZE))
        torrent = os.path.join(work, "poison.torrent")
        r = subprocess.run([pt.SHOAL, "create", src, "-o", torrent, "--piece-size", "256K"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            record("shoal create", False, r.stderr.strip())
            return 1
        t = pt.Torrent(torrent)

        seed_out = os.path.join(work, "good")
        good = procs.start([pt.SHOAL, "seed", torrent, "-d", seed_dir, "--port", "0",
                            "--max-up", GOOD_RATE, "-v"], seed_out)
        good_port = pt.shoal_port(seed_out)
        state = pt.shoal_state(seed_out)
        if not good_port or not state or "seeding" not in state:
            record("honest seeder starts", False, "port %s, %r" % (good_port, state))
            log(pt.tail(seed_out + ".err"))
            return 1
        bad = BadSeeder(t)
        bad_addr = "127.0.0.1:%d" % bad.port
        good_addr = "127.0.0.1:%d" % good_port

        out = os.path.join(work, "leech")
        os.makedirs(out)
        get_out = os.path.join(work, "get")
        t0 = time.monotonic()
        getter = procs.start([pt.SHOAL, "get", torrent, "-o", out, "--port", "0",
                              "--peer", bad_addr, "--peer", good_addr, "-v"], get_out)
        # Banned addresses are never dialed again, so once the honest seeder
        # is banned the leecher cannot finish: stop it early, but only after
        # its redial delay has passed since the bad seeder was dropped.
        hopeless_at = None
        while getter.poll() is None and time.monotonic() < t0 + GET_TIMEOUT:
            now = time.monotonic()
            if hopeless_at is None and banned_line(pt.read_text(get_out + ".err"),
                                                   good_addr):
                hopeless_at = now
                log("      the leecher banned the honest seeder; it cannot finish")
            if hopeless_at is not None:
                with bad.lock:
                    first_close = min(bad.closed) if bad.closed else now
                if now > max(hopeless_at + 2.0, first_close + REDIAL_S + 1.5):
                    break
            time.sleep(0.1)
        if getter.poll() is None and hopeless_at is None:
            log("      the leecher did not finish in %.0f s" % GET_TIMEOUT)
        rc = procs.stop(getter)
        t_end = time.monotonic()
        time.sleep(0.3)
        bad.stop()
        procs.stop(good)

        err = pt.read_text(get_out + ".err")
        got = os.path.join(out, "poison.bin")
        same = os.path.exists(got) and filecmp.cmp(got, src, shallow=False)
        record("leecher finishes with exit 0 (%.1f s)" % (t_end - t0), rc == 0,
               "exit %s%s" % (rc, ", stopped by the test" if hopeless_at else ""))
        record("downloaded data is byte-identical", same)

        tot = pt.totals(err)
        record("totals: hash_failures=%s banned=%s" % (tot.get("hash_failures"),
                                                       tot.get("banned")),
               tot.get("hash_failures", 0) >= 1 and tot.get("banned", 0) >= 1,
               "totals line: %r" % tot)
        line = banned_line(err, bad_addr)
        record("stderr names %s as banned" % bad_addr, line is not None)
        if line:
            log("      " + line)
        record("the honest seeder is not banned", banned_line(err, good_addr) is None,
               banned_line(err, good_addr) or "")
        record("the bad seeder sent garbage (%d blocks)" % bad.blocks, bad.blocks > 0)
        record("the bad seeder saw no protocol trouble", not bad.errors, "; ".join(bad.errors))

        # The leecher closed the bad seeder's connection, then never came back.
        with bad.lock:
            accepted = list(bad.accepted)
            closed = list(bad.closed)
        record("the leecher dialed the bad seeder (%d connection%s)" %
               (len(accepted), "" if len(accepted) == 1 else "s"), len(accepted) >= 1)
        # A close at the leecher's exit does not count: it must come while
        # the leecher still runs.
        ban_at = min(closed) if closed else None
        if ban_at is not None and ban_at + 0.5 >= t_end:
            ban_at = None
        record("the leecher closed the bad seeder's connection%s" %
               (" %.1f s in" % (ban_at - t0) if ban_at else " while running"),
               ban_at is not None)
        if ban_at is not None:
            again = [a for a in accepted if a > ban_at]
            record("no connection to the bad seeder after the ban", not again,
                   "%d later connection(s), first %.1f s after the ban" %
                   (len(again), (again[0] - ban_at) if again else 0))
            # The check above only means something if the leecher ran past
            # its redial delay after the ban.
            record("the leecher ran %.1f s past the ban (redial after %.0f s)" %
                   (t_end - ban_at, REDIAL_S), t_end - ban_at > REDIAL_S + 0.5)
        if results and not all(ok for _, ok in results):
            log("      leecher stderr:")
            log(pt.tail(get_out + ".err", 25))
    finally:
        if bad:
            bad.stop()
        procs.stop_all()
        failed = [n for n, ok in results if not ok]
        if failed:
            log("work folder kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    log("poison: %.1f s" % (time.monotonic() - started))
    log("%d passed, %d failed" % (len(results) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
