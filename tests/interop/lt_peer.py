#!/usr/bin/python3
"""A libtorrent peer for interop tests and benchmarks, on loopback only.

    lt_peer.py seed  TORRENT DIR [--peer HOST:PORT] [--timeout S]
    lt_peer.py leech TORRENT DIR [--peer HOST:PORT] [--timeout S]

Prints "port N" once listening. A seed runs until killed or the timeout; a
leech exits 0 once every piece is verified (1 on timeout). DHT, LSD, UPnP,
NAT-PMP and trackers are off, so nothing leaves 127.0.0.1.
"""
import argparse
import sys
import time

import libtorrent as lt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["seed", "leech"])
    ap.add_argument("torrent")
    ap.add_argument("dir")
    ap.add_argument("--peer", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--use-trackers", action="store_true",
                    help="announce to the torrent's trackers (loopback only)")
    a = ap.parse_args()

    settings = {
        "listen_interfaces": "127.0.0.1:%d" % a.port,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "announce_to_all_trackers": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": lt.alert.category_t.error_notification | (lt.alert.category_t.peer_notification if __import__("os").environ.get("LT_DEBUG") else 0) | (lt.alert.category_t.connect_notification if __import__("os").environ.get("LT_DEBUG") else 0) | (lt.alert.category_t.tracker_notification if __import__("os").environ.get("LT_DEBUG") else 0),
        # shoal speaks TCP and plaintext so far (no uTP, no MSE yet).
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "out_enc_policy": 2,
        "in_enc_policy": 2,
    }
    ses = lt.session(settings)
    ti = lt.torrent_info(a.torrent)
    params = lt.add_torrent_params()
    params.ti = ti
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
    while time.time() < deadline:
        st = h.status()
        if a.mode == "leech" and st.is_seeding:
            print("done %.3f s" % (time.time() - start), flush=True)
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
