#!/usr/bin/python3
"""Web seeds (BEP 19): `shoal get` downloads from a torrent's url-list with
ranged GETs, from a small HTTP server on 127.0.0.1 run here (Python's
http.server does not do ranges; RangeServer does).

    webseed.py single   a single-file torrent, web seed URL ending in "/":
                        byte-identical from the web seed alone, every GET
                        ranged and answered 206.
    webseed.py multi    a multi-file torrent whose names need
                        percent-encoding, web seed URL without a trailing
                        "/": byte-identical from the web seed alone.
    webseed.py mixed    a web seed and a seeding peer (upload-limited), both
                        contribute: byte-identical, the server answered
                        ranges and the peer uploaded.
    webseed.py corrupt  the web seed corrupts its first reply; a seeding
                        peer is there too: the web seed is dropped (no GET
                        after it), hash_failures is reported, and the file
                        is still byte-identical.
    webseed.py norange  the server ignores Range and sends whole files (200);
                        a seeding peer is there too: the web seed is dropped
                        at its first reply, and the file is byte-identical.
    webseed.py errors   the server answers 404, then 503, then works: one
                        warning per change of reason (not per failure), and
                        the download completes from the web seed; a second
                        web seed off this machine is refused (local-only).
    webseed.py trickle  the server sends 4 KB/s per request; a seeding peer
                        is there too: the download finishes in well under
                        30 s, byte-identical (the web seed gives the pieces
                        it holds back to the idle peer).
    webseed.py slow     the same trickling server alone: it still completes
                        the download, byte-identical.
    webseed.py redirect the server redirects every GET to 10.0.0.1, which
                        local-only mode refuses: the web seed is dropped
                        once with that reason, never retried, and the
                        download completes from a seeding peer.
    webseed.py long     the server sends more than each range asked for, so
                        each failure names a different size: one warning,
                        not one per size; then it works and the download
                        completes from it.

Every process is started here and stopped by PID; every wait is bounded.
"""
import http.server
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools  # noqa: E402

SHOAL = peer_tools.SHOAL
RANGE_RE = re.compile(r"^bytes=(\d+)-(\d+)$")


class RangeServer(http.server.ThreadingHTTPServer):
    """Serves the files under root with single byte ranges. mode: "ok";
    "corrupt" (the first ranged reply has a byte flipped); "norange" (whole
    files, 200, whatever the Range); "status" (every request gets
    self.status); "trickle" (each ranged reply sent at self.rate bytes a
    second); "redirect" (302 to the same path on 10.0.0.1); "long" (each
    ranged reply has 1000 bytes too many). Counts requests, in order."""
    daemon_threads = True

    def __init__(self, root):
        super().__init__(("127.0.0.1", 0), RangeHandler)
        self.root = root
        self.mode = "ok"
        self.status = 503
        self.lock = threading.Lock()
        self.log = []  # (path, range header, status)
        self.corrupted = 0
        self.rate = 4096
        self.closing = False

    def note(self, path, rng, status):
        with self.lock:
            self.log.append((path, rng, status))

    def count(self, status=None):
        with self.lock:
            return sum(1 for x in self.log if status is None or x[2] == status)


class RangeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        srv = self.server
        rng = self.headers.get("Range")
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if srv.mode == "status":
            srv.note(path, rng, srv.status)
            self.reply(srv.status, b"not today")
            return
        if srv.mode == "redirect":
            srv.note(path, rng, 302)
            self.reply(302, b"", [("Location", "http://10.0.0.1" + self.path)])
            return
        full = os.path.realpath(os.path.join(srv.root, path.lstrip("/")))
        if not full.startswith(os.path.realpath(srv.root) + os.sep) or not os.path.isfile(full):
            srv.note(path, rng, 404)
            self.reply(404, b"no such file")
            return
        size = os.path.getsize(full)
        m = RANGE_RE.match(rng or "")
        if not m or srv.mode == "norange":
            with open(full, "rb") as f:
                body = f.read()
            srv.note(path, rng, 200)
            self.reply(200, body)
            return
        a, b = int(m.group(1)), int(m.group(2))
        if a > b or b >= size:
            srv.note(path, rng, 416)
            self.reply(416, b"", [("Content-Range", "bytes */%d" % size)])
            return
        with open(full, "rb") as f:
            f.seek(a)
            body = bytearray(f.read(b - a + 1))
        with srv.lock:
            if srv.mode == "corrupt" and srv.corrupted == 0:
                body[len(body) // 2] ^= 0xFF
                srv.corrupted = 1
        if srv.mode == "long":
            body += b"x" * 1000
        srv.note(path, rng, 206)
        headers = [("Content-Range", "bytes %d-%d/%d" % (a, b, size))]
        if srv.mode == "trickle":
            self.trickle(bytes(body), headers)
        else:
            self.reply(206, bytes(body), headers)

    def trickle(self, body, headers):
        """Sends body at the server's rate, in 1 KiB steps, until the
        client hangs up or the server closes."""
        self.send_response(206)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        step = 1024
        try:
            for i in range(0, len(body), step):
                if self.server.closing:
                    break
                self.wfile.write(body[i:i + step])
                self.wfile.flush()
                time.sleep(step / self.server.rate)
        except OSError:
            pass
        self.close_connection = True


def start_server(root):
    srv = RangeServer(root)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def write_random(path, size):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(os.urandom(size))


def create(data, torrent, webseed, piece_size="64K", more=()):
    args = [SHOAL, "create", data, "-o", torrent, "-w", webseed, "--piece-size", piece_size]
    for url in more:
        args += ["-w", url]
    return subprocess.run(args, capture_output=True, text=True).returncode == 0


def get(procs, work, torrent, out, extra=()):
    stem = os.path.join(work, "get")
    return procs.start([SHOAL, "get", torrent, "-o", out, "--port", "0"] + list(extra),
                       stem), stem


def same_tree(a, b):
    """Every file under a is under b with the same bytes."""
    for dirpath, _, files in os.walk(a):
        for name in files:
            want = os.path.join(dirpath, name)
            got = os.path.join(b, os.path.relpath(want, a))
            if not peer_tools.same_file(want, got):
                return False
    return True


def scenario_alone(c, procs, work, multi):
    root = os.path.join(work, "www")
    if multi:
        # Names that need percent-encoding: space, '#', '%', '?', UTF-8.
        data = os.path.join(root, "base", "my album #1")
        files = {"01 intro.bin": 300000, "sub dir/100% done?.bin": 1500000,
                 "caf\u00e9.bin": 70000, "tiny.txt": 5}
        for name, size in files.items():
            write_random(os.path.join(data, name), size)
    else:
        data = os.path.join(root, "notes v1.bin")
        write_random(data, 3 * 1024 * 1024 + 12345)
    srv = start_server(root)
    port = srv.server_address[1]
    torrent = os.path.join(work, "t.torrent")
    url = ("http://127.0.0.1:%d/base" % port) if multi else ("http://127.0.0.1:%d/" % port)
    if not create(data, torrent, url):
        print("SKIP: shoal create failed")
        return
    out = os.path.join(work, "out")
    p, stem = get(procs, work, torrent, out)
    rc = procs.wait(p, 60)
    err = peer_tools.read_text(stem + ".err")
    c.check(rc == 0, "get exits 0 with the web seed as its only source (rc=%s)" % rc)
    name = os.path.basename(data)
    if multi:
        c.check(same_tree(data, os.path.join(out, name)),
                "every file is byte-identical (names percent-encoded on the wire)")
    else:
        c.check(peer_tools.same_file(data, os.path.join(out, name)),
                "the file is byte-identical")
    t = peer_tools.totals(err)
    c.check(t.get("downloaded", 0) >= os.path.getsize(data) if not multi else
            t.get("downloaded", 0) > 0, "the web seed's bytes count as downloaded: %s" % t)
    n, n206 = srv.count(), srv.count(206)
    c.check(n > 0 and n == n206, "every GET was ranged and answered 206 (%d of %d)"
            % (n206, n))
    if multi:
        paths = set(x[0] for x in srv.log)
        c.check(any(p.endswith("/sub dir/100% done?.bin") for p in paths) and
                all(p.startswith("/base/my album #1/") for p in paths),
                "URLs are base + / + name + / + path: %s" % sorted(paths))
    if c.failures:
        print(peer_tools.tail(stem + ".err"))
    srv.shutdown()


def start_seed(procs, work, torrent, folder, max_up):
    stem = os.path.join(work, "seed")
    p = procs.start([SHOAL, "seed", torrent, "-d", folder, "--port", "0", "--max-up",
                     max_up], stem)
    return p, stem


def scenario_mixed(c, procs, work, mode):
    corrupt = mode != "ok"
    root = os.path.join(work, "www")
    data = os.path.join(root, "big.bin")
    write_random(data, 6 * 1024 * 1024)
    srv = start_server(root)
    srv.mode = mode
    port = srv.server_address[1]
    torrent = os.path.join(work, "t.torrent")
    if not create(data, torrent, "http://127.0.0.1:%d/big.bin" % port):
        print("SKIP: shoal create failed")
        return
    seed, seed_stem = start_seed(procs, work, torrent, root, "1M")
    seed_port = peer_tools.shoal_port(seed_stem)
    if seed_port is None:
        print("SKIP: the seeder did not start")
        print(peer_tools.tail(seed_stem + ".err"))
        return
    out = os.path.join(work, "out")
    p, stem = get(procs, work, torrent, out, ["--peer", "127.0.0.1:%d" % seed_port])
    at_drop = None
    if corrupt:
        # The GETs the server saw once the drop is printed (and the ones in
        # flight with it have had a moment to land): no more may follow.
        if peer_tools.wait_for(lambda: " dropped: " in peer_tools.read_text(stem + ".err"),
                               30):
            time.sleep(0.2)
            at_drop = srv.count()
    rc = procs.wait(p, 60)
    err = peer_tools.read_text(stem + ".err")
    c.check(rc == 0, "get exits 0 (rc=%s)" % rc)
    c.check(peer_tools.same_file(data, os.path.join(out, "big.bin")),
            "the file is byte-identical")
    t = peer_tools.totals(err)
    procs.stop(seed)
    st = peer_tools.totals(peer_tools.read_text(seed_stem + ".err"))
    c.check(st.get("uploaded", 0) > 0, "the peer contributed: seeder %s" % st)
    if mode == "corrupt":
        c.check(srv.corrupted == 1, "the server corrupted one range")
        c.check(t.get("hash_failures", 0) >= 1, "hash_failures reported: %s" % t)
        dropped = [x for x in err.splitlines()
                   if "dropped: sent data that failed the hash check" in x]
        c.check(len(dropped) == 1, "the web seed is dropped once: %s" % dropped)
        c.check(t.get("banned", 0) == 0, "no peer was banned for the web seed's data")
    if mode == "norange":
        dropped = [x for x in err.splitlines()
                   if "dropped: the server ignores Range requests (big.bin)" in x]
        c.check(len(dropped) == 1, "the web seed is dropped once: %s" % dropped)
        c.check(t.get("hash_failures", 1) == 0, "no hash failures: %s" % t)
    if corrupt:
        n = srv.count()
        c.check(at_drop is not None and n == at_drop,
                "no GET after the drop (%s then, %d in all)" % (at_drop, n))
    else:
        c.check(srv.count(206) > 0, "the web seed contributed (%d ranged GETs)"
                % srv.count(206))
        c.check(t.get("hash_failures", 1) == 0, "no hash failures: %s" % t)
    if c.failures:
        print(peer_tools.tail(stem + ".err", 30))
    srv.shutdown()


def scenario_errors(c, procs, work):
    root = os.path.join(work, "www")
    data = os.path.join(root, "f.bin")
    write_random(data, 1024 * 1024 + 7)
    srv = start_server(root)
    srv.mode, srv.status = "status", 404
    port = srv.server_address[1]
    torrent = os.path.join(work, "t.torrent")
    # A second web seed off this machine: local-only mode refuses it before
    # any look-up or connection, and says so.
    outside = "http://192.0.2.1/f.bin"
    if not create(data, torrent, "http://127.0.0.1:%d/f.bin" % port, "16K", [outside]):
        print("SKIP: shoal create failed")
        return
    out = os.path.join(work, "out")
    p, stem = get(procs, work, torrent, out)

    def warnings():
        return [x for x in peer_tools.read_text(stem + ".err").splitlines()
                if "web seed" in x and "trying again" in x]

    c.check(peer_tools.wait_for(lambda: any("HTTP 404" in x for x in warnings()), 20),
            "a 404 is reported as a warning")
    srv.status = 503
    c.check(peer_tools.wait_for(lambda: any("HTTP 503" in x for x in warnings()), 30),
            "then a 503, as a new warning")
    fails = srv.count()
    srv.mode = "ok"
    rc = procs.wait(p, 60)
    err = peer_tools.read_text(stem + ".err")
    w = warnings()
    c.check(rc == 0, "get exits 0 once the server works (rc=%s)" % rc)
    c.check(peer_tools.same_file(data, os.path.join(out, "f.bin")),
            "the file is byte-identical")
    c.check(len(w) == 2, "one warning per change of reason, not per failure "
            "(%d failed GETs): %s" % (fails, w))
    c.check(fails >= 2, "the failures were retried (%d failed GETs)" % fails)
    refused = [x for x in err.splitlines() if outside in x]
    c.check(len(refused) == 1 and "local-only" in refused[0],
            "a web seed off this machine is refused in local-only mode: %s" % refused)
    if c.failures:
        print(peer_tools.tail(stem + ".err", 30))
    srv.shutdown()


def scenario_trickle(c, procs, work, with_peer):
    """A web seed sending 4 KB/s per request: with a seeding peer the
    download must not wait for it; alone it must still finish."""
    root = os.path.join(work, "www")
    data = os.path.join(root, "slow.bin")
    size = 4 * 1024 * 1024 + 4321 if with_peer else 6 * 16384 + 100
    write_random(data, size)
    srv = start_server(root)
    srv.mode = "trickle"
    port = srv.server_address[1]
    torrent = os.path.join(work, "t.torrent")
    if not create(data, torrent, "http://127.0.0.1:%d/slow.bin" % port, "16K"):
        print("SKIP: shoal create failed")
        return
    extra = []
    seed = None
    if with_peer:
        seed, seed_stem = start_seed(procs, work, torrent, root, "1000M")
        seed_port = peer_tools.shoal_port(seed_stem)
        if seed_port is None:
            print("SKIP: the seeder did not start")
            print(peer_tools.tail(seed_stem + ".err"))
            return
        extra = ["--peer", "127.0.0.1:%d" % seed_port]
    out = os.path.join(work, "out")
    t0 = time.monotonic()
    p, stem = get(procs, work, torrent, out, extra + ["-v"])
    rc = procs.wait(p, 90)
    took = time.monotonic() - t0
    err = peer_tools.read_text(stem + ".err")
    c.check(rc == 0, "get exits 0 (rc=%s)" % rc)
    c.check(peer_tools.same_file(data, os.path.join(out, "slow.bin")),
            "the file is byte-identical")
    t = peer_tools.totals(err)
    c.check(t.get("hash_failures", 1) == 0, "no hash failures: %s" % t)
    c.check(srv.count(206) > 0, "the web seed was asked (%d GETs)" % srv.count(206))
    if with_peer:
        c.check(any("leaves its unfinished pieces to idle peers" in x
                    for x in err.splitlines()),
                "the web seed gave the pieces it held back to the idle peer")
        c.check(took < 30, "a 4 MiB download with a seeding peer beside a 4 KB/s "
                "web seed takes %.1f s (must be well under 30 s)" % took)
        procs.stop(seed)
    print("download took %.1f s, %d GETs" % (took, srv.count()))
    for line in err.splitlines():
        if "web seed" in line:
            print(line)
    if c.failures:
        print(peer_tools.tail(stem + ".err", 30))
    srv.closing = True
    srv.shutdown()


def scenario_redirect(c, procs, work):
    root = os.path.join(work, "www")
    data = os.path.join(root, "r.bin")
    write_random(data, 1024 * 1024 + 99)
    srv = start_server(root)
    srv.mode = "redirect"
    port = srv.server_address[1]
    url = "http://127.0.0.1:%d/r.bin" % port
    torrent = os.path.join(work, "t.torrent")
    if not create(data, torrent, url, "16K"):
        print("SKIP: shoal create failed")
        return
    seed, seed_stem = start_seed(procs, work, torrent, root, "300K")
    seed_port = peer_tools.shoal_port(seed_stem)
    if seed_port is None:
        print("SKIP: the seeder did not start")
        print(peer_tools.tail(seed_stem + ".err"))
        return
    out = os.path.join(work, "out")
    p, stem = get(procs, work, torrent, out, ["--peer", "127.0.0.1:%d" % seed_port])
    rc = procs.wait(p, 60)
    err = peer_tools.read_text(stem + ".err")
    procs.stop(seed)
    c.check(rc == 0, "get exits 0 from the peer (rc=%s)" % rc)
    c.check(peer_tools.same_file(data, os.path.join(out, "r.bin")),
            "the file is byte-identical")
    lines = [x for x in err.splitlines() if url in x]
    c.check(len(lines) == 1 and " dropped: redirect to http://10.0.0.1/r.bin" in lines[0]
            and "local-only" in lines[0],
            "one line drops the web seed with the refused redirect: %s" % lines)
    c.check(not any("HTTP 302" in x or "trying again" in x for x in lines),
            "no retry of a refused redirect: %s" % lines)
    # Up to one request per slot may be in flight when the first refusal
    # comes back; none after it.
    c.check(1 <= srv.count() <= 4, "the server saw %d GETs (1 to 4)" % srv.count())
    if c.failures:
        print(peer_tools.tail(stem + ".err", 30))
    srv.shutdown()


def scenario_long(c, procs, work):
    root = os.path.join(work, "www")
    data = os.path.join(root, "base", "set")
    # Files whose sizes do not line up with the 32 KiB pieces: the GETs of
    # successive pieces ask for ranges of different sizes.
    for i, size in enumerate([5000, 23000, 41000, 9000, 60000, 17000, 33000, 2000]):
        write_random(os.path.join(data, "f%d.bin" % i), size)
    srv = start_server(root)
    srv.mode = "long"
    port = srv.server_address[1]
    torrent = os.path.join(work, "t.torrent")
    if not create(data, torrent, "http://127.0.0.1:%d/base" % port, "32K"):
        print("SKIP: shoal create failed")
        return
    out = os.path.join(work, "out")
    p, stem = get(procs, work, torrent, out)

    def sizes():
        with srv.lock:
            return set(x[1] for x in srv.log)

    def warnings():
        return [x for x in peer_tools.read_text(stem + ".err").splitlines()
                if "web seed" in x and "reply larger than" in x]

    # Several failures (each waits longer), each with another range size.
    ok = peer_tools.wait_for(lambda: srv.count() >= 6 and len(sizes()) >= 3, 45)
    c.check(ok, "failing GETs asked for ranges of several sizes: %d GETs, %s"
            % (srv.count(), sorted(sizes(), key=str)))
    time.sleep(0.3)
    w = warnings()
    srv.mode = "ok"
    rc = procs.wait(p, 60)
    c.check(rc == 0, "get exits 0 once the server works (rc=%s)" % rc)
    c.check(same_tree(data, os.path.join(out, "set")), "every file is byte-identical")
    c.check(len(w) == 1, "one warning for replies too long, whatever their size: %s" % w)
    if c.failures:
        print(peer_tools.tail(stem + ".err", 30))
    srv.shutdown()


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else "single"
    c = peer_tools.Checks("webseed " + which)
    procs = peer_tools.Procs()
    work = tempfile.mkdtemp(prefix="shoal-webseed-")
    start = time.monotonic()
    try:
        if which == "single":
            scenario_alone(c, procs, work, multi=False)
        elif which == "multi":
            scenario_alone(c, procs, work, multi=True)
        elif which == "mixed":
            scenario_mixed(c, procs, work, "ok")
        elif which in ("corrupt", "norange"):
            scenario_mixed(c, procs, work, which)
        elif which == "errors":
            scenario_errors(c, procs, work)
        elif which in ("trickle", "slow"):
            scenario_trickle(c, procs, work, with_peer=which == "trickle")
        elif which == "redirect":
            scenario_redirect(c, procs, work)
        elif which == "long":
            scenario_long(c, procs, work)
        else:
            print("unknown scenario " + which)
            return 2
    finally:
        procs.stop_all()
    print("%.1f s" % (time.monotonic() - start))
    c.finish(work)
    return c.exit_code()


if __name__ == "__main__":
    sys.exit(main())
