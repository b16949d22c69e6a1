#!/usr/bin/python3
"""Hostile input to a running `shoal tracker`, over HTTP and UDP (BEP 15).

Each malformed request gets the protocol's refusal with the exact reason
(HTTP: a bencoded `failure reason`; UDP: action 3 with a message) or is
dropped, and the tracker keeps serving: after all of it an honest announce
still works, /stats answers, and its memory has not grown past a bound.
Every request is bounded: a few hundred packets, five-second timeouts.
"""
import os
import random
import socket
import struct
import sys
import tempfile
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools  # noqa: E402

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
procs = peer_tools.Procs()
checks = peer_tools.Checks("tracker hostile")
check = checks.check
IH = "%aa" * 20
PID = "-XX0001-abcdefghijkl"
MAGIC = 0x41727101980



def http_get(hp, target, headers=None):
    """(status, body) of GET target; a server that closes without an answer
    gives (None, b"")."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (hp, target), headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, ConnectionError):
        return None, b""


def raw_tcp(hp, data):
    """Sends data on a fresh connection; returns what came back before the
    server closed (or five seconds passed)."""
    s = socket.create_connection(("127.0.0.1", hp), timeout=5)
    got = b""
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except (socket.timeout, ConnectionError):
        pass
    finally:
        s.close()
    return got


def failure(reason):
    r = reason.encode()
    return b"d14:failure reason%d:%se" % (len(r), r)


def check_http(hp):
    cases = [
        ("bad percent escape", "/announce?info_hash=%zz", "bad percent escape"),
        ("no info_hash", "/announce?peer_id=%s&port=1" % PID, "info_hash missing"),
        ("3-byte info_hash", "/announce?info_hash=abc&peer_id=%s&port=1" % PID,
         "info_hash decodes to 3 bytes, want 20"),
        ("no peer_id", "/announce?info_hash=%s&port=1" % IH, "peer_id missing"),
        ("port 0", "/announce?info_hash=%s&peer_id=%s&port=0" % (IH, PID), "port 0"),
        ("port 70000", "/announce?info_hash=%s&peer_id=%s&port=70000" % (IH, PID),
         "port above 65535"),
        ("unknown event", "/announce?info_hash=%s&peer_id=%s&port=1&event=bogus" % (IH, PID),
         "unknown event"),
        ("scrape with a bad escape", "/scrape?info_hash=%zz", "bad percent escape"),
    ]
    for name, target, reason in cases:
        status, body = http_get(hp, target)
        check(status == 200 and body == failure(reason),
              "HTTP %s: failure reason %r (got %s %r)" % (name, reason, status, body[:80]))

    # A huge numwant is capped, not obeyed: 300 peers join, one asks for 10^12.
    for i in range(300):
        http_get(hp, "/announce?info_hash=%s&peer_id=-XX0001-%012d&port=%d&left=1"
                 % (IH, i, 1000 + i))
    status, body = http_get(hp, "/announce?info_hash=%s&peer_id=%s&port=9&compact=1"
                            "&numwant=1000000000000" % (IH, PID))
    d = peer_tools.bdecode(body)[0] if status == 200 else {}
    n = len(d.get(b"peers", b"")) // 6
    check(0 < n <= 200, "HTTP numwant=10^12 gets at most 200 peers (got %d)" % n)

    status, _ = http_get(hp, "/announce?" + "a" * 20000)
    check(status in (400, 414) or status is None, "HTTP a 20 KB URL is refused (%s)" % status)
    status, _ = http_get(hp, "/announce?info_hash=" + IH, {"X-Big": "b" * 20000})
    check(status in (400, 431) or status is None,
          "HTTP a 20 KB header is refused (%s)" % status)
    got = raw_tcp(hp, os.urandom(4096))
    check(not got.startswith(b"HTTP/1.1 200"), "HTTP random bytes get no announce reply")
    honest = ("GET /announce?info_hash=%s&peer_id=%s&port=5 HTTP/1.1\r\n" % (IH, PID)).encode()
    got = raw_tcp(hp, honest + b"X: y\r\n" * 20000 + b"\r\n")
    check(not got.startswith(b"HTTP/1.1 200"),
          "HTTP 20000 header lines are refused (%r)" % got[:40])


def udp(up, packet, wait=1.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(wait)
    try:
        s.sendto(packet, ("127.0.0.1", up))
        return s.recv(65536)
    except socket.timeout:
        return None
    finally:
        s.close()


def udp_connect(s, up):
    tid = random.getrandbits(32)
    s.sendto(struct.pack(">QII", MAGIC, 0, tid), ("127.0.0.1", up))
    action, rtid, cid = struct.unpack(">IIQ", s.recv(2048)[:16])
    return cid if action == 0 and rtid == tid else None


def announce_packet(cid, tid, port=6881):
    return struct.pack(">QII20s20sQQQIIIiH", cid, 1, tid, b"\xbb" * 20, PID.encode(), 0, 1, 0,
                       0, 0, 0, 50, port)


def is_error(reply, tid):
    return (reply is not None and len(reply) >= 8 and
            struct.unpack(">II", reply[:8]) == (3, tid))


def check_udp(up):
    check(udp(up, os.urandom(7)) is None, "UDP a 7-byte packet is dropped")
    reply = udp(up, struct.pack(">QII", 12345, 0, 77))
    check(reply is None or is_error(reply, 77),
          "UDP a connect without the protocol magic is dropped or refused (%r)" % reply)
    tid = 0x01020304
    reply = udp(up, announce_packet(0xdeadbeefdeadbeef, tid))
    check(is_error(reply, tid) and b"connection id" in reply[8:],
          "UDP an announce with a forged connection id gets error action 3 (%r)" % reply)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    try:
        cid = udp_connect(s, up)
        check(cid is not None, "UDP connect gives a connection id")
        tid = 0x0a0b0c0d
        s.sendto(announce_packet(cid, tid)[:50], ("127.0.0.1", up))
        reply = s.recv(2048)
        check(is_error(reply, tid), "UDP a truncated announce gets error action 3 (%r)" % reply)
        tid = 0x0e0f1011
        s.sendto(struct.pack(">QII", cid, 9, tid) + b"\0" * 90, ("127.0.0.1", up))
        reply = s.recv(2048)
        check(is_error(reply, tid), "UDP an unknown action gets error action 3 (%r)" % reply)
        tid = 0x12131415
        s.sendto(announce_packet(cid, tid, port=0), ("127.0.0.1", up))
        reply = s.recv(2048)
        check(is_error(reply, tid) and b"port" in reply[8:],
              "UDP an announce with port 0 gets error action 3 (%r)" % reply)
        tid = 0x16171819
        s.sendto(struct.pack(">QII", cid, 2, tid) + b"\xcc" * 20 * 200, ("127.0.0.1", up))
        reply = s.recv(65536)
        ok = reply is not None and (is_error(reply, tid) or
                                    (struct.unpack(">II", reply[:8]) == (2, tid) and
                                     len(reply) <= 8 + 12 * 74))
        check(ok, "UDP a scrape of 200 infohashes is refused or cut to BEP 15's 74")
        # Random packets from one address: bounded, and nothing may crash it.
        for _ in range(300):
            s.sendto(os.urandom(random.randint(0, 1500)), ("127.0.0.1", up))
        s.sendto(os.urandom(65000), ("127.0.0.1", up))
    finally:
        s.close()


def main():
    work = tempfile.mkdtemp(prefix="shoal-tracker-hostile.")
    try:
        out = os.path.join(work, "tracker")
        tracker = procs.start([SHOAL, "tracker", "--http", "127.0.0.1:0", "--udp",
                               "127.0.0.1:0", "--rate", "100000"], out)
        ports = peer_tools.tracker_ports(out)
        check(ports is not None, "shoal tracker started")
        if not ports:
            return 1
        hp, up = ports
        rss0 = peer_tools.rss_kb(tracker.pid)
        check_http(hp)
        check_udp(up)

        # Still serving honest clients, over both protocols.
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        try:
            cid = udp_connect(s, up)
            tid = 0x55667788
            s.sendto(announce_packet(cid, tid), ("127.0.0.1", up))
            reply = s.recv(2048)
            check(struct.unpack(">II", reply[:8]) == (1, tid),
                  "UDP an honest announce still gets its reply")
        finally:
            s.close()
        status, body = http_get(hp, "/announce?info_hash=%s&peer_id=%s&port=7&compact=1"
                                % (IH, PID))
        check(status == 200 and b"8:intervali" in body,
              "HTTP an honest announce still gets its reply")
        status, body = http_get(hp, "/stats")
        check(status == 200 and b'"swarms": 2' in body, "/stats answers: %r" % body[:60])
        rss1 = peer_tools.rss_kb(tracker.pid)
        check(rss1 - rss0 < 16 * 1024, "memory grew by %d KB (bound 16 MB)" % (rss1 - rss0))
        check(procs.stop(tracker) == 0, "the tracker exits 0 on SIGTERM")
    finally:
        procs.stop_all()
        checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
