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
  - GET /stats and the HTML page answer; a malformed announce gets a
    bencoded failure reason; the tracker exits 0 on SIGTERM.
"""
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools  # noqa: E402

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
procs = peer_tools.Procs()
failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        failures.append(what)


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


def ports_of(out):
    def read():
        text = peer_tools.read_text(out + ".out")
        h = [int(x.split()[-1]) for x in text.splitlines() if x.startswith("http on port")]
        u = [int(x.split()[-1]) for x in text.splitlines() if x.startswith("udp on port")]
        return (h[0], u[0]) if h and u else None
    peer_tools.wait_for(lambda: read() is not None, 10)
    return read()


def same_album(data, out):
    for rel in ("disc1/track.bin", "cover.jpg"):
        got = os.path.join(out, "album", rel)
        if not os.path.exists(got) or not filecmp.cmp(os.path.join(data, rel), got,
                                                      shallow=False):
            return False
    return True


def client_counts(work, proto, torrent, data_dir):
    """A second seeder (the sharer is the first) reads the swarm's counts
    from the tracker through shoal's client: 2 seeders, 0 leechers, 4
    downloaded. Two trackers on other hosts are listed too: local-only mode
    refuses them before any look-up, for the scrape as for the announce."""
    out = os.path.join(work, proto + "-seed2")
    p = procs.start([SHOAL, "seed", torrent, "-d", data_dir, "--port", "0", "-v",
                     "--tracker", "udp://tracker.invalid:6969",
                     "--tracker", "http://tracker.invalid/announce"], out)
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
    if not ok or got != (2, 0, 4):
        print(peer_tools.tail(out + ".err", 30))


def run(work, proto):
    tr_out = os.path.join(work, "tracker-" + proto)
    tracker = procs.start([SHOAL, "tracker", "--http", "127.0.0.1:0", "--udp", "127.0.0.1:0"],
                          tr_out)
    ports = ports_of(tr_out)
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
        try:
            p.wait(90)
        except subprocess.TimeoutExpired:
            procs.stop(p)
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
    client_counts(work, proto, torrent, getters[0][0])
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


def main():
    work = tempfile.mkdtemp(prefix="shoal-tracker-swarm.")
    try:
        for proto in ("http", "udp"):
            run(work, proto)
    finally:
        procs.stop_all()
        if failures:
            print("work folder kept: " + work)
        else:
            shutil.rmtree(work)
    print("tracker swarm: %d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
