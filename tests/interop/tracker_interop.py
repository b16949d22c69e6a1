#!/usr/bin/python3
"""Real clients on shoal's tracker, on loopback: a Transmission seeder, a
libtorrent leecher and an aria2c leecher all point at `shoal tracker` (once
over HTTP, once over UDP), find each other through it and finish with
byte-identical files. Every process is started here and stopped by PID.
"""
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import peer_tools  # noqa: E402
import swarm_interop  # noqa: E402

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
procs = peer_tools.Procs()
failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what, flush=True)
    if not cond:
        failures.append(what)


def tracker_ports(out):
    def read():
        text = peer_tools.read_text(out + ".out")
        h = [int(x.split()[-1]) for x in text.splitlines() if x.startswith("http on port")]
        u = [int(x.split()[-1]) for x in text.splitlines() if x.startswith("udp on port")]
        return (h[0], u[0]) if h and u else None
    peer_tools.wait_for(lambda: read() is not None, 10)
    return read()


def run(work, proto, hp, up):
    url = "http://127.0.0.1:%d/announce" % hp if proto == "http" else "udp://127.0.0.1:%d" % up
    seed = os.path.join(work, proto + "-seed")
    os.makedirs(seed)
    with open(os.path.join(seed, "movie.bin"), "wb") as f:
        f.write(os.urandom(8 * 1024 * 1024 + 4321))
    torrent = os.path.join(work, proto + ".torrent")
    subprocess.run([SHOAL, "create", os.path.join(seed, "movie.bin"), "-o", torrent, "-t", url,
                    "--piece-size", "256K"], check=True, capture_output=True)
    cfg = swarm_interop.transmission_config(work, proto + "-tr")
    tr = procs.start(["transmission-cli", "-g", cfg, "-w", seed, "-p",
                      str(peer_tools.free_port()), "-et", "-M", torrent],
                     os.path.join(work, proto + "-tr"))
    lt_dir = os.path.join(work, proto + "-lt")
    os.makedirs(lt_dir)
    lt = procs.start(["/usr/bin/python3", os.path.join(HERE, "lt_peer.py"), "leech", torrent,
                      lt_dir, "--use-trackers", "--timeout", "120"],
                     os.path.join(work, proto + "-lt"))
    ar_dir = os.path.join(work, proto + "-aria2")
    os.makedirs(ar_dir)
    ar = procs.start(["aria2c", "--dir", ar_dir, "--listen-port", str(peer_tools.free_port()),
                      "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
                      "--enable-peer-exchange=false", "--seed-time=0", "--seed-ratio=0",
                      "--bt-require-crypto=false", "--file-allocation=none",
                      "--summary-interval=0", "--disable-ipv6=true", "--console-log-level=warn",
                      torrent], os.path.join(work, proto + "-aria2"))
    src = os.path.join(seed, "movie.bin")
    for name, p, folder in (("libtorrent", lt, lt_dir), ("aria2c", ar, ar_dir)):
        try:
            p.wait(150)
        except subprocess.TimeoutExpired:
            procs.stop(p)
        got = os.path.join(folder, "movie.bin")
        same = os.path.exists(got) and filecmp.cmp(src, got, shallow=False)
        check(p.returncode == 0 and same, "%s: %s leecher found the Transmission seeder "
              "through shoal's tracker and finished (exit %s)" % (proto, name, p.returncode))
        if not same:
            print(peer_tools.tail(os.path.join(work, proto + "-" +
                                               ("lt" if name == "libtorrent" else "aria2")
                                               + ".err")))
    procs.stop(tr)


def main():
    work = tempfile.mkdtemp(prefix="shoal-tracker-interop.")
    try:
        out = os.path.join(work, "tracker")
        procs.start([SHOAL, "tracker", "--http", "127.0.0.1:0", "--udp", "127.0.0.1:0",
                     "--interval", "10"], out)
        ports = tracker_ports(out)
        check(ports is not None, "shoal tracker started")
        if ports:
            for proto in ("http", "udp"):
                run(work, proto, *ports)
    finally:
        procs.stop_all()
        if failures:
            print("work folder kept: " + work)
        else:
            shutil.rmtree(work)
    print("tracker interop: %d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
