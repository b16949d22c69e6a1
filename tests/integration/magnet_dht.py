#!/usr/bin/python3
"""Magnet links with nothing but the DHT, run by test_magnet_dht.sh.

One `shoal dht` node is the bootstrap node. A `shoal seed` of a torrent
without trackers joins the DHT through it and announces; four `shoal get
MAGNET` leechers know only the magnet link (no tr=, no x.pe=) and the
bootstrap node. Checked:
  - the seeder's announce reaches the DHT (`shoal dht lookup` finds it);
  - all four leechers finish, byte-identical, each having fetched the
    metadata from the swarm (nothing else knows it: there is no tracker
    and no peer in the link) and saved NAME.torrent with the infohash;
  - `shoal share` prints a magnet link that works the same way, trackerless;
  - with --no-dht the same magnet finds nobody (the DHT did the work).
Every process is started here and stopped by PID; every wait is bounded.
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools as pt  # noqa: E402

SIZE = 2_000_000
checks = pt.Checks("magnet_dht")
procs = pt.Procs()


def port_of(out):
    port = pt.shoal_port(out)
    checks.check(port is not None, "%s listens" % os.path.basename(out))
    return port


def lookup(ih, boot, timeout=5):
    r = subprocess.run([pt.SHOAL, "dht", "lookup", ih, "--bootstrap", boot, "--timeout",
                        str(timeout)], capture_output=True, text=True, timeout=timeout + 30)
    return r.returncode, r.stdout.split()


def magnet_of(torrent):
    text = subprocess.run([pt.SHOAL, "info", torrent], capture_output=True, text=True,
                          check=True).stdout
    return [x.split()[1] for x in text.splitlines() if x.startswith("magnet:")][0]


def get(work, name, link, boot, extra=()):
    out = os.path.join(work, name)
    args = [pt.SHOAL, "get", link, "-o", os.path.join(work, name + "-dl"), "--port", "0",
            "-v"] + (["--dht-bootstrap", boot] if boot else []) + list(extra)
    return procs.start(args, out), out


def run(work):
    dht_out = os.path.join(work, "dht")
    procs.start([pt.SHOAL, "dht", "--port", "0"], dht_out)
    boot = "127.0.0.1:%s" % port_of(dht_out)

    data = os.path.join(work, "share", "notes.txt")
    os.makedirs(os.path.dirname(data))
    with open(data, "wb") as f:
        f.write(os.urandom(SIZE))
    torrent = os.path.join(work, "notes.torrent")
    subprocess.run([pt.SHOAL, "create", data, "-o", torrent], check=True,
                   capture_output=True)
    tor = pt.Torrent(torrent)
    ih = tor.infohash.hex()
    link = magnet_of(torrent)
    checks.check("tr=" not in link and "x.pe=" not in link,
                 "the magnet names no tracker and no peer: " + link)

    seed_out = os.path.join(work, "seed")
    procs.start([pt.SHOAL, "seed", torrent, "-d", os.path.dirname(data), "--port", "0",
                 "--dht-bootstrap", boot, "-v"], seed_out)
    seed_port = port_of(seed_out)
    found = []

    def announced():
        code, peers = lookup(ih, boot)
        found[:] = peers
        return code == 0 and "127.0.0.1:%s" % seed_port in peers
    checks.check(pt.wait_for(announced, 60, step=1.0),
                 "the seeder's announce reaches the DHT (lookup found %s)" % found)

    four = [get(work, "leech%d" % i, link, boot) for i in range(4)]
    codes = [procs.wait(p, 120) for p, _ in four]
    checks.check(codes == [0, 0, 0, 0], "four magnet leechers exit 0 (%s)" % codes)
    for i, (_, out) in enumerate(four):
        dl = os.path.join(work, "leech%d-dl" % i)
        err = pt.read_text(out + ".err")
        checks.check(pt.same_file(data, os.path.join(dl, "notes.txt")),
                     "leecher %d: the file is byte-identical" % i)
        saved = os.path.join(dl, "notes.txt.torrent")
        checks.check("metadata received" in err and os.path.exists(saved) and
                     pt.Torrent(saved).infohash == tor.infohash,
                     "leecher %d fetched the metadata from the swarm and saved it" % i)

    # shoal share: the magnet it prints works with no tracker at all.
    sdata = os.path.join(work, "shared", "paper.bin")
    os.makedirs(os.path.dirname(sdata))
    with open(sdata, "wb") as f:
        f.write(os.urandom(SIZE // 2))
    share_out = os.path.join(work, "share-run")
    procs.start([pt.SHOAL, "share", sdata, "-o", os.path.join(work, "paper.torrent"),
                 "--port", "0", "--dht-bootstrap", boot], share_out)
    pt.wait_for(lambda: "magnet:" in pt.read_text(share_out + ".out"), 30)
    m = re.search(r"magnet:\S+", pt.read_text(share_out + ".out"))
    checks.check(m is not None, "share prints a magnet link")
    if m:
        p, out = get(work, "shared", m.group(0), boot)
        code = procs.wait(p, 120)
        checks.check(code == 0 and pt.same_file(
            sdata, os.path.join(work, "shared-dl", "paper.bin")),
            "the magnet that share printed downloads trackerless (exit %s)" % code)

    # Without the DHT the same magnet has no way to the swarm.
    p, out = get(work, "nodht", link, None, ["--no-dht", "--no-lsd"])
    code = procs.wait(p, 8)  # stops it (exit 143) when it has not ended
    err = pt.read_text(out + ".err")
    checks.check(code == pt.EXIT_TERMINATED and "fetching metadata (0 peers)" in err
                 and "metadata received" not in err,
                 "with --no-dht the magnet finds no peer (still fetching after 8 s; "
                 "exit %s)" % code)
    checks.check("nothing will look for peers" in err and "the DHT is off (--no-dht)" in err,
                 "and it says why nothing will find peers")


def main():
    work = tempfile.mkdtemp(prefix="shoal-magnet-dht-")
    os.environ["XDG_STATE_HOME"] = os.path.join(work, "state")
    try:
        run(work)
    finally:
        procs.stop_all()
    checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
