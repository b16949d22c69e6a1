#!/usr/bin/python3
"""Hostile connections against a shoal seeder, run by test_admission.sh
(attackers on 127.0.0.1, the address honest local peers share) and
test_admission_many.sh (attackers spread over 127.0.0.2-201, one host each).

    admission.py one|many

One `shoal seed -v` serves a small torrent. Three attacks run in turn, each
for long enough that its connections meet the seeder's deadlines:

    silent      1,000 connections that never send a byte
    slowloris   500 connections that send their handshake a byte every 3 s
    idle        100 peers that handshake, then send only keep-alives

An attacker holds its connections and, like a persistent one, opens a new
one a few seconds after a deadline closes one (a silent or slowloris one
refused or pushed out sooner is not tried again, so that what is held at
the end of the ramp meets the deadline rather than the churn of newcomers;
an idle peer refused while a loaded seeder is behind on its accept queue
is tried again while fewer than the torrent's 80 are up, so that the idle
peers do fill the torrent). During each attack an
honest `shoal get` must download the torrent byte-identically and verify
its first piece within 10 s of starting. The seeder must close the silent
and slowloris connections within its 10 s handshake deadline and the idle
peers within its 20 s first-message deadline (or sooner, to make room),
with the reasons it logs; and once an attack stops, its descriptor count
(/proc/PID/fd) and resident memory must come back to the baseline taken
after a first honest download. With many addresses, the per-address limits
are then checked one by one (per_address()). Every process is stopped by
PID; every loop and wait is bounded.
"""
import os
import re
import resource
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools as pt  # noqa: E402

# The honest download must verify its first piece this soon after starting.
START_WITHIN = 10.0
# ... and finish this soon (generous: sanitizer builds are slow).
FINISH_WITHIN = 60.0
# The seeder's deadlines (src/session/peer.h) and the tick that applies them.
HANDSHAKE_S = 10.0
FIRST_MESSAGE_S = 20.0
TICK_SLACK_S = 3.0
SANITIZER_TICK_SLACK_S = 12.0
# Extra seconds allowed, past SETTLE_S, for an attack to fill the table.
FILL_WAIT_S = 8.0
# An attack runs this long before the honest download starts: the tables
# are full, and idle peers are older than the seeder's grace for newcomers.
SETTLE_S = 6.0
# An attacker connection the seeder closed after it lived this long (its
# deadline, not a refusal or a newcomer) is opened again REOPEN_S after.
REOPEN_AFTER_LIFE_S = 8.0
REOPEN_S = 5.0
# An idle peer closed sooner than this was refused, not pushed out (that
# takes 5 s); the attack keeps up to IDLE_HELD of them, the torrent's limit.
IDLE_REFUSED_S = 1.0
IDLE_HELD = 80
# New attacker connections per round of its loop (a round lasts up to 0.2 s):
# spread over a second or more, they fill the tables instead of meeting
# them all at once. Idle peers come slower: each must get through the
# half-open table (64) to fill the torrent (80), on a seeder that may run
# under a sanitizer.
OPEN_BURST = {"silent": 50, "slowloris": 50, "idle": 10}
# After an attack: descriptors back within this many of the baseline, and
# resident memory within this many KiB, inside RECOVER_S seconds. A
# sanitizer's allocator keeps freed memory in quarantine instead of giving
# it back: there only a bound is checked.
FD_SLACK = 2
RSS_SLACK_KB = 8 * 1024
SANITIZER_RSS_SLACK_KB = 96 * 1024
RECOVER_S = 15.0
# The torrent: 48 pieces of 64 KiB.
PIECE = 64 * 1024
SIZE = 48 * PIECE - 1000

# Seconds the attacker takes to open its first n connections of kind.
def ramp_s(kind, n):
    return 0.2 * n / OPEN_BURST[kind]


ATTACKS = [
    # (kind, connections, how long the attack lasts at least: past the
    # deadline of the last connection it opens)
    ("silent", 1000, ramp_s("silent", 1000) + HANDSHAKE_S + 2 * TICK_SLACK_S),
    ("slowloris", 500, ramp_s("slowloris", 500) + HANDSHAKE_S + 2 * TICK_SLACK_S),
    ("idle", 100, ramp_s("idle", 100) + FIRST_MESSAGE_S + 2 * TICK_SLACK_S),
]


def log(text):
    print(text, flush=True)


class Attack:
    """n hostile connections of one kind to port, from src(i), kept up by a
    thread until stop(). Records when each was closed by the seeder and how
    long it had lived."""

    def __init__(self, kind, n, port, torrent, src):
        self.kind, self.n, self.port, self.t, self.src = kind, n, port, torrent, src
        self.sel = selectors.DefaultSelector()
        self.slots = [None] * n  # per slot: dict or None
        self.reopen_at = [0.0] * n
        self.opened = 0
        self.closed_by_seeder = 0
        self.max_life = 0.0  # of every connection, closed or still up at stop()
        self.errors = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.started = time.monotonic()

    def start(self):
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.thread.join(10)
        now = time.monotonic()
        for s in self.slots:
            if s and s["up"]:
                self.max_life = max(self.max_life, now - s["since"])
        for i in range(self.n):
            self.drop(i)
        self.sel.close()

    def open_count(self):
        """Connections up now (connected and not closed by the seeder)."""
        return sum(1 for s in list(self.slots) if s and s["up"])

    def drop(self, i):
        s = self.slots[i]
        if not s:
            return
        self.slots[i] = None
        try:
            self.sel.unregister(s["sock"])
        except (KeyError, ValueError):
            pass
        s["sock"].close()

    def open(self, i, now):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.bind((self.src(i), 0))
            sock.connect_ex(("127.0.0.1", self.port))
        except OSError:
            sock.close()
            self.errors += 1
            self.reopen_at[i] = now + REOPEN_S
            return
        self.slots[i] = {"sock": sock, "up": False, "since": now, "sent": 0, "next": now}
        self.sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, i)
        self.opened += 1

    def closed(self, i, now):
        s = self.slots[i]
        life = now - s["since"]
        if s["up"]:
            self.closed_by_seeder += 1
            self.max_life = max(self.max_life, life)
        self.drop(i)
        refused = self.kind == "idle" and life < IDLE_REFUSED_S
        again = s["up"] and (life >= REOPEN_AFTER_LIFE_S or refused)
        self.reopen_at[i] = now + REOPEN_S if again else float("inf")

    def connected(self, i, now):
        s = self.slots[i]
        err = s["sock"].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.drop(i)
            self.reopen_at[i] = now + REOPEN_S
            return
        s["up"], s["since"] = True, now
        self.sel.modify(s["sock"], selectors.EVENT_READ, i)
        hs = pt.handshake(self.t.infohash, pt.random_peer_id())
        if self.kind == "idle":
            s["sock"].send(hs)
            s["next"] = now + 5.0
        elif self.kind == "slowloris":
            s["hs"] = hs

    def pace(self, i, now):
        """Sends what the kind sends when it is due."""
        s = self.slots[i]
        if not s or not s["up"] or now < s["next"]:
            return
        try:
            if self.kind == "slowloris" and s["sent"] < len(s["hs"]):
                s["sock"].send(s["hs"][s["sent"]:s["sent"] + 1])
                s["sent"] += 1
                s["next"] = now + 3.0
            elif self.kind == "idle":
                s["sock"].send(pt.keepalive())
                s["next"] = now + 5.0
        except OSError:
            self.closed(i, now)

    def run(self):
        end = time.monotonic() + 600  # a bound, whatever the caller does
        while not self.stopping.is_set() and time.monotonic() < end:
            now = time.monotonic()
            burst = OPEN_BURST[self.kind]
            if self.kind == "idle":
                # Idle peers retried after a refusal only top the torrent up:
                # past its 80, each would push out one of their own.
                burst = min(burst, max(0, IDLE_HELD - self.open_count()))
            for i in range(self.n):
                if self.slots[i] is None and now >= self.reopen_at[i]:
                    if burst > 0:
                        self.open(i, now)
                        burst -= 1
                else:
                    self.pace(i, now)
            for key, ev in self.sel.select(0.2):
                i = key.data
                s = self.slots[i]
                if not s:
                    continue
                now = time.monotonic()
                if not s["up"]:
                    if ev & selectors.EVENT_WRITE:
                        self.connected(i, now)
                    continue
                try:
                    data = s["sock"].recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.closed(i, now)


def sanitized(path):
    """True when the binary at path carries a sanitizer runtime."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError:
        return False
    return b"__asan_init" in blob or b"__tsan_init" in blob


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def first_piece_time(err_path, t0, proc, timeout):
    """Seconds from t0 until the getter's log names a verified piece, or
    None when it does not within timeout (or the getter exits first)."""
    end = t0 + timeout
    while time.monotonic() < end:
        if re.search(r"\bpiece \d+ verified", pt.read_text(err_path)):
            return time.monotonic() - t0
        if proc.poll() is not None:
            return None
        time.sleep(0.05)
    return None


def honest_get(procs, work, name, torrent, port):
    """Runs `shoal get -v` from the seeder; returns (rc, identical, start
    seconds or None, err path)."""
    out = os.path.join(work, name)
    os.makedirs(out)
    stem = os.path.join(work, name + "-get")
    t0 = time.monotonic()
    p = procs.start([pt.SHOAL, "get", torrent, "-o", out, "--port", "0", "-v",
                     "--peer", "127.0.0.1:%d" % port], stem)
    start = first_piece_time(stem + ".err", t0, p, FINISH_WITHIN)
    rc = procs.wait(p, max(1.0, FINISH_WITHIN - (time.monotonic() - t0)))
    same = pt.same_file(os.path.join(work, "share", "notes.txt"),
                        os.path.join(out, "notes.txt"))
    return rc, same, start, stem + ".err"


def connect_from(src, port):
    """A blocking connection to the seeder from address src."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(5.0)
    sock.bind((src, 0))
    sock.connect(("127.0.0.1", port))
    return pt.Peer(sock)


def per_address(checks, port, t, err_path):
    """The per-address limits one by one, from addresses the attacks did
    not use: 4 half-open connections of one address are kept, more are
    refused while those are young, and a newcomer pushes out the oldest once
    it is past its grace; 4 established peers of one address are kept, a
    fifth is refused with the reason logged."""
    held = []
    for _ in range(4):
        held.append(connect_from("127.0.0.250", port))
        time.sleep(0.05)  # one after the other, to the seeder's clock too
    time.sleep(0.1)
    extra = connect_from("127.0.0.250", port)
    checks.check(extra.wait_closed(2.0) and all(p.is_open(0.0) for p in held),
                 "per address: a fifth half-open connection is refused while four "
                 "young ones wait")
    extra.close()
    time.sleep(1.0)
    oldest = held[0].local_addr()
    newcomer = connect_from("127.0.0.250", port)
    closed = held[0].wait_closed(3.0)
    log_has = pt.wait_for(lambda: "] %s: no handshake yet, and a new connection needs "
                          "the slot" % oldest in pt.read_text(err_path), 3.0)
    checks.check(closed and log_has and newcomer.is_open(0.5),
                 "per address: past its grace, the oldest half-open connection "
                 "gives way to a newcomer of its address")
    for p in held + [newcomer]:
        p.close()

    peers = []
    for _ in range(4):
        p = connect_from("127.0.0.251", port)
        p.send(pt.handshake(t.infohash, pt.random_peer_id()))
        p.read_handshake()
        p.send(pt.msg(pt.INTERESTED))
        peers.append(p)
    fifth = connect_from("127.0.0.251", port)
    addr = fifth.local_addr()
    fifth.send(pt.handshake(t.infohash, pt.random_peer_id()))
    refused = fifth.wait_closed(3.0)
    log_has = pt.wait_for(lambda: "] %s: too many connections from this address" % addr
                          in pt.read_text(err_path), 3.0)
    checks.check(refused and log_has and all(p.is_open(0.2) for p in peers),
                 "per address: a fifth peer of one address is refused, four are kept")
    for p in peers + [fifth]:
        p.close()


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "one"
    if mode == "one":
        src = lambda i: "127.0.0.1"  # noqa: E731
    else:
        src = lambda i: "127.0.0.%d" % (2 + i % 200)  # noqa: E731
    need = max(n for _, n, _ in ATTACKS) + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            print("SKIP  needs %d descriptors, the hard limit is %d" % (need, hard))
            return 0
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))

    rss_slack = SANITIZER_RSS_SLACK_KB if sanitized(pt.SHOAL) else RSS_SLACK_KB
    # A connection's life is timed from the attacker's side, so it includes
    # the wait in the kernel's accept queue, which grows on a sanitized
    # seeder under load; the deadline itself is what the logs check.
    tick_slack = SANITIZER_TICK_SLACK_S if sanitized(pt.SHOAL) else TICK_SLACK_S
    checks = pt.Checks("admission " + mode)
    procs = pt.Procs()
    work = tempfile.mkdtemp(prefix="shoal-admission-")
    try:
        data = os.path.join(work, "share", "notes.txt")
        os.makedirs(os.path.dirname(data))
        with open(data, "wb") as f:
            f.write(os.urandom(SIZE))
        torrent = os.path.join(work, "notes.torrent")
        subprocess.run([pt.SHOAL, "create", data, "-o", torrent, "--piece-size",
                        str(PIECE)], check=True, capture_output=True)
        seed_stem = os.path.join(work, "seed")
        seeder = procs.start([pt.SHOAL, "seed", torrent, "-d", os.path.dirname(data),
                              "--port", "0", "-v"], seed_stem)
        port = pt.shoal_port(seed_stem)
        checks.check(port is not None, "seeder listens")
        if port is None:
            log(pt.tail(seed_stem + ".err"))
            return 1
        t = pt.Torrent(torrent)

        # A first download opens what serving keeps open: the baseline.
        rc, same, start, err = honest_get(procs, work, "warmup", torrent, port)
        checks.check(rc == 0 and same, "honest download before any attack")
        if not (rc == 0 and same):
            log(pt.tail(err))
        time.sleep(1.5)
        base_fd, base_rss = fd_count(seeder.pid), pt.rss_kb(seeder.pid)
        log("      baseline: %s descriptors, %s KiB resident" % (base_fd, base_rss))

        for kind, n, lasts in ATTACKS:
            what = "%d %s connections from %s" % (
                n, kind, "127.0.0.1" if mode == "one" else "200 addresses")
            a = Attack(kind, n, port, t, src)
            a.start()
            # Past the settling time, wait a little more (bounded) for the
            # table to fill on a loaded machine.
            time.sleep(SETTLE_S)
            full = 78 if kind == "idle" else 62
            fill_until = time.monotonic() + FILL_WAIT_S
            while a.open_count() < full and time.monotonic() < fill_until:
                time.sleep(0.2)
            held = a.open_count()
            peak_fd = fd_count(seeder.pid)
            rc, same, start, err = honest_get(procs, work, kind, torrent, port)
            checks.check(rc == 0 and same,
                         "%s: an honest download finishes byte-identical (exit %s)" % (
                             what, rc))
            checks.check(start is not None and start <= START_WITHIN,
                         "%s: it starts within %.0f s (first piece after %s s)" % (
                             what, START_WITHIN,
                             "%.1f" % start if start is not None else "never"))
            if not (rc == 0 and same and start is not None and start <= START_WITHIN):
                log(pt.tail(err))
            left = lasts - (time.monotonic() - a.started)
            if left > 0:
                time.sleep(left)
            a.stop()
            log("      %s: %d held after %.0f s, seeder had %s descriptors; %d opened, "
                "%d closed by the seeder, longest lived %.1f s" % (
                    kind, held, SETTLE_S, peak_fd, a.opened, a.closed_by_seeder,
                    a.max_life))
            # The attack was real: it held connections the seeder had taken in.
            # The attack was real: it filled the table the seeder had (64
            # half-open connections; 80 peers in the torrent).
            checks.check(held >= full and peak_fd > base_fd + full,
                         "%s: the attack filled the seeder's table (%d held)" % (what, held))
            # Both ways out are taken: the newcomer made room, and the
            # deadline closed the rest.
            if kind == "idle":
                limit = FIRST_MESSAGE_S + tick_slack
                reasons = ("nothing but keep-alives for 20 s after the handshake",
                           "idle: made room for a new peer")
            else:
                limit = HANDSHAKE_S + tick_slack
                reasons = ("no handshake within 10 s",
                           "no handshake yet, and a new connection needs the slot")
            checks.check(0 < a.max_life <= limit,
                         "%s: the seeder closed each within %.0f s (longest lived %.1f s)" % (
                             what, limit, a.max_life))
            text = pt.read_text(seed_stem + ".err")
            checks.check(all(r in text for r in reasons),
                         "%s: the seeder logged why (%s)" % (what, " / ".join(reasons)))

            ok = pt.wait_for(lambda: (fd_count(seeder.pid) or 0) <= base_fd + FD_SLACK and
                             (pt.rss_kb(seeder.pid) or 0) <= base_rss + rss_slack,
                             RECOVER_S, step=0.25)
            fd, rss = fd_count(seeder.pid), pt.rss_kb(seeder.pid)
            checks.check(ok, "%s: afterwards the seeder is back to %s descriptors "
                         "(baseline %s) and %s KiB (baseline %s, slack %d)" % (
                             what, fd, base_fd, rss, base_rss, rss_slack))
            checks.check(seeder.poll() is None, "%s: the seeder is alive" % what)
            if seeder.poll() is not None:
                log(pt.tail(seed_stem + ".err"))
                break

        if mode == "many" and seeder.poll() is None:
            per_address(checks, port, t, seed_stem + ".err")

        rc = procs.stop(seeder)
        checks.check(rc == pt.EXIT_TERMINATED, "seeder exits %d on SIGTERM (exit %s)"
                     % (pt.EXIT_TERMINATED, rc))
    finally:
        procs.stop_all()
        checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
