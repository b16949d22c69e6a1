#!/usr/bin/python3
"""Disk trouble under a running torrent, on a small tmpfs of our own.

    disk_states.py full      the download folder fills up: the leecher says
                             "disk full", keeps what it verified, and finishes
                             by itself once the folder has room again.
    disk_states.py readonly  the download folder is read-only: the leecher
                             says "read-only", then finishes by itself once the
                             folder is writable again.
    disk_states.py missing   a file is deleted under a seeder: it says "files
                             missing" and stops serving: a leecher that connects
                             to it gets no byte, the seeder uploads none.

Needs root to mount the tmpfs (CI runs as root); every mount is undone.
"""
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools  # noqa: E402

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
procs = peer_tools.Procs()
mounts = []
failures = []


def log(msg):
    print(msg, flush=True)


def check(cond, what):
    log(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


def start(args, name, work):
    return procs.start(args, os.path.join(work, name))


def stop(p):
    procs.stop(p, grace=15)


read = peer_tools.read_text
wait_for = peer_tools.wait_for


def port_of(work, name):
    return peer_tools.shoal_port(os.path.join(work, name), 15)


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", path], check=True)
    mounts.append(path)


def make_torrent(work, size):
    seed = os.path.join(work, "seed")
    os.makedirs(seed)
    with open(os.path.join(seed, "data.bin"), "wb") as f:
        f.write(os.urandom(size))
    torrent = os.path.join(work, "data.torrent")
    subprocess.run([SHOAL, "create", os.path.join(seed, "data.bin"), "-o", torrent,
                    "--piece-size", "256K"], check=True, capture_output=True)
    return seed, torrent


def leech_through(work, mode):
    mib = 1024 * 1024
    seed, torrent = make_torrent(work, 12 * mib)
    dl = os.path.join(work, "dl")
    mount_tmpfs(dl, "6m" if mode == "full" else "32m")
    if mode == "readonly":
        # The folder is there but cannot be written (a full remount cannot
        # happen under open files, so it starts read-only).
        subprocess.run(["mount", "-o", "remount,ro", dl], check=True)
    seeder = start([SHOAL, "seed", torrent, "-d", seed, "--port", "0", "--max-up", "4M"],
                   "seeder", work)
    port = port_of(work, "seeder")
    leecher = start([SHOAL, "get", torrent, "-o", dl, "--peer", "127.0.0.1:%d" % port],
                    "leecher", work)
    err = os.path.join(work, "leecher.err")
    want = "disk full" if mode == "full" else "read-only"
    saw = wait_for(lambda: want in read(err), 40)
    check(saw, "leecher reports '%s'" % want)
    check(leecher.poll() is None, "leecher keeps running while the disk is unusable")
    # Give the folder its room or its writes back; the torrent must go on
    # by itself.
    opts = "remount,size=32m" if mode == "full" else "remount,rw"
    subprocess.run(["mount", "-o", opts, dl], check=True)
    try:
        leecher.wait(90)
    except subprocess.TimeoutExpired:
        stop(leecher)
    stop(seeder)
    same = os.path.exists(os.path.join(dl, "data.bin")) and filecmp.cmp(
        os.path.join(seed, "data.bin"), os.path.join(dl, "data.bin"), shallow=False)
    check(leecher.returncode == 0 and same,
          "leecher finished byte-identical after the disk recovered (exit %s)"
          % leecher.returncode)


def totals(work, name):
    """(downloaded, uploaded) from the totals line a shoal process prints as
    it stops, or None when it printed none."""
    t = re.search(r"totals: downloaded=(\d+) uploaded=(\d+)",
                  read(os.path.join(work, name + ".err")))
    return (int(t.group(1)), int(t.group(2))) if t else None


def missing(work):
    seed, torrent = make_torrent(work, 4 * 1024 * 1024)
    seeder = start([SHOAL, "seed", torrent, "-d", seed, "--port", "0", "-v"], "seeder",
                   work)
    port = port_of(work, "seeder")
    check(port is not None, "seeder started")
    # The seeder has had no peer yet: every byte it uploads from now on is
    # data of the deleted file (its cached descriptor could still read it).
    os.unlink(os.path.join(seed, "data.bin"))
    saw = wait_for(lambda: "files missing" in read(os.path.join(work, "seeder.err")), 30)
    check(saw, "seeder reports 'files missing' after its file was deleted")
    dl = os.path.join(work, "dl")
    leecher = start([SHOAL, "get", torrent, "-o", dl, "--peer", "127.0.0.1:%d" % port,
                     "-v"], "leecher", work)
    # Without a connection "nothing was uploaded" would prove nothing.
    met = wait_for(lambda: "127.0.0.1:%d: outgoing" % port in read(
        os.path.join(work, "leecher.err")), 30)
    check(met, "the leecher completes a handshake with the seeder")
    # Loopback moves the whole 4 MiB in milliseconds; give it ample time.
    time.sleep(3)
    check(leecher.poll() is None, "the leecher is still waiting for data")
    stop(leecher)
    stop(seeder)
    check(not os.path.exists(os.path.join(seed, "data.bin")),
          "the seeder did not download or recreate the deleted file")
    up = totals(work, "seeder")
    check(up is not None and up[1] == 0,
          "the seeder uploaded no byte of the deleted file (totals %s)" % (up,))
    down = totals(work, "leecher")
    check(down is not None and down[0] == 0,
          "the leecher got no byte from it (totals %s)" % (down,))


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "full"
    if os.geteuid() != 0:
        log("disk states: needs root to mount a tmpfs; 0 passed, 1 failed")
        return 1
    work = tempfile.mkdtemp(prefix="shoal-disk-%s." % what)
    try:
        if what == "missing":
            missing(work)
        else:
            leech_through(work, what)
    finally:
        procs.stop_all()
        for m in reversed(mounts):
            subprocess.run(["umount", "-l", m])
        if failures:
            log("work folder kept: " + work)
            for name in ("leecher.err", "seeder.err"):
                lines = read(os.path.join(work, name)).splitlines()
                log("--- %s (last lines)" % name)
                for line in lines[-8:]:
                    log("    " + line)
        else:
            shutil.rmtree(work)
    log("disk %s: %d failed" % (what, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
