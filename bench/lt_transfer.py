#!/usr/bin/python3
"""The libtorrent side of bench/transfer.sh: one seeder and one leecher on
loopback, each in its own process.

    lt_transfer.py seed  TORRENT DIR [--timeout S]
    lt_transfer.py leech TORRENT DIR --peer HOST:PORT [--timeout S]

Both listen on 127.0.0.1 only, with uTP, encryption, DHT, LSD, UPnP, NAT-PMP
and trackers off. The seeder adds the torrent in seed mode (the files in DIR
are taken as complete), prints "port N" once listening and runs until it is
killed or the timeout passes. The leecher connects to --peer, and once every
piece is verified prints "verified S", the seconds from the start of the
session to the finished alert, and exits 0; it exits 1 on timeout.
"""
import argparse
import signal
import sys
import time

import libtorrent as lt


def make_session():
    alerts = lt.alert.category_t
    return lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "announce_to_all_trackers": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "out_enc_policy": 2,  # disabled
        "in_enc_policy": 2,  # disabled
        "alert_mask": alerts.error_notification | alerts.status_notification,
    })


def add(ses, torrent, save_dir, seed):
    params = lt.add_torrent_params()
    params.ti = lt.torrent_info(torrent)
    params.save_path = save_dir
    params.trackers = []
    if seed:
        params.flags |= lt.torrent_flags.seed_mode
    return ses.add_torrent(params)


def wait_listening(ses, deadline):
    while ses.listen_port() == 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def connect(h, peer):
    host, port = peer.rsplit(":", 1)
    h.connect_peer((host, int(port)))


def report_errors(alerts):
    for a in alerts:
        if a.category() & lt.alert.category_t.error_notification:
            print("alert: %s" % a.message(), file=sys.stderr, flush=True)


def seed(a):
    deadline = time.monotonic() + a.timeout
    ses = make_session()
    add(ses, a.torrent, a.dir, seed=True)
    if not wait_listening(ses, deadline):
        print("lt_transfer: not listening", file=sys.stderr)
        return 1
    print("port %d" % ses.listen_port(), flush=True)
    while time.monotonic() < deadline:
        ses.wait_for_alert(500)
        report_errors(ses.pop_alerts())
    return 0


def leech(a):
    start = time.monotonic()
    deadline = start + a.timeout
    ses = make_session()
    h = add(ses, a.torrent, a.dir, seed=False)
    if not wait_listening(ses, deadline):
        print("lt_transfer: not listening", file=sys.stderr)
        return 1
    connect(h, a.peer)
    last_connect = time.monotonic()
    while time.monotonic() < deadline:
        ses.wait_for_alert(100)
        alerts = ses.pop_alerts()
        report_errors(alerts)
        done = any(isinstance(x, lt.torrent_finished_alert) for x in alerts)
        if done or h.status().is_seeding:
            print("verified %.3f" % (time.monotonic() - start), flush=True)
            return 0
        # Reconnect when the one connection is gone, at most once a second.
        now = time.monotonic()
        if h.status().num_peers == 0 and now - last_connect >= 1:
            connect(h, a.peer)
            last_connect = now
    print("lt_transfer: timed out", file=sys.stderr)
    return 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["seed", "leech"])
    ap.add_argument("torrent")
    ap.add_argument("dir")
    ap.add_argument("--peer")
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    if a.mode == "leech" and not a.peer:
        ap.error("leech needs --peer HOST:PORT")
    # SIGTERM ends the seeder through the normal exit path.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    return seed(a) if a.mode == "seed" else leech(a)


if __name__ == "__main__":
    sys.exit(main())
