#!/usr/bin/python3
"""shoal's HTTP tracker client against a scripted tracker on loopback.

The scripted tracker answers by path: /garbage/ with bytes that are not
bencode, /fail/ with a failure reason, /redirect/X with a 302 to /good/X, and
/good/ with the seeder's address, a tracker id, a warning and counts. It
records every request. A shoal seeder has a torrent without trackers; the
leecher's torrent has the same infohash and two tiers: [garbage, fail] and
[redirect]. The leecher must

  - try both broken trackers of the first tier, say why each failed, and go
    on to the second tier (BEP 12), following the redirect;
  - announce started with every field a tracker needs, echo the tracker id,
    show the warning, announce completed with left=0 and stopped on exit;
  - finish byte-identical.

Then HTTPS: a leecher whose only tracker is https://127.0.0.1 finishes through
it when CURL_CA_BUNDLE names the tracker's self-signed certificate, and a
leecher without it refuses the certificate (it gets its data from --peer).
"""
import http.server
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools  # noqa: E402

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
procs = peer_tools.Procs()
checks = peer_tools.Checks("tracker client")
check = checks.check
WARNING = "tracker maintenance at noon"
TRACKER_ID = "tid-42"



class ScriptedTracker(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, seeder_port):
        super().__init__(("127.0.0.1", 0), Handler)
        self.seeder_port = seeder_port
        self.requests = []
        self.lock = threading.Lock()

    def record(self, path, query):
        with self.lock:
            self.requests.append((path, query))

    def seen(self, prefix):
        with self.lock:
            return [q for p, q in self.requests if p.startswith(prefix)]


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path, _, qs = self.path.partition("?")
        # info_hash and peer_id are raw bytes: decode the escapes as latin-1.
        query = {k.encode("latin-1"): v[0].encode("latin-1") for k, v in
                 urllib.parse.parse_qs(qs, encoding="latin-1").items()}
        self.server.record(path, query)
        if path.startswith("/garbage/"):
            self.reply(200, b"<html>not a tracker</html>")
        elif path.startswith("/fail/"):
            self.reply(200, peer_tools.bencode({"failure reason": "torrent not registered"}))
        elif path.startswith("/redirect/"):
            target = "/good/" + path[len("/redirect/"):]
            self.reply(302, b"", [("Location", target + "?" + qs)])
        elif path == "/good/announce":
            peer = bytes([127, 0, 0, 1]) + self.server.seeder_port.to_bytes(2, "big")
            self.reply(200, peer_tools.bencode({
                "interval": 1800, "min interval": 60, "complete": 1, "incomplete": 1,
                "peers": peer, "tracker id": TRACKER_ID, "warning message": WARNING}))
        elif path == "/good/scrape":
            ih = query.get(b"info_hash", b"")
            self.reply(200, peer_tools.bencode({"files": {ih: {
                "complete": 1, "incomplete": 1, "downloaded": 0}}}))
        else:
            self.reply(404, b"")


def serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def make_cert(work):
    key, cert = os.path.join(work, "key.pem"), os.path.join(work, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return key, cert


def wait_get(p, out):
    procs.wait(p, 60)
    return peer_tools.read_text(out + ".err")


def check_tiers(work, data, torrent, size, ih, tracker, tp):
    base = "http://127.0.0.1:%d" % tp
    leech_torrent = os.path.join(work, "tiers.torrent")
    subprocess.run([SHOAL, "create", data, "-o", leech_torrent, "--piece-size", "64K",
                    "-t", "%s/garbage/announce,%s/fail/announce" % (base, base),
                    "-t", "%s/redirect/announce" % base], check=True, capture_output=True)
    out = os.path.join(work, "leech-tiers")
    p = procs.start([SHOAL, "get", leech_torrent, "-o", out, "--port", "0",
                     "--exit-when-done"], out)
    err = wait_get(p, out)
    got = os.path.join(out, os.path.basename(data))
    check(p.returncode == 0 and peer_tools.same_file(data, got),
          "tiers: the leecher finished byte-identical (exit %s)" % p.returncode)
    check(len(tracker.seen("/garbage/")) >= 1 and len(tracker.seen("/fail/")) >= 1,
          "tiers: both trackers of the first tier were tried")
    check("tracker %s/garbage/announce: bad reply (HTTP 200)" % base in err,
          "tiers: the garbage reply is reported as that tracker's error")
    check("tracker %s/fail/announce: refused: torrent not registered" % base in err,
          "tiers: the failure reason is shown")
    check(WARNING in err, "tiers: the tracker's warning is shown")
    good = tracker.seen("/good/announce")
    check(len(tracker.seen("/redirect/")) >= 1 and len(good) >= 1,
          "tiers: the second tier answered through its redirect (%d announces)" % len(good))
    if not good:
        print(peer_tools.tail(out + ".err"))
        return
    first, port = good[0], peer_tools.shoal_port(out)
    check(first.get(b"event") == b"started", "tiers: the first announce says started")
    check(first.get(b"info_hash") == ih and len(first.get(b"peer_id", b"")) == 20,
          "tiers: info_hash is the torrent's and peer_id has 20 bytes")
    check(first.get(b"port") == str(port).encode() and first.get(b"compact") == b"1",
          "tiers: port is the leecher's (%s) and compact=1" % port)
    check(first.get(b"left") == str(size).encode() and first.get(b"uploaded") == b"0"
          and first.get(b"downloaded") == b"0",
          "tiers: left=%d uploaded=0 downloaded=0 at start" % size)
    check(int(first.get(b"numwant", b"0")) > 0 and len(first.get(b"key", b"")) >= 4,
          "tiers: numwant and key are sent")
    check(b"trackerid" not in first and all(q.get(b"trackerid") == TRACKER_ID.encode()
                                            for q in good[1:]),
          "tiers: the tracker id is echoed after the first reply")
    events = [q.get(b"event", b"") for q in good]
    check(events.count(b"completed") == 1 and events[-1] == b"stopped",
          "tiers: completed once, stopped last (events: %s)" % events)
    done = [q for q in good if q.get(b"event") == b"completed"]
    check(done and done[0].get(b"left") == b"0" and int(done[0].get(b"downloaded")) >= size,
          "tiers: the completed announce says left=0 and downloaded>=%d" % size)
    check(len({q.get(b"key") for q in good}) == 1 and len({q.get(b"peer_id") for q in good})
          == 1, "tiers: key and peer_id stay the same")


def check_https(work, data, seeder_port, size):
    key, cert = make_cert(work)
    tracker = ScriptedTracker(seeder_port)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    tracker.socket = ctx.wrap_socket(tracker.socket, server_side=True)
    tp = serve(tracker)
    url = "https://127.0.0.1:%d/good/announce" % tp
    torrent = os.path.join(work, "https.torrent")
    subprocess.run([SHOAL, "create", data, "-o", torrent, "--piece-size", "64K", "-t", url],
                   check=True, capture_output=True)
    env = dict(os.environ, CURL_CA_BUNDLE=cert)
    out = os.path.join(work, "leech-https")
    p = procs.start([SHOAL, "get", torrent, "-o", out, "--port", "0", "--exit-when-done"], out,
                    env=env)
    wait_get(p, out)
    got = os.path.join(out, os.path.basename(data))
    events = [q.get(b"event", b"") for q in tracker.seen("/good/announce")]
    check(p.returncode == 0 and peer_tools.same_file(data, got),
          "https: the leecher found the seeder through an HTTPS tracker (exit %s)"
          % p.returncode)
    check(events[:1] == [b"started"] and b"completed" in events,
          "https: the tracker heard started and completed (events: %s)" % events)
    tracker.shutdown()

    # Without the certificate the tracker is not trusted: no announce gets
    # through, the user is told why, and the download goes on from --peer.
    tracker = ScriptedTracker(seeder_port)
    tracker.socket = ctx.wrap_socket(tracker.socket, server_side=True)
    tp2 = serve(tracker)
    url = "https://127.0.0.1:%d/good/announce" % tp2
    subprocess.run([SHOAL, "create", data, "-o", torrent, "--piece-size", "64K", "-t", url,
                    "--force"], check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if k != "CURL_CA_BUNDLE"}
    out = os.path.join(work, "leech-untrusted")
    p = procs.start([SHOAL, "get", torrent, "-o", out, "--port", "0", "--exit-when-done",
                     "--peer", "127.0.0.1:%d" % seeder_port], out, env=env)
    err = wait_get(p, out)
    check(p.returncode == 0, "https: without the certificate the download still finishes "
          "from --peer (exit %s)" % p.returncode)
    check(not tracker.seen("/good/") and "tracker %s: " % url in err
          and "certificate" in err.lower(),
          "https: an untrusted certificate is refused and reported")
    tracker.shutdown()


def main():
    work = tempfile.mkdtemp(prefix="shoal-tracker-client.")
    try:
        data = os.path.join(work, "report.pdf")
        size = 3 * 1024 * 1024 + 999
        with open(data, "wb") as f:
            f.write(os.urandom(size))
        seed_torrent = os.path.join(work, "seed.torrent")
        subprocess.run([SHOAL, "create", data, "-o", seed_torrent, "--piece-size", "64K"],
                       check=True, capture_output=True)
        ih = peer_tools.Torrent(seed_torrent).infohash
        seed_out = os.path.join(work, "seed")
        procs.start([SHOAL, "seed", seed_torrent, "-d", work, "--port", "0"], seed_out)
        seeder_port = peer_tools.shoal_port(seed_out)
        check(seeder_port is not None, "the seeder listens")
        if seeder_port is None:
            return 1
        tracker = ScriptedTracker(seeder_port)
        tp = serve(tracker)
        check_tiers(work, data, seed_torrent, size, ih, tracker, tp)
        tracker.shutdown()
        check_https(work, data, seeder_port, size)
    finally:
        procs.stop_all()
        checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
