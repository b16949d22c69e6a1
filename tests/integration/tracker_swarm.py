#!/usr/bin/python3
"""shoal's own tracker end to end, on loopback:

  - `shoal tracker` (HTTP and UDP) and `shoal share` with the tracker's
    announce URL in the torrent; four `shoal get` know nothing but the
    torrent. All four finish byte-identical.
  - Scrape counts match reality at each step: 1 seeder, 0 leechers and 0
    completed before the downloads; 1 seeder, 0 leechers and 4 completed
    once the four have finished and left; 0 seeders once the sharer left.
  - shoal's own client reports the same counts: each getter's totals line
    carries what its trackers said, and a `shoal seed` of a finished copy
    (announce, then scrape, over the torrent's HTTP or UDP tracker) shows
    2 seeders, 0 leechers and 4 downloaded on its progress and totals lines.
    Trackers on other hosts are refused in local-only mode, scrapes too.
  - Broken trackers are an error on that tracker and nothing more: a body
    over the 4 MiB cap, an HTML page, a UDP reply of another transaction, a
    short UDP announce and a UDP error each get their own message, and the
    torrent still seeds and a download from it finishes.
  - UDP tracker names are looked up through evdns: inside a network and
    mount namespace of its own (nothing can leave it; skipped where
    namespaces are not allowed) /etc/resolv.conf names a small DNS server on
    127.0.0.1, without local-only mode. A seeder and a getter find each
    other through udp://tracker.shoal.test; a name that does not exist fails
    that tracker only, and a look-up that never gets an answer is cancelled
    when the seeder stops (under ASan: without a leak).
  - GET /stats and the HTML page answer; a malformed announce gets a
    bencoded failure reason; the tracker exits 0 on SIGTERM.
"""
import http.server
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools  # noqa: E402

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
procs = peer_tools.Procs()
checks = peer_tools.Checks("tracker swarm")
check = checks.check



def http_get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read()


def scrape(port, ih):
    q = urllib.parse.urlencode({"info_hash": ih}, quote_via=urllib.parse.quote)
    body = http_get("http://127.0.0.1:%d/scrape?%s" % (port, q))
    d = peer_tools.bdecode(body)[0]
    f = d[b"files"][ih]
    return f[b"complete"], f[b"incomplete"], f[b"downloaded"]


def wait_scrape(port, ih, want, timeout=15):
    got = []

    def ok():
        got[:] = [scrape(port, ih)]
        return got[0] == want
    peer_tools.wait_for(ok, timeout, 0.2)
    return got[0] if got else None


def same_album(data, out):
    for rel in ("disc1/track.bin", "cover.jpg"):
        got = os.path.join(out, "album", rel)
        if not peer_tools.same_file(os.path.join(data, rel), got):
            return False
    return True


def client_counts(work, proto, torrent, data_dir, up):
    """A second seeder (the sharer is the first) reads the swarm's counts
    from the tracker through shoal's client: 2 seeders, 0 leechers, 4
    downloaded. Two trackers on other hosts are listed too: local-only mode
    refuses them before any look-up, for the scrape as for the announce.
    Loopback by name (localhost) and as an IPv6 literal are allowed."""
    out = os.path.join(work, proto + "-seed2")
    local = "udp://localhost:%d" % up
    v6 = "http://[::1]:1/announce"
    p = procs.start([SHOAL, "seed", torrent, "-d", data_dir, "--port", "0", "-v",
                     "--tracker", "udp://tracker.invalid:6969",
                     "--tracker", "http://tracker.invalid/announce",
                     "--tracker", local, "--tracker", v6], out)
    want = "tracker: 2 seeders, 0 leechers, 4 downloaded"
    ok = peer_tools.wait_for(lambda: want in peer_tools.read_text(out + ".err"), 20)
    check(ok, "%s: shoal seed's progress line shows '%s'" % (proto, want))
    procs.stop(p)
    err = peer_tools.read_text(out + ".err")
    t = peer_tools.totals(err)
    got = (t.get("tracker_seeders"), t.get("tracker_leechers"), t.get("tracker_downloaded"))
    check(got == (2, 0, 4), "%s: shoal seed's totals line: tracker_seeders=2 "
          "tracker_leechers=0 tracker_downloaded=4 (got %s)" % (proto, got))
    for url in ("udp://tracker.invalid:6969", "http://tracker.invalid/announce"):
        line = "tracker %s: scrape: refused by local-only mode" % url
        check(line in err, "%s: local-only mode refused %s" % (proto, url))
        # The -v lines at exit: each tracker with its counts and last error.
        exit_line = (r"tracker %s \(tier \d+\): seeders=-1 leechers=-1 downloaded=-1"
                     r"; scrape: refused by local-only mode" % re.escape(url))
        check(re.search(exit_line, err) is not None,
              "%s: -v lists %s with its scrape error at exit" % (proto, url))
    # Scraped at start, maybe before the announce over the other protocol
    # counted this seeder: 1 or 2 seeders.
    check(re.search(r"tracker %s: scrape: [12] seeders, 0 leechers, 4 downloaded"
                    % re.escape(local), err) is not None,
          "%s: %s is scraped in local-only mode" % (proto, local))
    check("tracker %s: scrape: refused by local-only mode" % v6 not in err and
          "tracker %s: scrape:" % v6 in err,
          "%s: %s is tried in local-only mode (and finds nobody there)" % (proto, v6))
    if not ok or got != (2, 0, 4):
        print(peer_tools.tail(out + ".err", 30))


def run(work, proto):
    tr_out = os.path.join(work, "tracker-" + proto)
    tracker = procs.start([SHOAL, "tracker", "--http", "127.0.0.1:0", "--udp", "127.0.0.1:0"],
                          tr_out)
    ports = peer_tools.tracker_ports(tr_out)
    if not ports:
        check(False, "%s: tracker started" % proto)
        return
    hp, up = ports
    url = ("http://127.0.0.1:%d/announce" % hp if proto == "http"
           else "udp://127.0.0.1:%d" % up)
    data = os.path.join(work, "share-" + proto, "album")
    os.makedirs(os.path.join(data, "disc1"))
    with open(os.path.join(data, "disc1", "track.bin"), "wb") as f:
        f.write(os.urandom(5 * 1024 * 1024 + 77))
    with open(os.path.join(data, "cover.jpg"), "wb") as f:
        f.write(os.urandom(300000))
    torrent = os.path.join(work, proto + ".torrent")
    share_out = os.path.join(work, "share-" + proto + "-node")
    sharer = procs.start([SHOAL, "share", data, "-t", url, "-o", torrent, "--port", "0"],
                         share_out)
    ok = peer_tools.wait_for(lambda: "magnet:" in peer_tools.read_text(share_out + ".out"), 20)
    check(ok, "%s: shoal share printed its magnet link" % proto)
    ih = peer_tools.Torrent(torrent).infohash
    got = wait_scrape(hp, ih, (1, 0, 0))
    check(got == (1, 0, 0), "%s: scrape shows 1 seeder, 0 leechers, 0 completed (got %s)"
          % (proto, got))
    getters = []
    for i in range(4):
        out = os.path.join(work, "%s-get%d" % (proto, i))
        getters.append((out, procs.start([SHOAL, "get", torrent, "-o", out, "--port", "0"],
                                         out)))
    for out, p in getters:
        procs.wait(p, 90)
        same = same_album(data, out)
        check(p.returncode == 0 and same, "%s: %s finished byte-identical through the tracker"
              % (proto, os.path.basename(out)))
        if not same:
            print(peer_tools.tail(out + ".err"))
    # Each getter sent completed, then stopped, on its way out.
    got = wait_scrape(hp, ih, (1, 0, 4))
    check(got == (1, 0, 4), "%s: after the downloads scrape shows 1 seeder, 0 leechers, "
          "4 completed (got %s)" % (proto, got))
    for out, _ in getters:
        t = peer_tools.totals(peer_tools.read_text(out + ".err"))
        check(isinstance(t.get("tracker_seeders"), int) and t["tracker_seeders"] >= 1,
              "%s: %s reports the tracker's counts (%s)"
              % (proto, os.path.basename(out), {k: v for k, v in t.items()
                                                if k.startswith("tracker_")}))
    client_counts(work, proto, torrent, getters[0][0], up)
    got = wait_scrape(hp, ih, (1, 0, 4))
    check(got == (1, 0, 4), "%s: the second seeder left: 1 seeder again (got %s)"
          % (proto, got))
    procs.stop(sharer)
    got = wait_scrape(hp, ih, (0, 0, 4))
    check(got == (0, 0, 4), "%s: once the sharer left: 0 seeders, 4 completed (got %s)"
          % (proto, got))
    stats = http_get("http://127.0.0.1:%d/stats" % hp).decode()
    check('"swarms": 1' in stats and '"announces_' in stats,
          "%s: /stats answers: %s" % (proto, stats.strip()[:80]))
    page = http_get("http://127.0.0.1:%d/" % hp).decode()
    check(ih.hex() in page, "%s: the status page lists the swarm" % proto)
    bad = http_get("http://127.0.0.1:%d/announce?info_hash=%%zz" % hp)
    check(bad.startswith(b"d14:failure reason"),
          "%s: a malformed announce gets a failure reason: %r" % (proto, bad[:60]))
    rc = procs.stop(tracker)
    check(rc == 0, "%s: the tracker exits 0 on SIGTERM" % proto)


class BadHTTP(http.server.BaseHTTPRequestHandler):
    """/big/... answers 5 MiB of junk, /html/... an HTML error page."""

    def do_GET(self):
        if self.path.startswith("/big/"):
            body = b"x" * (5 * 1024 * 1024)
        else:
            body = b"<html><body>502 Bad Gateway</body></html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client hung up at its cap

    def log_message(self, *args):
        pass


def bad_udp(sock):
    """A UDP tracker that answers a connect first with another transaction
    id and then properly, an announce with 12 bytes, and a scrape with an
    error packet."""
    while True:
        try:
            data, addr = sock.recvfrom(2048)
        except OSError:
            return
        if len(data) < 16:
            continue
        action, tid = struct.unpack(">II", data[8:16])
        if action == 0:
            sock.sendto(struct.pack(">IIQ", 0, tid ^ 1, 7), addr)
            sock.sendto(struct.pack(">IIQ", 0, tid, 0x1234), addr)
        elif action == 1:
            sock.sendto(struct.pack(">II", 1, tid) + b"junk", addr)
        elif action == 2:
            sock.sendto(struct.pack(">II", 3, tid) + b"go away\0", addr)


def broken_trackers(work):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), BadHTTP)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    usock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    usock.bind(("127.0.0.1", 0))
    threading.Thread(target=bad_udp, args=(usock,), daemon=True).start()
    hp, up = httpd.server_address[1], usock.getsockname()[1]
    urls = ["http://127.0.0.1:%d/big/announce" % hp, "http://127.0.0.1:%d/html/announce" % hp,
            "udp://127.0.0.1:%d" % up]
    data = os.path.join(work, "broken", "data.bin")
    os.makedirs(os.path.dirname(data))
    with open(data, "wb") as f:
        f.write(os.urandom(2 * 1024 * 1024 + 5))
    torrent = os.path.join(work, "broken.torrent")
    cmd = [SHOAL, "create", data, "-o", torrent]
    for u in urls:
        cmd += ["-t", u]
    subprocess.run(cmd, check=True, capture_output=True)
    out = os.path.join(work, "broken-seed")
    seeder = procs.start([SHOAL, "seed", torrent, "-d", os.path.dirname(data), "--port", "0",
                          "-v"], out)
    want = {
        "announce over the cap": "%s: reply larger than 4194304 bytes" % urls[0],
        "scrape over the cap": "%s: scrape: reply larger than 4194304 bytes" % urls[0],
        "HTML announce": "%s: bad reply (HTTP 200): reply is HTML, not bencode" % urls[1],
        "HTML scrape": "%s: scrape: bad scrape reply (HTTP 200): reply is HTML" % urls[1],
        "short UDP announce": "%s: bad UDP reply: announce response shorter than 20 bytes"
                              % urls[2],
        "UDP error": "%s: scrape: refused: go away" % urls[2],
    }

    def all_seen():
        err = peer_tools.read_text(out + ".err")
        return all(w in err for w in want.values())
    peer_tools.wait_for(all_seen, 20)
    err = peer_tools.read_text(out + ".err")
    for what, line in want.items():
        check(line in err, "broken trackers: %s is that tracker's error: %s" % (what, line))
    port = peer_tools.shoal_port(out)
    get_out = os.path.join(work, "broken-get")
    getter = procs.start([SHOAL, "get", torrent, "-o", get_out, "--peer",
                          "127.0.0.1:%s" % port], get_out)
    procs.wait(getter, 60)
    same = peer_tools.same_file(data, os.path.join(get_out, "data.bin"))
    check(getter.returncode == 0 and same,
          "broken trackers: the torrent goes on, a download from the seeder finished "
          "(exit %s)" % getter.returncode)
    check(seeder.poll() is None and procs.stop(seeder) == peer_tools.EXIT_TERMINATED,
          "broken trackers: the seeder ran on and exits %d on SIGTERM"
          % peer_tools.EXIT_TERMINATED)
    if not all_seen():
        print(peer_tools.tail(out + ".err", 40))
    httpd.shutdown()
    usock.close()


def dns_reply(q):
    """A reply to a DNS query: tracker.shoal.test is 127.0.0.1 (and has no
    IPv6 address), slow.shoal.test is never answered, the rest do not
    exist."""
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace").lower())
        i += 1 + q[i]
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    name = ".".join(labels)
    question = q[12:i + 5]
    if name == "slow.shoal.test":
        return name, None
    answers, rcode = b"", 3
    if name == "tracker.shoal.test":
        rcode = 0
        if qtype == 1:
            answers = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([127, 0, 0, 1])
    hdr = q[:2] + struct.pack(">HHHHH", 0x8180 | rcode, 1, 1 if answers else 0, 0, 0)
    return name, hdr + question + answers


def dns_server(sock, seen):
    while True:
        try:
            q, addr = sock.recvfrom(512)
            name, r = dns_reply(q)
        except (OSError, IndexError, struct.error):
            return
        seen.append(name)
        if r:
            sock.sendto(r, addr)


def start_plain(args, out):
    """Like procs.start, but without local-only mode: only for use inside
    the private network namespace, where loopback is all there is."""
    env = dict(os.environ)
    env.pop("SHOAL_LOCAL_ONLY", None)
    with open(out + ".out", "w") as so, open(out + ".err", "w") as se:
        p = subprocess.Popen(args, stdout=so, stderr=se, stdin=subprocess.DEVNULL, env=env,
                             start_new_session=True)
    procs.procs.append(p)
    return p


def dns_inside(work):
    """Runs in a new network and mount namespace (see dns_names)."""
    conf = os.path.join(work, "resolv.conf")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    with open(conf, "w") as f:
        # The unanswered look-up must still be out when the seeder stops.
        f.write("nameserver 127.0.0.1:%d\noptions timeout:60 attempts:1\n"
                % sock.getsockname()[1])
    subprocess.run(["mount", "--bind", conf, "/etc/resolv.conf"], check=True)
    seen = []
    threading.Thread(target=dns_server, args=(sock, seen), daemon=True).start()
    tr_out = os.path.join(work, "dns-tracker")
    start_plain([SHOAL, "tracker", "--http", "127.0.0.1:0", "--udp", "127.0.0.1:0"], tr_out)
    ports = peer_tools.tracker_ports(tr_out)
    if not ports:
        check(False, "dns: tracker started")
        return
    up = ports[1]
    data = os.path.join(work, "dns-data", "data.bin")
    os.makedirs(os.path.dirname(data))
    with open(data, "wb") as f:
        f.write(os.urandom(1024 * 1024 + 3))
    torrent = os.path.join(work, "dns.torrent")
    subprocess.run([SHOAL, "create", data, "-o", torrent, "-t",
                    "udp://tracker.shoal.test:%d" % up], check=True, capture_output=True)
    seed_out = os.path.join(work, "dns-seed")
    nx = "udp://nothing.shoal.test:%d" % up
    slow = "udp://slow.shoal.test:%d" % up
    seed_port = peer_tools.free_port()
    seeder = start_plain([SHOAL, "seed", torrent, "-d", os.path.dirname(data), "--port",
                          str(seed_port), "-v", "--tracker", nx, "--tracker", slow], seed_out)
    ok = peer_tools.wait_for(lambda: "tracker: 1 seeders" in
                             peer_tools.read_text(seed_out + ".err"), 20)
    check(ok, "dns: the seeder announced to and scraped udp://tracker.shoal.test")
    get_out = os.path.join(work, "dns-get")
    getter = start_plain([SHOAL, "get", torrent, "-o", get_out], get_out)
    procs.wait(getter, 60)
    same = peer_tools.same_file(data, os.path.join(get_out, "data.bin"))
    check(getter.returncode == 0 and same,
          "dns: a getter found the seeder through the tracker's name (exit %s)"
          % getter.returncode)
    # A peer given by name (no tracker in this copy of the torrent: same
    # infohash, so the name is the only way to the seeder).
    plain = os.path.join(work, "dns-plain.torrent")
    subprocess.run([SHOAL, "create", data, "-o", plain], check=True, capture_output=True)
    named_out = os.path.join(work, "dns-named")
    named = start_plain([SHOAL, "get", plain, "-o", named_out, "--peer",
                         "tracker.shoal.test:%d" % seed_port], named_out)
    procs.wait(named, 60)
    same = peer_tools.same_file(data, os.path.join(named_out, "data.bin"))
    check(named.returncode == 0 and same,
          "dns: a getter dialed a peer given by name, looked up by the session's "
          "resolver (exit %s)"
          % named.returncode)
    # A peer name that does not exist: refused before any port is opened or
    # anything created, naming it.
    nx_out = os.path.join(work, "dns-nx")
    nxp = start_plain([SHOAL, "get", plain, "-o", nx_out, "--peer",
                       "nothing.shoal.test:%d" % seed_port], nx_out)
    procs.wait(nxp, 60)
    nx_err = peer_tools.read_text(nx_out + ".err")
    check(nxp.returncode == 2 and "nothing.shoal.test does not resolve" in nx_err and
          "listening on port" not in peer_tools.read_text(nx_out + ".out") and
          not os.path.exists(nx_out),
          "dns: --peer with a name that does not exist: exit 2 naming it, nothing "
          "created (exit %s: %s)" % (nxp.returncode, nx_err.strip()))
    peer_tools.wait_for(lambda: "slow.shoal.test" in seen and "nothing.shoal.test" in seen, 10)
    err = peer_tools.read_text(seed_out + ".err")
    check("tracker %s: scrape: cannot resolve the tracker's name" % nx in err,
          "dns: a name that does not exist fails that tracker only")
    check("tracker.shoal.test" in seen and "slow.shoal.test" in seen,
          "dns: the names were asked of the configured server (%s)" % sorted(set(seen)))
    # The slow look-up is still out: stopping cancels it.
    err = peer_tools.read_text(seed_out + ".err")
    check("tracker %s: scrape:" % slow not in err,
          "dns: the look-up of slow.shoal.test is still waiting for its answer")
    rc = procs.stop(seeder)
    check(rc == peer_tools.EXIT_TERMINATED,
          "dns: the seeder stops cleanly with a look-up in flight (exit %s)" % rc)
    if not ok or rc != peer_tools.EXIT_TERMINATED:
        print(peer_tools.tail(seed_out + ".err", 30))


def dns_names(work):
    """Re-runs this script in private namespaces for the DNS checks: a
    network namespace with only loopback, so that no query or packet can
    leave whatever goes wrong, and a mount namespace to give it its own
    /etc/resolv.conf."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("skip  dns: needs root and unshare for private namespaces")
        return
    probe = subprocess.run(["unshare", "-n", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        print("skip  dns: namespaces are not allowed here")
        return
    p = subprocess.run(["unshare", "-n", "-m", "sh", "-c",
                        'ip link set lo up && exec "$0" "$@"', sys.executable,
                        os.path.abspath(__file__), "--dns-inside", work],
                       capture_output=True, text=True, timeout=180)
    sys.stdout.write(p.stdout)
    for line in p.stdout.splitlines():
        if line.startswith("FAIL"):
            checks.failures.append(line)
    if p.returncode != 0 and not checks.failures:
        check(False, "dns: the namespace run failed: %s" % p.stderr[-500:])


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--dns-inside":
        try:
            dns_inside(sys.argv[2])
        finally:
            procs.stop_all()
        return checks.exit_code()
    work = tempfile.mkdtemp(prefix="shoal-tracker-swarm.")
    try:
        for proto in ("http", "udp"):
            run(work, proto)
        broken_trackers(work)
        dns_names(work)
    finally:
        procs.stop_all()
        checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
