#!/usr/bin/python3
"""A libtorrent peer for interop tests and benchmarks, on loopback only.

    lt_peer.py seed  TORRENT DIR [--peer HOST:PORT] [--timeout S] [--use-trackers]
                     [--bind 127.0.0.N]
    lt_peer.py leech TORRENT DIR [--peer HOST:PORT] [--timeout S] [--use-trackers]
                     [--bind 127.0.0.N]
    (both also take --peers-every S: print the connected peers every S seconds,
    "peers: IP:PORT/SOURCES ...", SOURCES the letters of lt.peer_info.source
    (t tracker, d DHT, p PEX, l LSD, r resume data, i incoming); and
    --keep-seed-links: keep connections between two seeds, which libtorrent
    closes by default)

A leech's TORRENT may be a magnet link: the metadata then comes from the
peers (BEP 9) first.

Prints "port N" once listening. A seed runs until killed or the timeout; a
leech exits 0 once every piece is verified (1 on timeout), after its
completed announce was answered when it uses trackers. DHT, LSD, UPnP and
NAT-PMP are off, and trackers too unless --use-trackers (the tests give it
only loopback trackers), so nothing leaves 127.0.0.1.
"""
import argparse
import os
import sys
import time

import libtorrent as lt


def alert_mask(a):
    cat = lt.alert.category_t
    mask = cat.error_notification
    if a.use_trackers:
        mask |= cat.tracker_notification
    if os.environ.get("LT_DEBUG"):
        mask |= cat.peer_notification | cat.connect_notification | cat.tracker_notification
    return mask


def wait_tracker_reply(ses, deadline):
    """Waits for a tracker to answer, so that what a tracker counts (the
    completed announce, the stopped one) does not depend on how fast the
    process exits."""
    while time.time() < deadline:
        for alert in ses.pop_alerts():
            print("alert: %s" % alert.message(), file=sys.stderr, flush=True)
            if isinstance(alert, lt.tracker_reply_alert):
                return True
        time.sleep(0.05)
    return False


def peer_text(p):
    """IP:PORT/SOURCES of a connected peer (see the usage above)."""
    bits = [(lt.peer_info.tracker, "t"), (lt.peer_info.dht, "d"), (lt.peer_info.pex, "p"),
            (lt.peer_info.lsd, "l"), (lt.peer_info.resume_data, "r"), (32, "i")]
    src = "".join(c for bit, c in bits if p.source & bit)
    return "%s:%d/%s" % (p.ip[0], p.ip[1], src or "-")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["seed", "leech"])
    ap.add_argument("torrent")
    ap.add_argument("dir")
    ap.add_argument("--peer", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bind", default="127.0.0.1",
                    help="loopback address to listen on and dial from")
    ap.add_argument("--use-trackers", action="store_true",
                    help="announce to the torrent's trackers (loopback only)")
    ap.add_argument("--peers-every", type=float, default=0)
    ap.add_argument("--keep-seed-links", action="store_true")
    a = ap.parse_args()

    settings = {
        "listen_interfaces": "%s:%d" % (a.bind, a.port),
        "outgoing_interfaces": a.bind,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "announce_to_all_trackers": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": alert_mask(a),
        # shoal speaks TCP and plaintext so far (no uTP, no MSE yet).
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "out_enc_policy": 2,
        "in_enc_policy": 2,
    }
    if a.keep_seed_links:
        settings["close_redundant_connections"] = False
    ses = lt.session(settings)
    if a.torrent.startswith("magnet:"):
        params = lt.parse_magnet_uri(a.torrent)
    else:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(a.torrent)
    params.save_path = a.dir
    if not a.use_trackers:
        params.trackers = []
    if a.mode == "seed":
        params.flags |= lt.torrent_flags.seed_mode
    h = ses.add_torrent(params)
    deadline = time.time() + a.timeout
    while ses.listen_port() == 0 and time.time() < deadline:
        time.sleep(0.05)
    print("port %d" % ses.listen_port(), flush=True)
    for p in a.peer:
        host, port = p.rsplit(":", 1)
        h.connect_peer((host, int(port)))
    start = time.time()
    next_peers = start
    while time.time() < deadline:
        if a.peers_every and time.time() >= next_peers:
            next_peers = time.time() + a.peers_every
            print("peers: " + " ".join(peer_text(p) for p in h.get_peer_info()), flush=True)
        st = h.status()
        if a.mode == "leech" and st.is_seeding:
            print("done %.3f s" % (time.time() - start), flush=True)
            if a.use_trackers:
                wait_tracker_reply(ses, min(deadline, time.time() + 10))
                ses.remove_torrent(h)
                wait_tracker_reply(ses, min(deadline, time.time() + 5))
            return 0
        for alert in ses.pop_alerts():
            print("alert: %s" % alert.message(), file=sys.stderr, flush=True)
        if a.mode == "leech" and a.peer and st.num_peers == 0:
            for p in a.peer:
                host, port = p.rsplit(":", 1)
                h.connect_peer((host, int(port)))
        time.sleep(0.1)
    return 1 if a.mode == "leech" else 0


if __name__ == "__main__":
    sys.exit(main())
