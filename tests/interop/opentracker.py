#!/usr/bin/python3
"""shoal announces to a real tracker: opentracker on 127.0.0.1, once over
HTTP and once over UDP. A shoal seeder and two shoal leechers know only the
tracker's URL (no --peer); both leechers must finish byte-identical.

Debian's opentracker is built with a whitelist, so the test writes the
torrent's infohash into one; it chroots into its folder (-d), so the list is
named relative to that.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                "integration"))
import peer_tools  # noqa: E402

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
procs = peer_tools.Procs()
checks = peer_tools.Checks("opentracker")
check = checks.check



def run_swarm(work, torrent, seed_dir, url, label):
    seeder = procs.start([SHOAL, "seed", torrent, "-d", seed_dir, "--port", "0",
                          "--tracker", url], os.path.join(work, label + "-seed"))
    if not peer_tools.shoal_port(os.path.join(work, label + "-seed")):
        check(False, "%s: seeder started" % label)
        return
    leechers = []
    for i in range(2):
        out = os.path.join(work, "%s-l%d" % (label, i))
        leechers.append((out, procs.start([SHOAL, "get", torrent, "-o", out, "--tracker", url],
                                          out)))
    for out, p in leechers:
        procs.wait(p, 60)
        same = peer_tools.same_file(os.path.join(seed_dir, "data.bin"),
                                    os.path.join(out, "data.bin"))
        check(p.returncode == 0 and same,
              "%s: leecher %s found the seeder through opentracker and finished (exit %s)"
              % (label, os.path.basename(out), p.returncode))
        if not same:
            print(peer_tools.tail(out + ".err"))
    procs.stop(seeder)


def main():
    work = tempfile.mkdtemp(prefix="shoal-opentracker.")
    try:
        seed_dir = os.path.join(work, "seed")
        os.makedirs(seed_dir)
        with open(os.path.join(seed_dir, "data.bin"), "wb") as f:
            f.write(os.urandom(6 * 1024 * 1024 + 999))
        torrent = os.path.join(work, "data.torrent")
        subprocess.run([SHOAL, "create", os.path.join(seed_dir, "data.bin"), "-o", torrent],
                       check=True, capture_output=True)
        info = json.loads(subprocess.run([SHOAL, "info", "--json", torrent], check=True,
                                         capture_output=True).stdout)
        jail = os.path.join(work, "jail")
        os.makedirs(jail)
        with open(os.path.join(jail, "whitelist"), "w") as f:
            f.write(info["infohash"] + "\n")
        port = peer_tools.free_port()
        ot = procs.start(["opentracker", "-i", "127.0.0.1", "-p", str(port), "-P", str(port),
                          "-d", jail, "-w", "/whitelist"], os.path.join(work, "opentracker"))
        time.sleep(0.5)
        check(ot.poll() is None, "opentracker runs on 127.0.0.1:%d" % port)
        run_swarm(work, torrent, seed_dir, "http://127.0.0.1:%d/announce" % port, "http")
        run_swarm(work, torrent, seed_dir, "udp://127.0.0.1:%d" % port, "udp")
    finally:
        procs.stop_all()
        checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
