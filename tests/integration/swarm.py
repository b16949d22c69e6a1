#!/usr/bin/python3
"""Swarm and crash tests with several shoal processes on loopback.

    swarm.py swarm   1 seeder + 8 leechers, 64 MiB multi-file torrent: every
                     leecher ends byte-identical, and leechers uploaded to
                     each other (their totals lines say so).
    swarm.py crash   kill -9 a leecher in the middle of a download, run the
                     same command again: it completes byte-identical and
                     fetches again only what was not verified before.

Every process is started here and stopped by PID; every wait is bounded.
"""
import filecmp
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools  # noqa: E402

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
procs = peer_tools.Procs()
failures = []


def log(msg):
    print(msg, flush=True)


def check(cond, what):
    log(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def start(args, name, work):
    return procs.start(args, os.path.join(work, name))


def stop(p, sig=signal.SIGTERM):
    procs.stop(p, sig, grace=15)


def read(path):
    return peer_tools.read_text(path)


def totals(work, name):
    t = peer_tools.totals(read(os.path.join(work, name + ".err")))
    if "pieces" in t:
        t["have"], t["pieces"] = (int(x) for x in t["pieces"].split("/"))
    return t or None


def wait_port(work, name, timeout=15):
    return peer_tools.shoal_port(os.path.join(work, name), timeout)


def same(a, b, files):
    return all(os.path.exists(os.path.join(b, f)) and
               filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False)
               for f in files)


def make_data(work, layout):
    seed = os.path.join(work, "seed")
    files = []
    for rel, size in layout:
        path = os.path.join(seed, "data", rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        files.append(os.path.join("data", rel))
    torrent = os.path.join(work, "data.torrent")
    subprocess.run([SHOAL, "create", os.path.join(seed, "data"), "-o", torrent,
                    "--piece-size", "256K"], check=True, capture_output=True)
    return seed, files, torrent


def swarm(work):
    mib = 1024 * 1024
    seed, files, torrent = make_data(work, [
        ("a/one.bin", 20 * mib + 1234), ("a/b/two.bin", 30 * mib - 77),
        ("three.bin", 14 * mib - 1157), ("empty.txt", 0)])
    nleech = 8
    ports = free_ports(nleech + 1)
    # The seeder is slow on purpose: the swarm only finishes in time when
    # leechers pass pieces on to each other.
    seeder = start([SHOAL, "seed", torrent, "-d", seed, "--port", str(ports[0]),
                    "--max-up", "6M"], "seeder", work)
    if not wait_port(work, "seeder"):
        check(False, "seeder started")
        return
    leechers = []
    for i in range(nleech):
        args = [SHOAL, "get", torrent, "-o", os.path.join(work, "l%d" % i),
                "--port", str(ports[i + 1])]
        for j, port in enumerate(ports):
            if j != i + 1:
                args += ["--peer", "127.0.0.1:%d" % port]
        leechers.append(start(args, "l%d" % i, work))
    end = time.time() + 150
    for p in leechers:
        try:
            p.wait(max(1, end - time.time()))
        except subprocess.TimeoutExpired:
            pass
    for p in leechers:
        stop(p)
    stop(seeder)
    uploaded_by_leechers = 0
    uploaders = 0
    for i, p in enumerate(leechers):
        t = totals(work, "l%d" % i) or {}
        ok = p.returncode == 0 and same(seed, os.path.join(work, "l%d" % i), files)
        check(ok, "leecher %d finished byte-identical (exit %s, uploaded %s)"
              % (i, p.returncode, t.get("uploaded")))
        uploaded_by_leechers += t.get("uploaded", 0)
        uploaders += t.get("uploaded", 0) > 0
    st = totals(work, "seeder") or {}
    log("seeder uploaded %s bytes; leechers uploaded %d bytes in all (%d of %d leechers)"
        % (st.get("uploaded"), uploaded_by_leechers, uploaders, nleech))
    check(uploaders >= nleech // 2 and uploaded_by_leechers > 64 * mib,
          "leechers uploaded to each other")


def crash(work):
    mib = 1024 * 1024
    seed, files, torrent = make_data(work, [("big.bin", 24 * mib + 4321), ("small.txt", 5000)])
    seeder = start([SHOAL, "seed", torrent, "-d", seed, "--port", "0", "--max-up", "3M"],
                   "seeder", work)
    port = wait_port(work, "seeder")
    out = os.path.join(work, "leech")
    args = [SHOAL, "get", torrent, "-o", out, "--peer", "127.0.0.1:%d" % port]
    first = start(args, "first", work)
    time.sleep(5)
    stop(first, signal.SIGKILL)
    check(first.returncode == -signal.SIGKILL, "first leecher killed with SIGKILL")
    second = start(args, "second", work)
    try:
        second.wait(120)
    except subprocess.TimeoutExpired:
        stop(second)
    stop(seeder)
    check(second.returncode == 0 and same(seed, out, files),
          "restarted leecher finished byte-identical (exit %s)" % second.returncode)
    m = re.search(r"(\d+) of (\d+) pieces verified", read(os.path.join(work, "second.err")))
    t = totals(work, "second")
    if not m or not t:
        check(False, "restart reported its starting pieces and totals")
        return
    had, total = int(m.group(1)), int(m.group(2))
    plen = 256 * 1024
    missing = (total - had) * plen
    log("after the crash %d of %d pieces were already verified on disk; the restart "
        "downloaded %d bytes for %d missing bytes" % (had, total, t["downloaded"], missing))
    check(had > 0, "pieces verified before the crash survived it")
    # Only what was missing is fetched again (one extra block of slack for
    # endgame duplicates).
    check(t["downloaded"] <= missing + 16384 * 4,
          "restart fetched only the missing pieces")


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "swarm"
    work = tempfile.mkdtemp(prefix="shoal-%s." % what)
    try:
        {"swarm": swarm, "crash": crash}[what](work)
    finally:
        procs.stop_all()
        if failures:
            log("work folder kept: " + work)
            for name in sorted(os.listdir(work)):
                if name.endswith(".err"):
                    lines = read(os.path.join(work, name)).splitlines()
                    log("--- %s (last lines)" % name)
                    for line in lines[-6:]:
                        log("    " + line)
        else:
            shutil.rmtree(work)
    log("%s: %d failed" % (what, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
