#!/usr/bin/python3
"""libtorrent's DHT and shoal's on loopback, bootstrapped to each other.

A `shoal dht` node S and a libtorrent session L (DHT on, bootstrapped from
S; its checks against loopback and shared addresses turned off, since every
node here is 127.0.0.1) join one network. Then:
  - L announces an infohash (a torrent added by infohash alone, as from
    a magnet; announce_peer to S); a `shoal dht lookup`
    that knows only L finds L's peer through get_peers (L's nodes, S's
    values);
  - a `shoal dht lookup --announce 5555` that knows only L announces
    another infohash; L's own get_peers finds 127.0.0.1:5555, and L's
    store took shoal's announce_peer (its dht.dht_torrents counter).
S's table (SIGUSR1) shows L as a good node: L answered S's queries.
Last, libtorrent with uTP on dials a shoal seeder: its uTP attempt on the
port shoal's UDP socket shares with TCP gets a reset, and it falls back to
TCP at once.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from peer_tools import SHOAL, Checks, Procs, read_text, shoal_port, wait_for  # noqa: E402

try:
    import libtorrent as lt
except ImportError:
    print("SKIP: the libtorrent Python bindings are not installed (python3-libtorrent)")
    sys.exit(0)

checks = Checks("dht_libtorrent")
procs = Procs()
work = tempfile.mkdtemp(prefix="shoal-dht-lt-")


def lt_session(boot):
    cat = lt.alert.category_t
    return lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "outgoing_interfaces": "127.0.0.1",
        "enable_dht": True,
        "dht_bootstrap_nodes": boot,
        # Every node here is 127.0.0.1: libtorrent must take several nodes
        # of one address, unverified ids (BEP 42 is not for loopback), and
        # "dark" (non-routable) addresses.
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_enforce_node_id": False,
        "dht_prefer_verified_node_ids": False,
        "dht_ignore_dark_internet": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "alert_mask": cat.dht_notification | cat.dht_operation_notification
        | cat.error_notification | cat.stats_notification,
    })


def lt_metric(ses, name, timeout=5):
    """A session counter of L (session_stats_alert), or None."""
    idx = lt.find_metric_idx(name)
    ses.post_session_stats()
    end = time.time() + timeout
    while time.time() < end:
        for a in ses.pop_alerts():
            if isinstance(a, lt.session_stats_alert):
                return a.values[name] if isinstance(a.values, dict) else a.values[idx]
        time.sleep(0.05)
    return None


def lt_get_peers(ses, ih, timeout=20):
    """Runs L's get_peers for ih until a reply names peers; returns them as
    "ip:port" strings."""
    found = set()
    end = time.time() + timeout
    ses.dht_get_peers(lt.sha1_hash(ih))
    next_try = time.time() + 5
    while time.time() < end and not found:
        for a in ses.pop_alerts():
            if isinstance(a, lt.dht_get_peers_reply_alert):
                for p in a.peers():
                    ip, port = (p[0], p[1]) if isinstance(p, tuple) else (p.address, p.port)
                    found.add("%s:%d" % (ip, port))
        if time.time() > next_try:
            ses.dht_get_peers(lt.sha1_hash(ih))
            next_try = time.time() + 5
        time.sleep(0.05)
    return found


def shoal_lookup(*args, timeout=40):
    r = subprocess.run([SHOAL, "dht", "lookup"] + list(args), capture_output=True, text=True,
                       timeout=timeout, env=dict(os.environ, SHOAL_LOCAL_ONLY="1"))
    return r.returncode, r.stdout.split(), r.stderr


def main():
    sout = os.path.join(work, "s")
    s = procs.start([SHOAL, "dht", "--port", "0"], sout)
    sport = shoal_port(sout)
    checks.check(sport is not None, "shoal dht node S runs (port %s)" % sport)
    if sport is None:
        return
    ses = lt_session("127.0.0.1:%d" % sport)
    lport = ses.listen_port()
    checks.check(lport > 0, "libtorrent node L runs (port %d)" % lport)

    def s_knows_l():
        s.send_signal(signal.SIGUSR1)
        time.sleep(0.3)
        return ("127.0.0.1:%d good" % lport) in read_text(sout + ".out")
    checks.check(wait_for(s_knows_l, 30, step=1.0),
                 "S's routing table holds L as a good node (L answers shoal's queries)")

    # L announces; shoal, knowing only L, finds it.
    # (A torrent known by its infohash alone, as from a magnet: libtorrent
    # announces it to the DHT on start. Its Python dht_announce() cannot be
    # called in 2.0: the flags type is not exposed.)
    ih1 = os.urandom(20)
    params = lt.parse_magnet_uri("magnet:?xt=urn:btih:" + ih1.hex())
    params.save_path = os.path.join(work, "lt")
    ses.add_torrent(params)
    want = "127.0.0.1:%d" % lport
    rc, peers, err = shoal_lookup(ih1.hex(), "--bootstrap", "127.0.0.1:%d" % lport,
                                  "--timeout", "40", timeout=60)
    checks.check(rc == 0 and want in peers,
                 "a shoal lookup through L finds the peer libtorrent announced, %s "
                 "(exit %d; %s)" % (want, rc, err.strip().splitlines()[-1:] or ""))

    # shoal announces through L; libtorrent's get_peers finds it.
    ih2 = os.urandom(20)
    before = lt_metric(ses, "dht.dht_torrents") or 0
    rc, peers, err = shoal_lookup(ih2.hex(), "--bootstrap", "127.0.0.1:%d" % lport,
                                  "--announce", "5555", "--timeout", "4")
    checks.check("announced" in err, "a shoal lookup announces 127.0.0.1:5555 through L")
    time.sleep(1)
    after = lt_metric(ses, "dht.dht_torrents")
    checks.check(after is not None and after > before,
                 "L stored shoal's announce_peer (dht.dht_torrents %s -> %s)"
                 % (before, after))
    found = lt_get_peers(ses, ih2)
    checks.check("127.0.0.1:5555" in found,
                 "libtorrent's get_peers finds the peer shoal announced (%s)"
                 % (sorted(found) or "none"))
    del ses
    rc = procs.stop(s)
    checks.check(rc == 143, "S stops on SIGTERM (exit %s)" % rc)
    utp_falls_back()


def utp_falls_back():
    """libtorrent with uTP on tries uTP first on the port shoal's UDP socket
    shares with TCP: the reset makes it fall back to TCP at once."""
    data = os.path.join(work, "share", "f.bin")
    os.makedirs(os.path.dirname(data))
    with open(data, "wb") as f:
        f.write(os.urandom(1_000_000))
    tor = os.path.join(work, "f.torrent")
    subprocess.run([SHOAL, "create", data, "-o", tor], check=True, capture_output=True)
    sout = os.path.join(work, "seed")
    seed = procs.start([SHOAL, "seed", tor, "-d", os.path.dirname(data), "--port", "0"], sout)
    port = shoal_port(sout)
    cat = lt.alert.category_t
    ses = lt.session({"listen_interfaces": "127.0.0.1:0", "enable_dht": False,
                      "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
                      "enable_outgoing_utp": True, "enable_incoming_utp": True,
                      "out_enc_policy": 2, "in_enc_policy": 2,
                      "alert_mask": cat.peer_notification | cat.connect_notification})
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(tor)
    params.save_path = os.path.join(work, "lt-got")
    h = ses.add_torrent(params)
    t0 = time.time()
    h.connect_peer(("127.0.0.1", port))
    reset = False
    while time.time() - t0 < 30 and not h.status().is_seeding:
        for a in ses.pop_alerts():
            m = a.message()
            reset |= "uTP" in m and "reset" in m.lower()
        time.sleep(0.05)
    took = time.time() - t0
    checks.check(reset, "libtorrent's uTP connect to shoal's port is reset")
    checks.check(h.status().is_seeding and took < 10,
                 "libtorrent falls back to TCP and downloads in %.1f s" % took)
    del ses
    procs.stop(seed)


try:
    main()
finally:
    procs.stop_all()
    checks.finish(work)
sys.exit(checks.exit_code())
