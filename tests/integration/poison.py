#!/usr/bin/python3
"""Poisoning seeders against a shoal leecher, run by test_poison.sh (mode
"random"), test_poison_reject.sh (mode "reject") and test_poison_shared.sh
(mode "shared").

A Python bad seeder on 127.0.0.2 (a host of its own: bans are by address)
says it has every piece and unchokes whoever is interested.
  random: it answers every request with random bytes of the right length.
  reject: it needs the fast extension (BEP 6); it answers the first block
          asked of each piece with that block corrupted (one byte flipped),
          asks for it again the same, and rejects every other request, so
          each piece it touches mixes its one bad block with good blocks
          from the honest seeder.
  shared: as random, but on 127.0.0.1 next to the honest seeder, an
          address every local client shares, where a ban names one peer
          (its endpoint and peer id); every connection of the bad seeder
          carries one peer id.
Once the leecher has closed a connection to it, it keeps coming back from
127.0.0.2 on new source ports to the leecher's listening port.

An honest `shoal seed` on 127.0.0.1, held to --max-up 2M so the leecher also
asks the bad one, serves the same torrent. `shoal get` with both as --peer
must finish with byte-identical data, ban the bad seeder by address within
two failed pieces (and fail no more than two pieces in all), never ban the
honest seeder, never dial the bad one again, and refuse every one of its
new connections (in mode shared: at the handshake, which names its peer
id). Every process is stopped by PID; every wait is bounded
(about 90 s in all).
"""
import filecmp
import os
import re
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

# 64 pieces of 256 KiB: at 2 MiB/s the honest seeder needs about 8 s.
PIECE = 256 * 1024
PIECES = 64
GOOD_RATE = "2M"
GET_TIMEOUT = 75.0
# The leecher redials a known address 5 s after the last dial.
REDIAL_S = 5.0
BAD_HOST = "127.0.0.2"
# The acceptance bound: failed pieces in all, and before the ban.
MAX_FAILED = 2
# How often the bad seeder comes back once it has been dropped.
RECONNECT_S = 0.3

results = []


def log(text):
    print(text, flush=True)


def record(name, ok, detail=""):
    results.append((name, ok))
    log(("ok    " if ok else "FAIL  ") + name + ("" if ok or not detail else ": " + detail))


class BadSeeder:
    """Serves poisoned data on BAD_HOST, and once dropped dials the leecher
    again and again from new source ports. Records when the leecher dialed
    it, when it closed a connection, and how its own connections went."""

    def __init__(self, torrent, data, mode, host):
        self.host = host
        # One identity across reconnections in mode shared: its peer id is
        # all that tells it apart from the other local peers.
        self.peer_id = pt.random_peer_id() if mode == "shared" else None
        self.t = torrent
        self.data = data
        self.mode = mode
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind((host, 0))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.accepted = []     # monotonic time of each accept (the leecher dialed)
        self.closed = []       # monotonic time the leecher closed a connection
        self.blocks = 0        # poisoned blocks sent
        self.rejects = 0       # requests rejected (mode reject)
        self.redials = 0       # connections it opened to the leecher
        self.redial_answered = []  # of those, times the leecher answered the handshake
        self.chosen = {}       # mode reject: piece -> the block it poisons
        self.errors = []
        self.leecher_port = None
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.accept_loop, daemon=True),
                        threading.Thread(target=self.redial_loop, daemon=True)]
        for th in self.threads:
            th.start()

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
            th = threading.Thread(target=self.serve, args=(conn, False), daemon=True)
            self.threads.append(th)
            th.start()

    def redial_loop(self):
        """Once the leecher has dropped it, connects again from BAD_HOST on a
        new source port every RECONNECT_S; a handshake that gets an answer
        is served like any other connection."""
        while not self.done.wait(RECONNECT_S):
            with self.lock:
                dropped = bool(self.closed)
            if not dropped or not self.leecher_port:
                continue
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(2.0)
            try:
                s.bind((self.host, 0))
                s.connect(("127.0.0.1", self.leecher_port))
            except OSError:
                s.close()
                continue
            with self.lock:
                self.redials += 1
            th = threading.Thread(target=self.serve, args=(s, True), daemon=True)
            self.threads.append(th)
            th.start()

    def my_id(self):
        return self.peer_id or pt.random_peer_id()

    def poisoned(self, index, begin, length):
        if self.mode in ("random", "shared"):
            return os.urandom(length)
        off = index * self.t.piece_length + begin
        block = bytearray(self.data[off:off + length])
        block[length // 2] ^= 0xff
        return bytes(block)

    def on_request(self, p, index, begin, length):
        if self.mode == "reject":
            with self.lock:
                mine = self.chosen.setdefault(index, begin) == begin
            if not mine:
                p.send(pt.request(index, begin, length, pt.REJECT))
                with self.lock:
                    self.rejects += 1
                return
        p.send(pt.piece(index, begin, self.poisoned(index, begin, length)))
        with self.lock:
            self.blocks += 1

    def serve(self, conn, outgoing):
        p = pt.Peer(conn)
        fast = self.mode == "reject"
        try:
            if outgoing:
                p.send(pt.handshake(self.t.infohash, self.my_id(), fast=fast))
                try:
                    reserved, infohash, _ = p.read_handshake(2.0)
                except (socket.timeout, pt.Closed):
                    return  # refused, as it should be
                with self.lock:
                    self.redial_answered.append(time.monotonic())
            else:
                reserved, infohash, _ = p.read_handshake(5.0)
                if infohash != self.t.infohash:
                    self.errors.append("handshake for another infohash")
                    return
                fast = fast and bool(reserved[7] & 0x04)
                p.send(pt.handshake(self.t.infohash, self.my_id(), fast=fast))
            if self.mode == "reject" and not (reserved[7] & 0x04):
                self.errors.append("the leecher does not speak the fast extension")
                return
            p.send(pt.msg(pt.HAVE_ALL) if fast else pt.bitfield(self.t.full_bitfield()))
            while not self.done.is_set():
                try:
                    mid, payload = p.read_msg(0.5)
                except socket.timeout:
                    continue
                if mid == pt.INTERESTED:
                    p.send(pt.msg(pt.UNCHOKE))
                elif mid == pt.REQUEST:
                    self.on_request(p, *struct.unpack(">III", payload))
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


def banned_lines(text, host, port=None, not_port=None):
    """Lines of the leecher's stderr that say an address of host (of port
    only, or of every port but not_port) was banned."""
    pat = re.compile(r" %s:(\d+)" % re.escape(host))
    out = []
    for x in text.splitlines():
        m = pat.search(x)
        if not m or "banned" not in x or "refused" in x:
            continue
        if port is not None and int(m.group(1)) != port:
            continue
        if not_port is not None and int(m.group(1)) == not_port:
            continue
        out.append(x)
    return out


def failed_lines(text):
    """Line numbers of the failed-piece events (the verbose event lines, which
    start with the torrent's name in brackets; the program echoes each)."""
    return [i for i, x in enumerate(text.splitlines())
            if re.match(r"\[[^]]*\] piece \d+ failed its hash check", x)]


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "random"
    if mode not in ("random", "reject", "shared"):
        log("usage: poison.py [random|reject|shared]")
        return 2
    bad_host = "127.0.0.1" if mode == "shared" else BAD_HOST
    try:
        probe = socket.socket()
        probe.bind((bad_host, 0))
        probe.close()
    except OSError as e:
        log("SKIP: cannot bind %s (%s): the poisoner needs an address of its own" %
            (bad_host, e))
        return 0
    work = tempfile.mkdtemp(prefix="shoal-poison.")
    procs = pt.Procs()
    bad = None
    started = time.monotonic()
    try:
        seed_dir = os.path.join(work, "seed")
        os.makedirs(seed_dir)
        src = os.path.join(seed_dir, "poison.bin")
        data = os.urandom(PIECES * PIECE)
        with open(src, "wb") as f:
            f.write(data)
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
        bad = BadSeeder(t, data, mode, bad_host)
        bad_addr = "%s:%d" % (bad_host, bad.port)
        good_addr = "127.0.0.1:%d" % good_port

        out = os.path.join(work, "leech")
        os.makedirs(out)
        get_out = os.path.join(work, "get")
        t0 = time.monotonic()
        # --seed: it stays up after the download, so that however late the
        # ban comes, the test sees it refuse the bad seeder past its redial
        # delay; the test stops it (SIGTERM) and expects exit 143.
        getter = procs.start([pt.SHOAL, "get", torrent, "-o", out, "--port", "0",
                              "--peer", bad_addr, "--peer", good_addr, "--seed", "-v"],
                             get_out)
        bad.leecher_port = pt.shoal_port(get_out)
        # Banned addresses are never dialed again, so once the honest seeder
        # is banned the leecher cannot finish: stop it early, but only after
        # its redial delay has passed since the bad seeder was dropped.
        hopeless_at = finished_at = None
        while getter.poll() is None and time.monotonic() < t0 + GET_TIMEOUT:
            now = time.monotonic()
            text = pt.read_text(get_out + ".err")
            if hopeless_at is None and banned_lines(text, "127.0.0.1", port=good_port):
                hopeless_at = now
                log("      the leecher banned the honest seeder; it cannot finish")
            if finished_at is None and "finished: " in text:
                finished_at = now
            with bad.lock:
                first_close = min(bad.closed) if bad.closed else None
            since = max(x for x in (hopeless_at, finished_at, first_close) if x) \
                if (hopeless_at or finished_at) else None
            if since and now > max(since, first_close or since) + REDIAL_S + 1.5:
                break
            time.sleep(0.1)
        if finished_at is None and hopeless_at is None:
            log("      the leecher did not finish in %.0f s" % GET_TIMEOUT)
        rc = procs.stop(getter)
        t_end = time.monotonic()
        time.sleep(0.3)
        bad.stop()
        procs.stop(good)

        err = pt.read_text(get_out + ".err")
        got = os.path.join(out, "poison.bin")
        same = os.path.exists(got) and filecmp.cmp(got, src, shallow=False)
        record("leecher finishes the download (%s) and exits %d on SIGTERM" %
               ("%.1f s" % (finished_at - t0) if finished_at else "no",
                pt.EXIT_TERMINATED),
               finished_at is not None and rc == pt.EXIT_TERMINATED,
               "exit %s%s" % (rc, ", stopped by the test" if hopeless_at else ""))
        record("downloaded data is byte-identical", same)

        tot = pt.totals(err)
        fails = tot.get("hash_failures", -1)
        record("totals: hash_failures=%s (1..%d) banned=%s" %
               (fails, MAX_FAILED, tot.get("banned")),
               1 <= fails <= MAX_FAILED and tot.get("banned", 0) >= 1,
               "totals line: %r" % tot)
        lines = banned_lines(err, bad_host, not_port=good_port)
        record("stderr names %s as banned" % bad_host, bool(lines))
        if lines:
            log("      " + lines[0])
            text = err.splitlines()
            ban_at_line = text.index(lines[0])
            before = [i for i in failed_lines(err) if i < ban_at_line]
            record("banned after %d failed piece(s) (at most %d)" % (len(before), MAX_FAILED),
                   len(before) <= MAX_FAILED)
        honest = banned_lines(err, "127.0.0.1", port=good_port)
        record("the honest seeder is not banned", not honest, honest[0] if honest else "")
        record("the bad seeder sent poison (%d blocks, %d rejects)" %
               (bad.blocks, bad.rejects), bad.blocks > 0 and
               (mode != "reject" or bad.rejects > 0))
        record("the bad seeder saw no protocol trouble", not bad.errors, "; ".join(bad.errors))

        # The leecher closed the bad seeder's connection, then never let it
        # back: no dial to it, no answer to its own connections.
        with bad.lock:
            accepted = list(bad.accepted)
            closed = list(bad.closed)
            redials = bad.redials
            answered = list(bad.redial_answered)
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
            answered = [a for a in answered if a > ban_at]
            record("the bad seeder came back from new ports %d times, refused each time" %
                   redials, redials >= 1 and not answered,
                   "%d of its connections got a handshake after the ban" % len(answered))
            if mode == "shared":
                # A new port passes the endpoint ban: its peer id is what
                # refuses it.
                by_id = err.count(": banned peer id")
                record("its handshakes were refused by peer id (%d)" % by_id, by_id >= 1)
            # The checks above only mean something if the leecher ran past
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
    log("poison %s: %.1f s" % (mode, time.monotonic() - started))
    log("%d passed, %d failed" % (len(results) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
