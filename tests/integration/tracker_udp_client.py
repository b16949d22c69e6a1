#!/usr/bin/python3
"""shoal's UDP tracker client and BEP 15 connection ids, against a scripted
tracker on loopback.

BEP 15: a client may use a connection id until one minute after it got it,
and must ask for a new one once it has expired. The scripted tracker answers
the first announce with an interval of 30 s (the shortest shoal takes), so
the second announce goes out with the cached id, and then loses every
announce that carries that id, as a network may. shoal retransmits (after 3,
15 and 30 s, BEP 15's schedule with a short first step), which takes the id
past its minute. The tracker refuses any request whose id is older than a
minute; shoal must connect again instead and then get its answer.

Takes about 80 seconds: the minute cannot be shortened from outside.
"""
import os
import random
import socket
import struct
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools  # noqa: E402

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
procs = peer_tools.Procs()
checks = peer_tools.Checks("tracker udp client")
check = checks.check
# BEP 15's minute, and a little for the time a datagram takes on loopback.
CONN_ID_LIFE = 60.5



class Tracker:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.issued = {}  # connection id -> when it was given
        self.first_id = None  # the id of the first announce
        self.log = []  # (seconds since start, action, id age or None, what happened)
        self.stale = []  # requests with an id older than a minute
        self.answered = 0  # announces answered
        self.start = time.monotonic()

    def serve(self):
        while True:
            try:
                data, addr = self.sock.recvfrom(2048)
            except OSError:
                return
            if len(data) < 16:
                continue
            cid, action, tid = struct.unpack(">QII", data[:16])
            now = time.monotonic()
            with self.lock:
                self.handle(data, addr, cid, action, tid, now)

    def handle(self, data, addr, cid, action, tid, now):
        t = now - self.start
        name = {0: "connect", 1: "announce", 2: "scrape"}.get(action, str(action))
        if action == 0:
            new = random.getrandbits(64)
            self.issued[new] = now
            self.log.append((t, "connect", None, "answered"))
            self.sock.sendto(struct.pack(">IIQ", 0, tid, new), addr)
            return
        age = now - self.issued[cid] if cid in self.issued else None
        if age is None or age > CONN_ID_LIFE:
            self.stale.append((t, action, age))
            self.log.append((t, name, age, "refused: stale id"))
            self.sock.sendto(struct.pack(">II", 3, tid) + b"connection id expired", addr)
            return
        if action == 2:
            n = (len(data) - 16) // 20
            self.log.append((t, "scrape", age, "answered"))
            self.sock.sendto(struct.pack(">II", 2, tid) + struct.pack(">III", 1, 0, 0) * n,
                             addr)
            return
        if action != 1:
            return
        if self.first_id is None:
            self.first_id = cid
        elif cid == self.first_id:
            self.log.append((t, "announce", age, "lost"))
            return
        self.answered += 1
        self.log.append((t, "announce", age, "answered"))
        # interval 30, 0 leechers, 1 seeder, no peers
        self.sock.sendto(struct.pack(">IIIII", 1, tid, 30, 0, 1), addr)


def main():
    work = tempfile.mkdtemp(prefix="shoal-tracker-udp-client.")
    tr = Tracker()
    threading.Thread(target=tr.serve, daemon=True).start()
    try:
        url = "udp://127.0.0.1:%d/announce" % tr.port
        seeder, out = peer_tools.start_seeder(procs, work, url, 100 * 1024 + 3)

        def settled():
            with tr.lock:
                return tr.answered >= 2 or tr.stale
        peer_tools.wait_for(settled, 110, 0.5)
        with tr.lock:
            log, stale, answered = list(tr.log), list(tr.stale), tr.answered
        for t, action, age, what in log:
            print("      %6.1fs %-8s id age %-6s %s" % (
                t, action, "-" if age is None else "%.1fs" % age, what))
        check(not stale, "no request carries a connection id older than a minute "
              "(stale: %r)" % stale)
        lost = [e for e in log if e[3] == "lost"]
        check(len(lost) >= 3, "the second announce went out with the cached id and was "
              "retransmitted (%d times lost)" % len(lost))
        check(answered >= 2, "after a new connect the second announce got its answer")
        err = peer_tools.read_text(out + ".err")
        check("no answer from the UDP tracker" not in err and "refused" not in err,
              "the seeder saw no failed announce")
        check(seeder.poll() is None and procs.stop(seeder) == peer_tools.EXIT_TERMINATED,
              "the seeder ran on and exits %d on SIGTERM" % peer_tools.EXIT_TERMINATED)
    finally:
        procs.stop_all()
        tr.sock.close()
        checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
