#!/usr/bin/python3
"""Descriptor exhaustion against `shoal seed` and `shoal tracker`.

Each runs under `ulimit -n 64` (soft and hard, so shoal cannot lift it) and
is sent 200 TCP connections that say nothing. Before the listeners were
guarded, accept() failing with EMFILE left the connection pending, the loop
spun at 100% CPU and libevent wrote "Error from accept() call: Too many open
files" millions of times. Now, over the attack window:
  - each process uses under 10% of a core (utime + stime from /proc),
  - each one's stderr grows by under 100 lines a minute,
  - the tracker answers an honest announce even during the attack (a new
    connection replaces the idle one that waited longest),
and once the connections close the seeder serves a `shoal get` that ends
byte-identical, the tracker answers an announce, and the tracker's
descriptors are back to their count before the attack.

A second tracker runs under `ulimit -n 20`, where the connections it keeps
(three quarters of the limit) and its own descriptors do not fit: there
accept() does fail with EMFILE, and the same bounds on CPU and stderr hold
(its guarded listener pauses and sheds), and it answers once the
connections close.
Every process is started here and stopped by PID; every wait is bounded.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools as pt  # noqa: E402

NOFILE = 64
# The second tracker's limit: too few for the connections it would keep.
NOFILE_TIGHT = 20
CONNS = 200
# Seconds the connections are held and CPU and stderr are measured.
WINDOW = 20.0
MAX_CPU = 0.10
MAX_LINES_PER_MIN = 100
# stderr past this size means a spin: the process is stopped at once.
MAX_ERR_BYTES = 10 * 1024 * 1024
IH = "%bb" * 20
PID = "-XX0001-fdfdfdfdfdfd"

procs = pt.Procs()
checks = pt.Checks("fd exhaustion")
check = checks.check


def limited(args, n=NOFILE):
    """args run under ulimit -n n; exec keeps the PID shoal's."""
    return ["/bin/sh", "-c", 'ulimit -n %d && exec "$0" "$@"' % n] + args


def cpu_ticks(pid):
    """utime + stime of pid, in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def nofile(pid):
    for x in pt.read_text("/proc/%d/limits" % pid).splitlines():
        if x.startswith("Max open files"):
            return int(x.split()[3])
    return None


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def line_count(path):
    return len(pt.read_text(path).splitlines())


def announce(hp, port=7, timeout=5):
    """The body of an honest announce, or None when the tracker does not
    answer."""
    url = ("http://127.0.0.1:%d/announce?info_hash=%s&peer_id=%s&port=%d&compact=1"
           % (hp, IH, PID, port))
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read() if r.status == 200 else None
    except (urllib.error.URLError, ConnectionError, socket.timeout, OSError):
        return None


def open_idle(port, n):
    """n connections that never send; refusals (a full backlog) are
    counted, not fatal."""
    socks, refused = [], 0
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        except OSError:
            refused += 1
            s.close()
            continue
        socks.append(s)
    return socks, refused


def main():
    work = tempfile.mkdtemp(prefix="shoal-fd-exhaustion.")
    socks = []
    try:
        data = os.path.join(work, "share", "fd.bin")
        os.makedirs(os.path.dirname(data))
        with open(data, "wb") as f:
            f.write(os.urandom(3 * 1024 * 1024 + 777))
        torrent = os.path.join(work, "fd.torrent")
        subprocess.run([pt.SHOAL, "create", data, "-o", torrent], check=True,
                       capture_output=True)
        seed_out = os.path.join(work, "seed")
        seeder = procs.start(limited([pt.SHOAL, "seed", torrent, "-d",
                                      os.path.dirname(data), "--port", "0"]), seed_out)
        tr_out = os.path.join(work, "tracker")
        tracker = procs.start(limited([pt.SHOAL, "tracker", "--http", "127.0.0.1:0",
                                       "--udp", "127.0.0.1:0", "--rate", "100000"]), tr_out)
        tight_out = os.path.join(work, "tight")
        tight = procs.start(limited([pt.SHOAL, "tracker", "--http", "127.0.0.1:0",
                                     "--udp", "127.0.0.1:0", "--rate", "100000"],
                                    NOFILE_TIGHT), tight_out)
        port = pt.shoal_port(seed_out)
        state = pt.shoal_state(seed_out)
        ports = pt.tracker_ports(tr_out)
        tports = pt.tracker_ports(tight_out)
        if not port or not state or not ports or not tports:
            print("FAIL  setup: seeder port %s state %r, tracker ports %s %s"
                  % (port, state, ports, tports))
            print(pt.tail(tight_out + ".err"))
            print(pt.tail(seed_out + ".err"))
            print(pt.tail(tr_out + ".err"))
            checks.failures.append("setup")
            return 1
        hp = ports[0]
        thp = tports[0]
        check(nofile(tight.pid) == NOFILE_TIGHT, "the second tracker runs with %d (%s)"
              % (NOFILE_TIGHT, nofile(tight.pid)))
        check(nofile(seeder.pid) == NOFILE and nofile(tracker.pid) == NOFILE,
              "both run with %d descriptors at most (seed %s, tracker %s)"
              % (NOFILE, nofile(seeder.pid), nofile(tracker.pid)))
        check(announce(hp) is not None, "the tracker answers before the attack")
        fds0 = fd_count(tracker.pid)

        watched = (("seed", seeder, seed_out), ("tracker", tracker, tr_out),
                   ("tight tracker", tight, tight_out))
        lines0 = {p.pid: line_count(o + ".err") for _, p, o in watched}
        cpu0 = {p.pid: cpu_ticks(p.pid) for _, p, _ in watched}
        t0 = time.monotonic()
        s1, r1 = open_idle(port, CONNS)
        s2, r2 = open_idle(hp, CONNS)
        s3, r3 = open_idle(thp, CONNS)
        socks = s1 + s2 + s3
        print("      opened %d + %d + %d idle connections (%d + %d + %d refused)"
              % (len(s1), len(s2), len(s3), r1, r2, r3), flush=True)
        asked = False
        while time.monotonic() - t0 < WINDOW:
            # A spinning process writes gigabytes: stop it before it fills the disk.
            for _, p, o in watched:
                if os.path.getsize(o + ".err") > MAX_ERR_BYTES and p.poll() is None:
                    print("      %s: stderr over %d bytes, stopped"
                          % (os.path.basename(o), MAX_ERR_BYTES), flush=True)
                    procs.stop(p, signal.SIGKILL)
            if not asked and time.monotonic() - t0 > WINDOW / 2:
                asked = True
                during = announce(hp, port=8)
                check(during is not None and b"8:intervali" in during,
                      "the tracker answers an honest announce during the attack")
            time.sleep(0.5)
        elapsed = time.monotonic() - t0
        hz = os.sysconf("SC_CLK_TCK")
        for name, p, out in watched:
            alive = p.poll() is None
            check(alive, "%s is still running" % name)
            if not alive:
                continue
            cpu = (cpu_ticks(p.pid) - cpu0[p.pid]) / hz / elapsed
            check(cpu < MAX_CPU, "%s used %.1f%% of a core under attack (bound %d%%)"
                  % (name, 100 * cpu, 100 * MAX_CPU))
            rate = (line_count(out + ".err") - lines0[p.pid]) * 60.0 / elapsed
            check(rate < MAX_LINES_PER_MIN, "%s wrote %.0f stderr lines a minute (bound %d)"
                  % (name, rate, MAX_LINES_PER_MIN))
        err = "".join(pt.read_text(o + ".err") for _, _, o in watched)
        check("Error from accept() call" not in err, "libevent's accept error never printed")
        check("http listener: accept failed: Too many open files" in
              pt.read_text(tight_out + ".err"),
              "the second tracker ran out of descriptors and said so")

        for s in socks:
            s.close()
        socks = []

        # Serving again: a download from the seeder, an announce to the tracker.
        leech = os.path.join(work, "leech")
        os.makedirs(leech)
        get_out = os.path.join(work, "get")
        t1 = time.monotonic()
        getter = procs.start([pt.SHOAL, "get", torrent, "-o", leech, "--port", "0",
                              "--peer", "127.0.0.1:%d" % port], get_out)
        rc = procs.wait(getter, 60)
        same = pt.same_file(data, os.path.join(leech, "fd.bin"))
        check(rc == 0 and same, "shoal get from the seeder after the attack: exit %s, "
              "identical %s, %.1f s" % (rc, same, time.monotonic() - t1))
        if not (rc == 0 and same):
            print(pt.tail(get_out + ".err"))
            print(pt.tail(seed_out + ".err"))
        after = announce(hp, port=9)
        check(after is not None and b"8:intervali" in after,
              "the tracker answers an announce after the attack")
        back = pt.wait_for(lambda: fd_count(tracker.pid) <= fds0, 15, step=0.2)
        check(back, "the tracker's descriptors are back to %d (now %d)"
              % (fds0, fd_count(tracker.pid)))
        after = pt.wait_for(lambda: announce(thp, port=10) is not None, 10, step=0.3)
        check(after, "the second tracker answers an announce after the attack")
        stats = urllib.request.urlopen("http://127.0.0.1:%d/stats" % hp, timeout=5).read()
        print("      tracker /stats: " + stats.decode(errors="replace").strip(), flush=True)
        print(pt.tail(tr_out + ".err", 5), flush=True)
        print(pt.tail(tight_out + ".err", 5), flush=True)
        print(pt.tail(seed_out + ".err", 5), flush=True)
        check(procs.stop(seeder) == pt.EXIT_TERMINATED, "the seeder exits %d on SIGTERM"
              % pt.EXIT_TERMINATED)
        check(procs.stop(tracker) == 0, "the tracker exits 0 on SIGTERM")
        check(procs.stop(tight) == 0, "the second tracker exits 0 on SIGTERM")
    finally:
        for s in socks:
            s.close()
        procs.stop_all()
        checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
