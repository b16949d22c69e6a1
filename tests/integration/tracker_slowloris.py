#!/usr/bin/python3
"""Slow HTTP against a running `shoal tracker`.

500 connections (400 from 127.0.0.1, 100 from ten other loopback addresses)
each send the start of an announce one byte every 3 seconds. evhttp's idle
timeout restarts with every byte, so before the tracker bounded whole
requests these were never closed. Now a request must arrive whole within
10 s of the connection's accept, so each is closed at that deadline: not
before 9 s (the bytes keep it alive that long without a deadline of its
own) and not after 13 s. During the attack an honest announce is answered
at once, a kept-alive connection serves two requests, and afterwards the
tracker's descriptor count is back to its baseline and its memory bounded.
Every wait is bounded; the tracker is started here and stopped by PID.
"""
import http.client
import os
import select
import socket
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools as pt  # noqa: E402

CONNS = 500
OTHER_ADDRS = ["127.0.0.%d" % i for i in range(2, 12)]
OTHER_CONNS = 100
DRIP_S = 3.0
DEADLINE_S = 10.0
# Earliest and latest close, in seconds after the connect.
CLOSE_MIN = 9.0
CLOSE_MAX = 13.0
# The whole attack gives up after this long.
ATTACK_MAX = 30.0
IH = "%cc" * 20
PID = "-XX0001-slowslowslow"
PREFIX = ("GET /announce?info_hash=%s&peer_id=%s&port=1 HTTP/1.1\r\nHost: x\r\n"
          % (IH, PID)).encode()

procs = pt.Procs()
checks = pt.Checks("tracker slowloris")
check = checks.check


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def announce(hp, port):
    url = ("http://127.0.0.1:%d/announce?info_hash=%s&peer_id=%s&port=%d&compact=1"
           % (hp, IH, PID, port))
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read() if r.status == 200 else None
    except OSError:
        return None


class Slow:
    """One slowloris connection: its socket, when it connected, how many
    bytes it sent, and when the tracker closed it."""

    def __init__(self, hp, src):
        self.s = socket.socket()
        self.s.bind((src, 0))
        self.s.settimeout(5)
        self.s.connect(("127.0.0.1", hp))
        self.s.setblocking(False)
        self.t0 = time.monotonic()
        self.sent = 0
        self.closed_at = None

    def drip(self):
        try:
            self.s.send(PREFIX[self.sent % len(PREFIX):][:1])
            self.sent += 1
        except OSError:
            self.close()

    def poll(self):
        try:
            if not self.s.recv(4096):
                self.close()
        except BlockingIOError:
            pass
        except OSError:
            self.close()

    def close(self):
        if self.closed_at is None:
            self.closed_at = time.monotonic()
            self.s.close()


def main():
    work = tempfile.mkdtemp(prefix="shoal-tracker-slowloris.")
    slow = []
    try:
        out = os.path.join(work, "tracker")
        tracker = procs.start([pt.SHOAL, "tracker", "--http", "127.0.0.1:0", "--udp",
                               "127.0.0.1:0", "--rate", "100000"], out)
        ports = pt.tracker_ports(out)
        check(ports is not None, "shoal tracker started")
        if not ports:
            print(pt.tail(out + ".err"))
            return 1
        hp = ports[0]
        check(announce(hp, 1) is not None, "an announce before the attack")
        fds0 = fd_count(tracker.pid)
        rss0 = pt.rss_kb(tracker.pid)

        for i in range(CONNS):
            src = OTHER_ADDRS[i % len(OTHER_ADDRS)] if i < OTHER_CONNS else "127.0.0.1"
            slow.append(Slow(hp, src))
        for c in slow:
            c.drip()
        opened = time.monotonic()
        print("      %d slow connections opened over %.1f s"
              % (len(slow), slow[-1].t0 - slow[0].t0), flush=True)

        served = None
        keepalive = None
        next_drip = opened + DRIP_S
        while time.monotonic() - opened < ATTACK_MAX:
            live = [c for c in slow if c.closed_at is None]
            if not live:
                break
            now = time.monotonic()
            if served is None and now - opened > 4.0:
                t = time.monotonic()
                body = announce(hp, 2)
                served = (body is not None and b"8:intervali" in body, time.monotonic() - t)
                try:
                    hc = http.client.HTTPConnection("127.0.0.1", hp, timeout=5)
                    codes = []
                    for _ in range(2):
                        hc.request("GET", "/stats")
                        r = hc.getresponse()
                        r.read()
                        codes.append(r.status)
                    hc.close()
                    keepalive = codes
                except OSError as e:
                    keepalive = str(e)
                continue
            if now >= next_drip:
                for c in live:
                    c.drip()
                next_drip += DRIP_S
                continue
            ready, _, _ = select.select([c.s for c in live], [], [],
                                        min(0.2, max(0.0, next_drip - now)))
            ready = set(ready)
            for c in live:
                if c.s in ready:
                    c.poll()

        closed = [c for c in slow if c.closed_at is not None]
        check(len(closed) == CONNS, "all %d slow connections were closed (%d)"
              % (CONNS, len(closed)))
        if closed:
            life = [c.closed_at - c.t0 for c in closed]
            check(min(life) >= CLOSE_MIN and max(life) <= CLOSE_MAX,
                  "each closed at its %.0f s deadline: after %.1f to %.1f s (bounds %.0f-%.0f)"
                  % (DEADLINE_S, min(life), max(life), CLOSE_MIN, CLOSE_MAX))
            print("      bytes sent per connection: %d to %d"
                  % (min(c.sent for c in slow), max(c.sent for c in slow)), flush=True)
        check(served is not None and served[0] and served[1] < 5.0,
              "an honest announce answered during the attack (%s)" % (served,))
        check(keepalive == [200, 200], "a kept-alive connection served two requests (%s)"
              % (keepalive,))

        back = pt.wait_for(lambda: fd_count(tracker.pid) <= fds0, 10, step=0.2)
        check(back, "descriptors back to %d (now %d)" % (fds0, fd_count(tracker.pid)))
        rss1 = pt.rss_kb(tracker.pid)
        check(rss1 - rss0 < 16 * 1024, "memory grew by %d KB (bound 16 MB)" % (rss1 - rss0))
        stats = urllib.request.urlopen("http://127.0.0.1:%d/stats" % hp, timeout=5).read()
        check(b'"http_expired": ' in stats and
              int(stats.split(b'"http_expired": ')[1].split(b",")[0]) >= CONNS,
              "/stats counts the expired connections: %s" % stats.decode().strip()[-80:])
        check(announce(hp, 3) is not None, "an announce after the attack")
        check(procs.stop(tracker) == 0, "the tracker exits 0 on SIGTERM")
    finally:
        for c in slow:
            c.close()
        procs.stop_all()
        checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
