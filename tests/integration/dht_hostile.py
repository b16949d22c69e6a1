"""Hostile KRPC against a standalone `shoal dht` node on loopback.

The node answers what BEP 5, 43 and 51 say it must (ping, find_node,
get_peers with a token, announce_peer, sample_infohashes; error 204 for an
unknown method, 203 for a bad token) and nothing else: no answer to
garbage, to oversized datagrams, to a query carrying its own id, nor to a
reply it never asked for. One address flooding it is rate-limited; no reply
is larger than 16 times its query or 1400 bytes; a crowd of fake ids leaves
the routing table within its caps; a uTP SYN on its port gets ST_RESET. It
stays up and answers a plain ping at the end.
"""
import os
import signal
import socket
import struct
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_tools import SHOAL, Checks, Procs, bdecode, bencode, read_text, shoal_port, \
    wait_for  # noqa: E402

# What the node promises (src/session/dht.c, codec/krpc.h).
REPLY_FACTOR = 4
REPLY_BUDGET = 1400
RATE_BURST = 20
# Table caps (engine/dht_table.h): 160 buckets of 8, and 8 waiting each.
MAX_NODES = 160 * 16

checks = Checks("dht_hostile")
procs = Procs()
work = tempfile.mkdtemp(prefix="shoal-dht-hostile-")
sizes = []  # (query bytes, reply bytes) of every exchange


def sock(timeout=0.5):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(timeout)
    return s


def ask(s, port, data, timeout=0.5):
    """Sends data to the node and returns the decoded reply, or None. The
    node's own queries (it pings a querier it does not know) are skipped."""
    s.settimeout(timeout)
    s.sendto(data, ("127.0.0.1", port))
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            reply, _ = s.recvfrom(65536)
        except socket.timeout:
            return None
        try:
            msg = bdecode(reply)[0]
        except (ValueError, IndexError):
            return {"undecodable": reply}
        if isinstance(msg, dict) and msg.get(b"y") == b"q":
            continue
        sizes.append((len(data), len(reply)))
        return msg
    return None


def query(q, args, tid=b"aa", nid=None):
    a = dict(args)
    a["id"] = nid if nid is not None else os.urandom(20)
    return bencode({"t": tid, "y": "q", "q": q, "a": a})


def node_id(out):
    for x in read_text(out + ".out").splitlines():
        if x.startswith("dht node id "):
            return bytes.fromhex(x.split()[-1])
    return None


def main():
    out = os.path.join(work, "node")
    node = procs.start([SHOAL, "dht", "--port", "0", "--local-only"], out)
    port = shoal_port(out)
    checks.check(port is not None, "the node prints its port")
    if port is None:
        return
    wait_for(lambda: node_id(out) is not None, 5)
    nid = node_id(out)
    checks.check(nid is not None and len(nid) == 20, "the node prints its id")

    s = sock()
    me = os.urandom(20)
    r = ask(s, port, query("ping", {}, nid=me))
    checks.check(r is not None and r.get(b"y") == b"r" and len(r[b"r"][b"id"]) == 20,
                 "a ping is answered")
    checks.check(r is not None and r.get(b"ip", b"")[:4] == bytes([127, 0, 0, 1]),
                 "the reply tells us our address (BEP 42 ip)")

    r = ask(s, port, query("find_node", {"target": os.urandom(20)}, nid=me))
    checks.check(r is not None and b"nodes" in r.get(b"r", {}), "find_node names nodes")

    # Nothing at all for junk, oversized, our own id, unasked replies.
    s2 = sock()
    checks.check(ask(s2, port, b"hello, world") is None, "garbage gets no answer")
    checks.check(ask(s2, port, b"d1:ai1ee" + b"x" * 10) is None,
                 "trailing bytes after a dictionary get no answer")
    big = bencode({"t": b"bb", "y": "q", "q": "ping",
                   "a": {"id": os.urandom(20), "pad": b"p" * 3000}})
    checks.check(ask(s2, port, big) is None, "an oversized query gets no answer")
    checks.check(ask(s2, port, query("ping", {}, nid=nid)) is None,
                 "a query carrying the node's own id gets no answer")
    unasked = bencode({"t": b"\x00\x07zz", "y": "r", "r": {"id": os.urandom(20)}})
    checks.check(ask(s2, port, unasked) is None, "a reply to a query never sent gets no answer")
    err = bencode({"t": b"\x00\x01\x02\x03", "y": "e", "e": [201, "x"]})
    checks.check(ask(s2, port, err) is None, "an unasked error gets no answer")

    # Methods: unknown → 204; announce with a bad token → 203.
    r = ask(s, port, query("vote", {"target": os.urandom(20)}, nid=me))
    checks.check(r is not None and r.get(b"y") == b"e" and r[b"e"][0] == 204,
                 "an unknown method gets error 204")
    ih = os.urandom(20)
    r = ask(s, port, query("announce_peer", {"info_hash": ih, "port": 4242,
                                             "token": b"forged!!"}, nid=me))
    checks.check(r is not None and r.get(b"y") == b"e" and r[b"e"][0] == 203,
                 "announce_peer with a bad token gets error 203")

    # The honest way: get_peers for a token, then announce, then the peer
    # comes back in values and the infohash in the BEP 51 samples.
    r = ask(s, port, query("get_peers", {"info_hash": ih}, nid=me))
    token = r.get(b"r", {}).get(b"token") if r else None
    checks.check(bool(token), "get_peers hands out a token")
    r = ask(s, port, query("announce_peer", {"info_hash": ih, "port": 4242,
                                             "token": token or b"x"}, nid=me))
    checks.check(r is not None and r.get(b"y") == b"r", "announce_peer with its token is accepted")
    r = ask(s, port, query("announce_peer", {"info_hash": ih, "implied_port": 1, "port": 9,
                                             "token": token or b"x"}, nid=me))
    checks.check(r is not None and r.get(b"y") == b"r", "announce_peer with implied_port")
    r = ask(s, port, query("get_peers", {"info_hash": ih}, nid=me))
    values = r.get(b"r", {}).get(b"values", []) if r else []
    want = {socket.inet_aton("127.0.0.1") + struct.pack(">H", 4242),
            socket.inet_aton("127.0.0.1") + struct.pack(">H", s.getsockname()[1])}
    checks.check(want <= set(values), "get_peers returns both announced peers")
    r = ask(s, port, query("sample_infohashes", {"target": os.urandom(20)}, nid=me))
    rr = r.get(b"r", {}) if r else {}
    checks.check(ih in [rr.get(b"samples", b"")[i:i + 20]
                        for i in range(0, len(rr.get(b"samples", b"")), 20)]
                 and rr.get(b"num") == 1 and rr.get(b"interval", 0) > 0,
                 "sample_infohashes (BEP 51) names the infohash, num and interval")

    # Read-only querier (BEP 43) is answered but not taken into the table.
    ro = bencode({"t": b"cc", "y": "q", "q": "ping", "ro": 1, "a": {"id": os.urandom(20)}})
    checks.check(ask(sock(), port, ro) is not None, "a read-only querier is answered")

    # Flood from one address: the rate limit answers a burst, then drops.
    f = sock(0.05)
    for i in range(200):
        f.sendto(query("ping", {}, tid=struct.pack(">H", i), nid=me), ("127.0.0.1", port))
    time.sleep(0.5)
    answered = 0
    while True:
        try:
            reply, _ = f.recvfrom(65536)
        except socket.timeout:
            break
        answered += b"1:y1:r" in reply
    checks.check(0 < answered <= RATE_BURST + 5,
                 "a flood of 200 pings from one address gets %d answers (at most %d)"
                 % (answered, RATE_BURST + 5))

    # A crowd of fake ids: 150 addresses (ports) x 15 ids each.
    crowd = [sock(0.01) for _ in range(150)]
    for c in crowd:
        for _ in range(15):
            c.sendto(query("find_node", {"target": os.urandom(20)}), ("127.0.0.1", port))
    time.sleep(1.0)
    for c in crowd:
        c.close()
    node.send_signal(signal.SIGUSR1)
    wait_for(lambda: "ipv4:" in read_text(out + ".out"), 5)
    table = read_text(out + ".out")
    summary = [x for x in table.splitlines() if x.startswith("ipv4:")]
    rows = [x for x in table.splitlines() if x.startswith("    ")]
    nodes = int(summary[-1].split()[1]) if summary else -1
    buckets = int(summary[-1].split(",")[-2].split()[0]) if summary else -1
    checks.check(summary and 0 < nodes <= 8 * buckets and len(rows) <= MAX_NODES,
                 "SIGUSR1 prints the table; after 2,250 fake ids it holds %d nodes in %d "
                 "buckets (k = 8 each), %d rows in all" % (nodes, buckets, len(rows)))

    # No amplification.
    worst = max((r / q for q, r in sizes), default=0)
    checks.check(all(r <= REPLY_BUDGET and r <= REPLY_FACTOR * q for q, r in sizes),
                 "no reply exceeds %d bytes or %dx its query (worst %.1fx over %d)"
                 % (REPLY_BUDGET, REPLY_FACTOR, worst, len(sizes)))

    # uTP on the same port: a SYN gets ST_RESET naming its connection id.
    u = sock()
    syn = struct.pack(">BBHIIIHH", 0x41, 0, 0x1234, 1, 0, 65535, 0xbeef, 0)
    u.sendto(syn, ("127.0.0.1", port))
    try:
        reset, _ = u.recvfrom(100)
    except socket.timeout:
        reset = b""
    ok = len(reset) == 20 and reset[0] == 0x31 and reset[2:4] == b"\x12\x34" \
        and reset[18:20] == b"\xbe\xef"
    checks.check(ok, "a uTP SYN on the port gets ST_RESET (type 3, its connection id, ack)")

    r = ask(sock(), port, query("ping", {}), timeout=2)
    checks.check(node.poll() is None and r is not None and r.get(b"y") == b"r",
                 "the node is still up and answers a fresh ping")
    rc = procs.stop(node)
    checks.check(rc == 143, "SIGTERM stops it (exit %s)" % rc)


try:
    main()
finally:
    procs.stop_all()
    checks.finish(work)
sys.exit(checks.exit_code())
