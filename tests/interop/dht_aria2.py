#!/usr/bin/python3
"""aria2's DHT and shoal's on loopback: a torrent with no tracker crosses
between them both ways with only a `shoal dht` node to meet through.

  - a `shoal seed` bootstrapped from the node announces the torrent; an
    aria2c leecher given only the node (--dht-entry-point) finds it through
    get_peers and downloads the file byte-identical;
  - an aria2c seeder announces it; a `shoal dht lookup` finds aria2's port,
    and a `shoal get` given only the node downloads from aria2.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from peer_tools import SHOAL, Checks, Procs, free_port, same_file, shoal_port, \
    tail  # noqa: E402

if not shutil.which("aria2c"):
    print("SKIP: aria2c is not installed")
    sys.exit(0)

checks = Checks("dht_aria2")
procs = Procs()
work = tempfile.mkdtemp(prefix="shoal-dht-aria2-")
TIMEOUT = 60


def aria2(name, torrent, folder, boot, seed):
    port, dport = free_port(), free_port()
    args = ["aria2c", "--dir", folder, "--listen-port", str(port), "--enable-dht=true",
            "--dht-listen-port", str(dport), "--dht-entry-point", boot,
            "--dht-file-path", os.path.join(work, name + ".dht"),
            "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
            "--bt-require-crypto=false", "--bt-min-crypto-level=plain", "--seed-ratio=0",
            "--file-allocation=none", "--console-log-level=warn", "--summary-interval=0",
            "--bt-stop-timeout=0", "--check-integrity=true", "--bt-hash-check-seed=true",
            "--follow-torrent=false", "--disable-ipv6=true", "--interface=127.0.0.1"]
    args += ["--seed-time=600"] if seed else ["--seed-time=0"]
    args.append(torrent)
    return procs.start(args, os.path.join(work, name)), port


def main():
    nout = os.path.join(work, "node")
    node = procs.start([SHOAL, "dht", "--port", "0"], nout)
    nport = shoal_port(nout)
    checks.check(nport is not None, "shoal dht node runs (port %s)" % nport)
    if nport is None:
        return
    boot = "127.0.0.1:%d" % nport

    data = os.path.join(work, "share", "notes.bin")
    os.makedirs(os.path.dirname(data))
    with open(data, "wb") as f:
        f.write(os.urandom(600_000))
    torrent = os.path.join(work, "notes.torrent")
    subprocess.run([SHOAL, "create", data, "-o", torrent], check=True, capture_output=True)

    # shoal seeds, aria2 leeches through the DHT.
    sout = os.path.join(work, "shoal-seed")
    seed = procs.start([SHOAL, "seed", torrent, "-d", os.path.dirname(data), "--port", "0",
                        "--dht-bootstrap", boot], sout)
    checks.check(shoal_port(sout) is not None, "shoal seeds the trackerless torrent")
    adir = os.path.join(work, "aria2-got")
    leech, _ = aria2("aria2-leech", torrent, adir, boot, seed=False)
    rc = procs.wait(leech, TIMEOUT)
    checks.check(rc == 0 and same_file(data, os.path.join(adir, "notes.bin")),
                 "aria2c, knowing only the DHT node, finds shoal and downloads the file "
                 "(exit %s)%s" % (rc, "" if rc == 0 else "\n" + tail(
                     os.path.join(work, "aria2-leech.err"))))
    procs.stop(seed)

    # aria2 seeds, shoal finds it and downloads.
    aseed, aport = aria2("aria2-seed", torrent, os.path.dirname(data), boot, seed=True)
    ih = subprocess.run([SHOAL, "info", torrent, "--json"], capture_output=True,
                        text=True).stdout
    ih = __import__("json").loads(ih)["infohash"]
    # The earlier peers (the stopped shoal seed, the aria2 leecher) are
    # still in the node's store: look until aria2's seeder has announced.
    deadline = time.monotonic() + 40
    found = []
    while time.monotonic() < deadline and "127.0.0.1:%d" % aport not in found:
        r = subprocess.run([SHOAL, "dht", "lookup", ih, "--bootstrap", boot, "--timeout",
                            "10"], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, SHOAL_LOCAL_ONLY="1"))
        found = r.stdout.split()
        time.sleep(1)
    checks.check("127.0.0.1:%d" % aport in found,
                 "shoal dht lookup finds the port aria2c announced, %d (%s)" % (aport, found))
    gdir = os.path.join(work, "shoal-got")
    gout = os.path.join(work, "shoal-get")
    get = procs.start([SHOAL, "get", torrent, "-o", gdir, "--port", "0", "--dht-bootstrap",
                       boot], gout)
    rc = procs.wait(get, TIMEOUT)
    checks.check(rc == 0 and same_file(data, os.path.join(gdir, "notes.bin")),
                 "shoal get, knowing only the DHT node, downloads from aria2c (exit %s)%s"
                 % (rc, "" if rc == 0 else "\n" + tail(gout + ".err")))
    procs.stop(aseed)
    procs.stop(node)


try:
    main()
finally:
    procs.stop_all()
    checks.finish(work)
sys.exit(checks.exit_code())
