#!/usr/bin/python3
"""shoal's UDP tracker client when a tracker forgets its connection ids.

A scripted BEP 15 tracker on loopback answers a seeder's connect and first
announce, then acts as if it had restarted: it forgets every id it gave.
The seeder's scrape, which reuses the cached id, is refused with error
action 3. shoal must take that as a stale id (the id came from its cache),
connect once more and scrape again, rather than fail the scrape; the counts
of that second scrape (7 seeders, 3 leechers, 42 downloaded) must reach the
seeder's totals line. (That the refusal of a freshly given id still fails
the exchange is checked with the broken trackers of tracker_swarm.py.)
"""
import os
import random
import socket
import struct
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools  # noqa: E402

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
procs = peer_tools.Procs()
checks = peer_tools.Checks("tracker udp restart")
check = checks.check



class Tracker:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.issued = set()
        self.restarted = False
        self.log = []  # (action, what happened)

    def serve(self):
        while True:
            try:
                data, addr = self.sock.recvfrom(2048)
            except OSError:
                return
            if len(data) >= 16:
                with self.lock:
                    self.handle(data, addr)

    def handle(self, data, addr):
        cid, action, tid = struct.unpack(">QII", data[:16])
        name = {0: "connect", 1: "announce", 2: "scrape"}.get(action, str(action))
        if action == 0:
            new = random.getrandbits(64)
            self.issued.add(new)
            self.log.append((name, "answered"))
            self.sock.sendto(struct.pack(">IIQ", 0, tid, new), addr)
            return
        if cid not in self.issued:
            self.log.append((name, "refused"))
            self.sock.sendto(struct.pack(">II", 3, tid) + b"bad connection id", addr)
            return
        self.log.append((name, "answered"))
        if action == 1:
            # interval 1800, 0 leechers, 1 seeder, no peers
            self.sock.sendto(struct.pack(">IIIII", 1, tid, 1800, 0, 1), addr)
            if not self.restarted:
                self.restarted = True
                self.issued.clear()
        elif action == 2:
            n = (len(data) - 16) // 20
            self.sock.sendto(struct.pack(">II", 2, tid) + struct.pack(">III", 7, 42, 3) * n,
                             addr)


def main():
    work = tempfile.mkdtemp(prefix="shoal-tracker-udp-restart.")
    tr = Tracker()
    threading.Thread(target=tr.serve, daemon=True).start()
    try:
        url = "udp://127.0.0.1:%d/announce" % tr.port
        seeder, out = peer_tools.start_seeder(procs, work, url, 50 * 1024 + 1)

        def scraped():
            with tr.lock:
                return ("scrape", "answered") in tr.log
        peer_tools.wait_for(scraped, 20, 0.1)
        check(seeder.poll() is None and procs.stop(seeder) == peer_tools.EXIT_TERMINATED,
              "the seeder ran on and exits %d on SIGTERM" % peer_tools.EXIT_TERMINATED)
        with tr.lock:
            log = list(tr.log)
        print("      tracker saw: " + ", ".join("%s %s" % e for e in log))
        want = [("connect", "answered"), ("announce", "answered"), ("scrape", "refused"),
                ("connect", "answered"), ("scrape", "answered")]
        check(log[:5] == want, "a scrape refused for its cached id connects again and is "
              "answered")
        err = peer_tools.read_text(out + ".err")
        totals = peer_tools.totals(err)
        check(totals.get("tracker_seeders") == 7 and totals.get("tracker_leechers") == 3 and
              totals.get("tracker_downloaded") == 42,
              "the second scrape's counts reach the totals line (%r)"
              % {k: v for k, v in totals.items() if k.startswith("tracker_")})
        check("refused" not in err, "the seeder reports no refusal")
    finally:
        procs.stop_all()
        tr.sock.close()
        checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
