"""A DHT network of shoal nodes on loopback, and a node that comes back.

Three `shoal dht` nodes (A with a state file, B and C bootstrapped from A)
form a network; `shoal dht lookup --announce` announces a peer through A.
Then A stops (saving its table) and a lookup that starts from A's saved
table, with no bootstrap node at all, finds the peer: the restart needs no
router. The same lookup without the table finds nothing (exit 1), so it was
the table that did it. A bad infohash is refused with exit 2. Over IPv6
(BEP 32) a lookup through A's ::1 socket, on the same port number, finds a
peer announced there.

Then the session commands: a `shoal seed` of a torrent with no tracker,
bootstrapped from A's network, announces itself, and a `shoal get` of the
same torrent, which knows only the bootstrap node, finds the seeder through
the DHT and downloads the file byte-identical.
"""
import os
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_tools import SHOAL, Checks, Procs, bdecode, read_text, same_file, shoal_port, \
    tail, wait_for  # noqa: E402

checks = Checks("dht_restart")
procs = Procs()
work = tempfile.mkdtemp(prefix="shoal-dht-restart-")
IH = "5a" * 20


def node(name, *args):
    out = os.path.join(work, name)
    p = procs.start([SHOAL, "dht", "--port", "0"] + list(args), out)
    return p, out, shoal_port(out)


def lookup(*args, timeout=40):
    r = subprocess.run([SHOAL, "dht", "lookup"] + list(args), capture_output=True, text=True,
                       timeout=timeout, env=dict(os.environ, SHOAL_LOCAL_ONLY="1"))
    return r.returncode, r.stdout.split(), r.stderr


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def table_nodes(out):
    """The node counts of the last table a node printed."""
    rows = [x for x in read_text(out + ".out").splitlines() if x.startswith("ipv4:")]
    return int(rows[-1].split()[1]) if rows else 0


def main():
    state = os.path.join(work, "a.dat")
    a, aout, pa = node("a", "--state", state, "--table")
    checks.check(pa is not None, "node A runs (port %s)" % pa)
    if pa is None:
        return
    boot = "127.0.0.1:%d" % pa
    b, bout, pb = node("b", "--bootstrap", boot)
    c, cout, pc = node("c", "--bootstrap", boot)
    checks.check(pb and pc, "nodes B and C run")
    # A prints its table 5 s after start: by then B and C have joined.
    checks.check(wait_for(lambda: table_nodes(aout) >= 2, 15),
                 "A's table (--table) holds B and C")

    rc, peers, err = lookup(IH, "--bootstrap", boot, "--announce", "7777", "--timeout", "5")
    checks.check("announced" in err, "a lookup announces port 7777 for the infohash")
    rc, peers, err = lookup(IH, "--bootstrap", boot, "--timeout", "20")
    checks.check(rc == 0 and "127.0.0.1:7777" in peers,
                 "another lookup through A finds 127.0.0.1:7777 (exit %d)" % rc)

    # IPv6 (BEP 32): the same over ::1, on the same port number.
    if have_ipv6():
        ih6 = "6b" * 20
        rc, peers, err = lookup(ih6, "--bootstrap", "[::1]:%d" % pa, "--announce", "6666",
                                "--timeout", "5")
        rc, peers, err = lookup(ih6, "--bootstrap", "[::1]:%d" % pa, "--timeout", "20")
        checks.check(rc == 0 and "[::1]:6666" in peers,
                     "over IPv6, a lookup through [::1]:%d finds [::1]:6666 (exit %d)"
                     % (pa, rc))
    else:
        print("skip  IPv6: this host has no ::1")

    rc = procs.stop(a)
    checks.check(rc == 143 and os.path.exists(state), "A stops and leaves its table in a file")
    with open(state, "rb") as f:
        saved = bdecode(f.read())[0]
    checks.check(len(saved.get(b"id", b"")) == 20 and len(saved.get(b"nodes", b"")) >= 2 * 26,
                 "the file holds A's id and at least B and C as compact nodes")

    # No bootstrap node: only the saved table.
    rc, peers, err = lookup(IH, "--state", state, "--timeout", "20")
    checks.check(rc == 0 and "127.0.0.1:7777" in peers,
                 "a node restarted from the saved table, with no bootstrap node, finds "
                 "the peer (exit %d)%s" % (rc, "" if rc == 0 else "\n" + err))
    rc, peers, err = lookup(IH, "--timeout", "3")
    checks.check(rc == 1 and not peers, "without the table and bootstrap it finds none "
                 "(exit %d)" % rc)
    rc, peers, err = lookup("not-an-infohash", "--timeout", "3")
    checks.check(rc == 2 and "infohash" in err, "a bad infohash is refused with exit 2")

    # A trackerless torrent: seed and get meet through the DHT alone.
    data = os.path.join(work, "share", "notes.bin")
    os.makedirs(os.path.dirname(data))
    with open(data, "wb") as f:
        f.write(os.urandom(700_000))
    torrent = os.path.join(work, "notes.torrent")
    subprocess.run([SHOAL, "create", data, "-o", torrent], check=True, capture_output=True)
    boot = "127.0.0.1:%d" % pb
    sout = os.path.join(work, "seed")
    seed = procs.start([SHOAL, "seed", torrent, "-d", os.path.dirname(data), "--port", "0",
                        "--dht-bootstrap", boot], sout)
    checks.check(shoal_port(sout) is not None, "a seeder of a torrent with no tracker runs")
    gdir = os.path.join(work, "got")
    gout = os.path.join(work, "get")
    get = procs.start([SHOAL, "get", torrent, "-o", gdir, "--port", "0", "--dht-bootstrap",
                       boot], gout)
    rc = procs.wait(get, 60)
    checks.check(rc == 0 and same_file(data, os.path.join(gdir, "notes.bin")),
                 "shoal get, knowing only a DHT node, finds the seeder and downloads the file "
                 "byte-identical (exit %s)%s" % (rc, "" if rc == 0 else "\n" + tail(gout + ".err")))
    procs.stop(seed)
    for p in (b, c):
        procs.stop(p)


try:
    main()
finally:
    procs.stop_all()
    checks.finish(work)
sys.exit(checks.exit_code())
