#!/usr/bin/python3
"""Magnet links between shoal and real clients on loopback, run by
test_magnet_interop.sh.

Each side knows nothing but the magnet link and how to reach the other:
  - shoal gets metadata and data from a libtorrent seeder (x.pe= in the
    magnet);
  - a libtorrent leecher given the magnet (and the shoal seeder's address
    through connect_peer) gets both from shoal;
  - shoal gets both from an aria2 seeder (x.pe=);
  - an aria2 leecher given the magnet gets both from shoal; aria2 takes no
    x.pe and announces left=0 before it has the metadata (so a tracker
    counts it as a seed and gives it no seeders), so the shoal seeder dials
    it (--peer), as the plain-torrent interop test does.
Every transfer must end with a byte-identical file, and shoal must have
written the .torrent it made of the metadata with the right infohash. The
file is a few MiB. Every process is started here and stopped by PID; every
wait is bounded.
"""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import peer_tools as pt  # noqa: E402

TIMEOUT = float(os.environ.get("INTEROP_TIMEOUT", "90"))
SIZE = 3 * 1024 * 1024 + 4321

checks = pt.Checks("magnet interop")
procs = pt.Procs()


def have_tools():
    if not shutil.which("aria2c"):
        return "aria2c is not installed (scripts/install-deps.sh)"
    r = subprocess.run(["/usr/bin/python3", "-c", "import libtorrent"], capture_output=True)
    if r.returncode != 0:
        return "python3-libtorrent is not installed (scripts/install-deps.sh)"
    return None


def magnet_of(torrent, extra=""):
    out = subprocess.run([pt.SHOAL, "info", torrent], capture_output=True, text=True,
                         check=True).stdout
    return [x.split()[1] for x in out.splitlines() if x.startswith("magnet:")][0] + extra


def lt_start(work, name, mode, what, folder, peer=None):
    args = ["/usr/bin/python3", os.path.join(HERE, "lt_peer.py"), mode, what, folder,
            "--timeout", str(TIMEOUT)]
    if peer:
        args += ["--peer", peer]
    return procs.start(args, os.path.join(work, name))


def lt_port(work, name):
    out = os.path.join(work, name + ".out")
    pt.wait_for(lambda: pt.read_text(out).startswith("port"), 15)
    text = pt.read_text(out)
    return int(text.split()[1]) if text.startswith("port") else 0


def aria2(work, name, what, folder, port, seed):
    args = ["aria2c", "--dir", folder, "--listen-port", str(port), "--enable-dht=false",
            "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
            "--bt-require-crypto=false", "--bt-min-crypto-level=plain", "--seed-ratio=0",
            "--file-allocation=none", "--console-log-level=warn", "--summary-interval=0",
            "--bt-tracker-connect-timeout=2", "--bt-stop-timeout=0", "--check-integrity=true",
            "--bt-hash-check-seed=true", "--disable-ipv6=true", "--interface=127.0.0.1",
            "--bt-save-metadata=false", "--bt-tracker-interval=2"]
    args += ["--seed-time=600"] if seed else ["--seed-time=0"]
    args.append(what)
    return procs.start(args, os.path.join(work, name))


def shoal_get(work, name, link):
    folder = os.path.join(work, name + "-dl")
    p = procs.start([pt.SHOAL, "get", link, "-o", folder, "--port", "0", "--no-dht"],
                    os.path.join(work, name))
    code = procs.wait(p, TIMEOUT)
    return code, folder


def shoal_seed(work, name, torrent, folder, peer=None):
    out = os.path.join(work, name)
    p = procs.start([pt.SHOAL, "seed", torrent, "-d", folder, "--port", "0", "--no-dht"] +
                    (["--peer", peer] if peer else []), out)
    return p, pt.shoal_port(out)


def check_get(work, name, code, folder, want, infohash):
    got = os.path.join(folder, "payload.bin")
    saved = os.path.join(folder, "payload.bin.torrent")
    ok = code == 0 and pt.same_file(want, got)
    checks.check(ok, "%s: shoal got a byte-identical file from the magnet (exit %s)"
                 % (name, code))
    checks.check(os.path.exists(saved) and pt.Torrent(saved).infohash == infohash,
                 "%s: and saved the metadata as payload.bin.torrent" % name)
    if not ok:
        print(pt.tail(os.path.join(work, name + ".err")))


def main():
    why = have_tools()
    if why:
        print("SKIP: " + why)
        return 0
    work = tempfile.mkdtemp(prefix="shoal-magnet-interop.")
    os.environ["XDG_STATE_HOME"] = os.path.join(work, "state")
    try:
        run(work)
    finally:
        procs.stop_all()
    checks.finish(work)
    return checks.exit_code()


def run(work):
    seed_dir = os.path.join(work, "seed")
    os.makedirs(seed_dir)
    want = os.path.join(seed_dir, "payload.bin")
    with open(want, "wb") as f:
        f.write(os.urandom(SIZE))
    torrent = os.path.join(work, "payload.torrent")
    subprocess.run([pt.SHOAL, "create", want, "-o", torrent, "--piece-size", "64K"],
                   check=True, capture_output=True)
    ih = pt.Torrent(torrent).infohash
    bare = magnet_of(torrent)

    # libtorrent seeds, shoal gets the magnet.
    lt = lt_start(work, "lt-seed", "seed", torrent, seed_dir)
    port = lt_port(work, "lt-seed")
    code, folder = shoal_get(work, "from-lt", bare + "&x.pe=127.0.0.1:%d" % port)
    check_get(work, "from-lt", code, folder, want, ih)
    procs.stop(lt)

    # shoal seeds, libtorrent gets the magnet.
    seeder, sport = shoal_seed(work, "seed-for-lt", torrent, seed_dir)
    lt_dir = os.path.join(work, "lt-dl")
    os.makedirs(lt_dir)
    lt = lt_start(work, "lt-leech", "leech", bare, lt_dir, "127.0.0.1:%s" % sport)
    code = procs.wait(lt, TIMEOUT)
    ok = code == 0 and pt.same_file(want, os.path.join(lt_dir, "payload.bin"))
    checks.check(ok, "libtorrent got metadata and a byte-identical file from shoal "
                 "(exit %s)" % code)
    if not ok:
        print(pt.tail(os.path.join(work, "lt-leech.err")))
    procs.stop(seeder)

    # aria2 seeds, shoal gets the magnet.
    aport = pt.free_port()
    a2 = aria2(work, "aria2-seed", torrent, seed_dir, aport, seed=True)
    pt.wait_for(lambda: False, 2.0)  # its check of the data
    code, folder = shoal_get(work, "from-aria2", bare + "&x.pe=127.0.0.1:%d" % aport)
    check_get(work, "from-aria2", code, folder, want, ih)
    procs.stop(a2)

    # aria2 gets the magnet; the shoal seeder dials it.
    a2_dir = os.path.join(work, "aria2-dl")
    os.makedirs(a2_dir)
    aport = pt.free_port()
    a2 = aria2(work, "aria2-leech", bare, a2_dir, aport, seed=False)
    pt.wait_for(lambda: False, 1.0)  # until it listens
    seeder, sport = shoal_seed(work, "seed-for-aria2", torrent, seed_dir,
                               "127.0.0.1:%d" % aport)
    code = procs.wait(a2, TIMEOUT)
    ok = code == 0 and pt.same_file(want, os.path.join(a2_dir, "payload.bin"))
    checks.check(ok, "aria2 got metadata and a byte-identical file from shoal (exit %s)"
                 % code)
    if not ok:
        print(pt.tail(os.path.join(work, "aria2-leech.out")))
        print(pt.tail(os.path.join(work, "seed-for-aria2.err")))
    procs.stop(seeder)


if __name__ == "__main__":
    sys.exit(main())
