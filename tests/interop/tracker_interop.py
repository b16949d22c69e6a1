#!/usr/bin/python3
"""Real clients on shoal's tracker, on loopback: a Transmission seeder, a
libtorrent leecher and an aria2c leecher all point at `shoal tracker` (once
over HTTP, once over UDP), find each other through it and finish with
byte-identical files. DHT, PEX and local discovery are off in every client
and no peer address is given, so the tracker is the only way they meet.
Every process is started here and stopped by PID.

Transmission never dials a 127.0.0.0/8 address it hears from a tracker (it
counts them as martian), so on loopback the leechers must dial it: the
leechers start only once a scrape shows Transmission's seeder in the swarm.
libtorrent then hears of it in its first announce (it would not announce
again for five minutes: its minimum announce interval). Transmission also
keeps one connection per address, so each client has a loopback address of
its own: Transmission 127.0.0.1, libtorrent 127.0.0.2, aria2 127.0.0.3.
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import peer_tools  # noqa: E402
import swarm_interop  # noqa: E402
import tracker_swarm  # noqa: E402

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
procs = peer_tools.Procs()
checks = peer_tools.Checks("tracker interop")
check = checks.check



def wait_scrape(hp, ih, pred, timeout):
    got = [None]

    def look():
        try:
            got[0] = tracker_swarm.scrape(hp, ih)
        except (OSError, KeyError):
            return False
        return pred(got[0])
    peer_tools.wait_for(look, timeout, 0.2)
    return got[0]


def start_leechers(work, proto, torrent):
    lt_dir = os.path.join(work, proto + "-lt")
    os.makedirs(lt_dir)
    lt = procs.start(["/usr/bin/python3", os.path.join(HERE, "lt_peer.py"), "leech", torrent,
                      lt_dir, "--use-trackers", "--timeout", "90", "--bind", "127.0.0.2"],
                     os.path.join(work, proto + "-lt"))
    ar_dir = os.path.join(work, proto + "-aria2")
    os.makedirs(ar_dir)
    # aria2 speaks to UDP trackers through its DHT socket, so its DHT is on,
    # with an empty routing table of its own and no entry point: it has
    # nobody to send to but loopback peers.
    ar = procs.start(["aria2c", "--dir", ar_dir, "--listen-port", str(peer_tools.free_port()),
                      "--enable-dht=true", "--dht-listen-port", str(peer_tools.free_port()),
                      "--dht-file-path", os.path.join(work, proto + "-aria2.dht"),
                      "--interface=127.0.0.3", "--enable-dht6=false", "--bt-enable-lpd=false",
                      "--enable-peer-exchange=false", "--seed-time=0.1", "--seed-ratio=0",
                      "--bt-require-crypto=false", "--file-allocation=none",
                      "--summary-interval=0", "--disable-ipv6=true", "--console-log-level=warn",
                      "--bt-stop-timeout=90", "--log-level=info",
                      "-l", os.path.join(work, proto + "-aria2.log"), torrent], os.path.join(work, proto + "-aria2"))
    return (("libtorrent", lt, lt_dir, "-lt"), ("aria2c", ar, ar_dir, "-aria2"))


def run(work, proto, hp, up):
    url = "http://127.0.0.1:%d/announce" % hp if proto == "http" else "udp://127.0.0.1:%d" % up
    seed = os.path.join(work, proto + "-seed")
    os.makedirs(seed)
    src = os.path.join(seed, "movie.bin")
    with open(src, "wb") as f:
        f.write(os.urandom(8 * 1024 * 1024 + 4321))
    torrent = os.path.join(work, proto + ".torrent")
    subprocess.run([SHOAL, "create", src, "-o", torrent, "-t", url, "--piece-size", "256K"],
                   check=True, capture_output=True)
    ih = peer_tools.Torrent(torrent).infohash
    cfg = swarm_interop.transmission_config(work, proto + "-tr")
    tr = procs.start(["transmission-cli", "-g", cfg, "-w", seed, "-p",
                      str(peer_tools.free_port()), "-et", "-M", torrent],
                     os.path.join(work, proto + "-tr"))
    got = wait_scrape(hp, ih, lambda c: c[0] == 1, 30)
    check(got is not None and got[0] == 1, "%s: Transmission's seeder announced to shoal's "
          "tracker (scrape: %s)" % (proto, got))
    for name, p, folder, log in start_leechers(work, proto, torrent):
        procs.wait(p, 100)
        got = os.path.join(folder, "movie.bin")
        same = peer_tools.same_file(src, got)
        check(p.returncode == 0 and same, "%s: %s leecher found the Transmission seeder "
              "through shoal's tracker and finished byte-identical (exit %s)"
              % (proto, name, p.returncode))
        if not same:
            print(peer_tools.tail(os.path.join(work, proto + log + ".err")))
    # Both leechers told the tracker they completed, then that they left.
    got = wait_scrape(hp, ih, lambda c: c == (1, 0, 2), 15)
    check(got == (1, 0, 2), "%s: scrape shows Transmission alone with 2 completed downloads "
          "once the leechers left (scrape: %s)" % (proto, got))
    procs.stop(tr)


def main():
    work = tempfile.mkdtemp(prefix="shoal-tracker-interop.")
    try:
        out = os.path.join(work, "tracker")
        procs.start([SHOAL, "tracker", "--http", "127.0.0.1:0", "--udp", "127.0.0.1:0",
                     "--interval", "10"], out)
        ports = peer_tools.tracker_ports(out)
        check(ports is not None, "shoal tracker started")
        if ports:
            for proto in ("http", "udp"):
                run(work, proto, *ports)
    finally:
        procs.stop_all()
        checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
