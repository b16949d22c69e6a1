#!/usr/bin/python3
"""`shoal get MAGNET` on loopback, run by test_magnet.sh.

A `shoal seed` serves a 3 MB file; leechers know nothing but the magnet
link with the seeder as x.pe. Checked:
  - one leecher: the file is byte-identical, NAME.torrent is written beside
    it with the same infohash, and the same command run again uses that
    file (no metadata exchange, nothing downloaded);
  - four leechers at once, each fetching the metadata itself;
  - hostile peers named in the magnet before the honest seeder is up: one
    sends metadata that does not hash to the infohash (dropped, never asked
    again, warning shown), one claims a metadata size over 16 MiB, one sends
    a malformed ut_metadata message (closed with the reason); the download
    still completes from the seeder once it starts;
  - a peer asking the seeder for its metadata over and over gets data for
    at most the serving bound, then rejects;
  - a magnet's so= (BEP 53) selects files of a multi-file torrent, and a
    --only the torrent cannot take stops the run once the metadata is there,
    with the same message and exit 2 as for a .torrent;
  - a peer whose bitfield before the metadata has the wrong length is
    closed once the piece count is known;
  - a magnet with a bad infohash exits 2 with the reason.
Every process is started here and stopped by PID; every wait is bounded.
"""
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools as pt  # noqa: E402

SIZE = 3_000_000
# session/metadata.h METADATA_SERVE_BURST
SERVE_BURST = 100
OUR_UT_METADATA = 3  # the id the fake peers ask shoal to use
SHOAL_UT_METADATA = 1  # the id shoal asks peers to use (codec/ext.h)

checks = pt.Checks("magnet")
procs = pt.Procs()


def ext(ext_id, payload):
    return pt.msg(pt.EXTENDED, bytes([ext_id]) + payload)


def meta_msg(d, tail=b""):
    return pt.bencode(d) + tail


class FakePeer(threading.Thread):
    """A listening peer for one incoming connection from the leecher, with
    a behaviour: 'badhash' (answers every metadata request with wrong
    bytes), 'huge' (claims 17 MiB of metadata), 'garbage' (sends a
    malformed ut_metadata message). Records what it saw."""

    def __init__(self, infohash, info_len, mode):
        super().__init__(daemon=True)
        self.infohash, self.info_len, self.mode = infohash, info_len, mode
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.srv.settimeout(1.0)
        self.port = self.srv.getsockname()[1]
        self.requests = 0
        self.closed_by_shoal = False
        self.connected = False
        self.stop = False

    def run(self):
        deadline = time.monotonic() + 60
        while not self.stop and time.monotonic() < deadline:
            try:
                s, _ = self.srv.accept()
            except socket.timeout:
                continue
            self.connected = True
            try:
                self.serve(pt.Peer(s), deadline)
            except (pt.Closed, OSError, ValueError):
                self.closed_by_shoal = True
            s.close()
            return

    def serve(self, p, deadline):
        p.read_handshake(10)
        p.send(pt.handshake(self.infohash, pt.random_peer_id(), fast=True, extended=True))
        size = 17 * 1024 * 1024 if self.mode == "huge" else self.info_len
        hs = {"m": {"ut_metadata": OUR_UT_METADATA}, "metadata_size": size}
        if self.mode == "wrongbits":
            hs = {"m": {}}  # offers no metadata: the seeder must give it
        p.send(ext(0, pt.bencode(hs)))
        if self.mode == "wrongbits":
            p.send(pt.bitfield(b"\x80"))
        else:
            p.send(pt.msg(pt.HAVE_NONE))
        if self.mode == "garbage":
            p.send(ext(SHOAL_UT_METADATA, b"d8:msg_typei1e5:piecei0e10:total_sizei5ee"))
        while not self.stop and time.monotonic() < deadline:
            try:
                mid, payload = p.read_msg(0.5)
            except socket.timeout:
                continue
            if mid != pt.EXTENDED or payload[0] != OUR_UT_METADATA:
                continue
            self.requests += 1
            if self.mode == "badhash":
                n = min(16384, self.info_len)
                p.send(ext(SHOAL_UT_METADATA,
                           meta_msg({"msg_type": 1, "piece": 0,
                                     "total_size": self.info_len}, b"\x00" * n)))


def magnet(torrent, port_list):
    mag = subprocess.run([pt.SHOAL, "info", torrent], capture_output=True, text=True,
                         check=True).stdout
    link = [x.split()[1] for x in mag.splitlines() if x.startswith("magnet:")][0]
    return link + "".join("&x.pe=127.0.0.1:%d" % p for p in port_list)


def get(work, name, link, extra=()):
    out = os.path.join(work, name)
    return procs.start([pt.SHOAL, "get", link, "-o", os.path.join(work, name + "-dl"),
                        "--port", "0", "--no-dht", "-v"] + list(extra), out), out


def main():
    work = tempfile.mkdtemp(prefix="shoal-magnet-")
    env = dict(os.environ, XDG_STATE_HOME=os.path.join(work, "state"))
    os.environ.update(XDG_STATE_HOME=env["XDG_STATE_HOME"])
    try:
        run(work)
    finally:
        procs.stop_all()
    checks.finish(work)
    return checks.exit_code()


def run(work):
    seed, seed_out = pt.start_seeder(procs, work, "http://127.0.0.1:1/announce", SIZE)
    port = pt.shoal_port(seed_out)
    checks.check(port is not None, "the seeder listens")
    torrent = os.path.join(work, "notes.torrent")
    want = os.path.join(work, "share", "notes.txt")
    tor = pt.Torrent(torrent)
    raw = open(torrent, "rb").read()
    _, spans = pt.bdecode(raw)
    info_len = spans[b"info"][1] - spans[b"info"][0]
    link = magnet(torrent, [port])

    # One leecher, then the same command again.
    p, out = get(work, "one", link)
    code = procs.wait(p, 60)
    err = pt.read_text(out + ".err")
    checks.check(code == 0, "get MAGNET exits 0 (got %s)" % code)
    got = os.path.join(work, "one-dl", "notes.txt")
    checks.check(pt.same_file(want, got), "the file is byte-identical")
    saved = os.path.join(work, "one-dl", "notes.txt.torrent")
    checks.check(os.path.exists(saved) and pt.Torrent(saved).infohash == tor.infohash,
                 "notes.txt.torrent is written beside it, with the same infohash")
    checks.check("metadata received; saved" in err, "it says it saved the .torrent")
    p, out = get(work, "one", link)
    code = procs.wait(p, 30)
    err = pt.read_text(out + ".err")
    checks.check(code == 0 and "saved by an earlier run" in pt.read_text(out + ".out"),
                 "the same command again uses the saved .torrent")
    checks.check("metadata received" not in err and
                 pt.totals(err).get("downloaded") == 0,
                 "and fetches neither metadata nor data again")

    # Four leechers at once.
    four = [get(work, "four%d" % i, link) for i in range(4)]
    codes = [procs.wait(x, 90) for x, _ in four]
    checks.check(codes == [0, 0, 0, 0], "four leechers exit 0 (%s)" % codes)
    for i, (_, o) in enumerate(four):
        checks.check(pt.same_file(want, os.path.join(work, "four%d-dl" % i, "notes.txt"))
                     and "metadata received" in pt.read_text(o + ".err"),
                     "leecher %d got the metadata and a byte-identical file" % i)

    # Hostile metadata peers, the honest seeder only later.
    liars = {m: FakePeer(tor.infohash, info_len, m) for m in ("badhash", "huge", "garbage")}
    for f in liars.values():
        f.start()
    late = pt.free_port()
    link2 = magnet(torrent, [f.port for f in liars.values()] + [late])
    p, out = get(work, "hostile", link2)
    pt.wait_for(lambda: liars["badhash"].requests > 0, 20)
    checks.check(liars["badhash"].requests == 1, "the liar was asked for the metadata")
    pt.wait_for(lambda: "did not hash to the infohash" in pt.read_text(out + ".err"), 10)
    checks.check("did not hash to the infohash" in pt.read_text(out + ".err"),
                 "metadata of the wrong hash is dropped with a warning")
    pt.wait_for(lambda: "fetching metadata (0 peers)" in pt.read_text(out + ".err"), 15)
    checks.check("fetching metadata (0 peers)" in pt.read_text(out + ".err"),
                 "the progress line says it is fetching metadata")
    # A folder of its own: the first seeder holds the lock on the other.
    share2 = os.path.join(work, "share2")
    os.makedirs(share2)
    shutil.copy(want, share2)
    seed2 = procs.start([pt.SHOAL, "seed", torrent, "-d", share2,
                         "--port", str(late), "--no-dht"], os.path.join(work, "seed2"))
    code = procs.wait(p, 60)
    err = pt.read_text(out + ".err")
    checks.check(code == 0 and pt.same_file(want, os.path.join(work, "hostile-dl",
                                                               "notes.txt")),
                 "the download completes from the honest seeder (exit %s)" % code)
    checks.check(liars["badhash"].requests == 1, "the liar was not asked again (%d)"
                 % liars["badhash"].requests)
    checks.check(liars["huge"].connected and liars["huge"].requests == 0,
                 "a claim of 17 MiB of metadata is never asked for")
    checks.check("bad ut_metadata message" in err, "a malformed message closes the peer: "
                 + next((x for x in err.splitlines() if "ut_metadata" in x), "none"))
    for f in liars.values():
        f.stop = True
    procs.stop(seed2)

    # Serving is bounded per peer.
    peer = pt.open_session(port, tor, fast=True, extended=True)
    peer.send(ext(0, pt.bencode({"m": {"ut_metadata": OUR_UT_METADATA}})))
    req = ext(SHOAL_UT_METADATA, meta_msg({"msg_type": 0, "piece": 0}))
    peer.send(req * (SERVE_BURST + 20))
    data = rejects = 0
    end = time.monotonic() + 20
    while data + rejects < SERVE_BURST + 20 and time.monotonic() < end:
        mid, payload = peer.read_msg(10)
        if mid == pt.EXTENDED and payload[0] == OUR_UT_METADATA:
            body = payload[1:]
            if body.startswith(b"d8:msg_typei1e"):
                data += 1
                if data == 1:
                    dict_end = body.index(b"ee") + 2
                    checks.check(hashlib.sha1(body[dict_end:]).digest() == tor.infohash,
                                 "the seeder serves the info dictionary as hashed")
            elif body.startswith(b"d8:msg_typei2e"):
                rejects += 1
    peer.close()
    checks.check(data == SERVE_BURST and rejects == 20,
                 "a flood of requests gets %d data and then rejects (%d data, %d rejects)"
                 % (SERVE_BURST, data, rejects))

    # so= on a torrent of three files, and a --only it cannot take.
    multi = os.path.join(work, "multi-src", "multi")
    os.makedirs(multi)
    for name, n in (("a.bin", 100_000), ("b.bin", 200_000), ("c.bin", 300_000)):
        with open(os.path.join(multi, name), "wb") as f:
            f.write(os.urandom(n))
    mt = os.path.join(work, "multi.torrent")
    subprocess.run([pt.SHOAL, "create", multi, "-o", mt, "--piece-size", "16K"], check=True,
                   capture_output=True)
    mseed_out = os.path.join(work, "mseed")
    mseed = procs.start([pt.SHOAL, "seed", mt, "-d", os.path.dirname(multi), "--port", "0",
                         "--no-dht"], mseed_out)
    mport = pt.shoal_port(mseed_out)
    mlink = magnet(mt, [mport])
    p, out = get(work, "so", mlink + "&so=1")
    code = procs.wait(p, 60)
    got = os.path.join(work, "so-dl", "multi")
    checks.check(code == 0 and pt.same_file(os.path.join(multi, "b.bin"),
                                            os.path.join(got, "b.bin")),
                 "so=1 downloads file 1 (exit %s)" % code)
    checks.check(not os.path.exists(os.path.join(got, "a.bin")) and
                 not os.path.exists(os.path.join(got, "c.bin")),
                 "and creates neither file 0 nor file 2")
    p, out = get(work, "only", mlink, ["--only", "7"])
    code = procs.wait(p, 60)
    err = pt.read_text(out + ".err")
    checks.check(code == 2 and "--only 7: the torrent has 3 files, numbered 0-2" in err,
                 "--only 7 stops the run once the metadata is there, exit 2 (exit %s)"
                 % code)
    checks.check(os.path.exists(os.path.join(work, "only-dl", "multi.torrent")),
                 "the .torrent is saved all the same")

    # A bitfield of the wrong length before the metadata.
    # The seeder starts only once the peer has told its bitfield, so that
    # the bitfield surely comes before the metadata.
    wrong = FakePeer(tor.infohash, info_len, "wrongbits")
    wrong.start()
    late = pt.free_port()
    p, out = get(work, "wrongbits", magnet(torrent, [wrong.port, late]))
    pt.wait_for(lambda: wrong.connected, 20)
    time.sleep(0.5)
    seed3 = procs.start([pt.SHOAL, "seed", torrent, "-d", share2, "--port", str(late),
                         "--no-dht"], os.path.join(work, "seed3"))
    code = procs.wait(p, 60)
    procs.stop(seed3)
    err = pt.read_text(out + ".err")
    checks.check(code == 0 and "wrong have state before the metadata: its bitfield had 1 "
                 "bytes, the torrent's has %d" % ((tor.piece_count + 7) // 8) in err,
                 "a bitfield of the wrong length is found out once the metadata came "
                 "(exit %s)" % code)
    wrong.stop = True
    procs.stop(mseed)

    # A bad infohash.
    r = subprocess.run([pt.SHOAL, "get", "magnet:?xt=urn:btih:1234abcd", "-o",
                        os.path.join(work, "bad")], capture_output=True, text=True,
                       env=dict(os.environ, SHOAL_LOCAL_ONLY="1"), timeout=30)
    checks.check(r.returncode == 2 and
                 "bad magnet link: xt: btih hash must be 40 hex or 32 base32 characters"
                 in r.stderr, "a bad infohash exits 2 with the reason: " + r.stderr.strip())
    checks.check(seed.poll() is None, "the seeder is still running")


if __name__ == "__main__":
    sys.exit(main())
