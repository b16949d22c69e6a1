#!/usr/bin/python3
"""A hostile peer against a shoal seeder, run by test_hostile_peer.sh.

One `shoal seed -v` process serves a small torrent on 127.0.0.1. Each case
opens a fresh TCP connection and breaks the protocol in one way. For a
violation, shoal must close that connection within a few seconds and its
stderr must name our address with the exact reason from src/peer.c or
src/wire.c. For behaviour BEP 3 allows (keep-alives, unknown message ids, a
block nobody asked for), the connection must stay open and still be served.
After every case an honest `shoal get` must download the torrent
byte-identically from the same seeder process, whose resident memory must
stay bounded. Every process is stopped by PID; every wait is bounded.
"""
import filecmp
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools as pt  # noqa: E402

# Seconds shoal has to close a connection that broke the protocol.
CLOSE_WITHIN = 5.0
# Largest resident set the seeder may reach, in KiB.
MAX_RSS_KB = 100 * 1024
# The torrent: 33 pieces of 64 KiB, the last one 12345 bytes, so the
# bitfield has spare bits and the last piece is short.
PIECE = 64 * 1024
SIZE = 32 * PIECE + 12345

results = []


def log(text):
    print(text, flush=True)


def record(name, ok, detail=""):
    results.append((name, ok))
    log(("ok    " if ok else "FAIL  ") + name + ("" if ok or not detail else ": " + detail))


class Ctx:
    """What every case sees: the seeder, the torrent and its data."""

    def __init__(self, port, torrent, data, err_path):
        self.port = port
        self.t = torrent
        self.data = data
        self.err = err_path
        self.seeder_id = None

    def session(self, **kw):
        return pt.open_session(self.port, self.t, **kw)

    def log_has(self, addr, reason):
        needle = "] %s: %s" % (addr, reason)
        return any(needle in x for x in pt.read_text(self.err).splitlines())

    def log_lines(self, addr):
        return [x for x in pt.read_text(self.err).splitlines() if "] %s: " % addr in x]


def expect_close(ctx, p, reason, send=None):
    """Sends send (if any) on p, then checks that shoal closes p and logs
    reason for p's address. Returns (ok, detail)."""
    addr = p.local_addr()
    try:
        if send:
            p.send(send)
        closed = p.wait_closed(CLOSE_WITHIN)
    except pt.Closed:
        closed = True
    finally:
        p.close()
    if not closed:
        return False, "connection still open after %.0f s" % CLOSE_WITHIN
    if not pt.wait_for(lambda: ctx.log_has(addr, reason), CLOSE_WITHIN):
        return False, "closed, but the log lacks '%s: %s'; it has %r" % (
            addr, reason, ctx.log_lines(addr))
    return True, ""


def expect_served(ctx, p, index=1, begin=0, length=pt.BLOCK):
    """Checks that p is still open and a request on it is answered with the
    right bytes. Closes p. Returns (ok, detail)."""
    addr = p.local_addr()
    try:
        got = pt.fetch_block(p, index, begin, length)
        still = p.is_open(0.2)
    except (pt.Closed, socket.timeout, ValueError) as e:
        p.close()
        return False, "not served after it: %s %s; log: %r" % (
            type(e).__name__, e, ctx.log_lines(addr))
    p.close()
    off = index * ctx.t.piece_length + begin
    if got != ctx.data[off:off + length]:
        return False, "served the wrong bytes"
    if not still:
        return False, "closed right after serving"
    bad = [x for x in ctx.log_lines(addr) if "error" in x or "banned" in x]
    if bad:
        return False, "seeder logged %r" % bad
    return True, ""


def raw_connect(ctx):
    return pt.Peer.connect(ctx.port)


# ------------------------------------------------------------------ cases
#
# Each case returns (ok, detail). The reasons are the strings shoal prints:
# peer.c wraps wire.c's text as "bad handshake: ..." and "protocol error:
# ...", and wire.c gives its numeric message when it has one.

def c_message_before_handshake(ctx):
    p = raw_connect(ctx)
    return expect_close(ctx, p, "bad handshake: not the BitTorrent protocol",
                        pt.have(0))


def c_bad_protocol_string(ctx):
    p = raw_connect(ctx)
    hs = bytearray(pt.handshake(ctx.t.infohash, pt.random_peer_id()))
    hs[19] = ord("L")  # "BitTorrent protocoL"
    return expect_close(ctx, p, "bad handshake: not the BitTorrent protocol", bytes(hs))


def c_bad_protocol_length(ctx):
    p = raw_connect(ctx)
    hs = b"\x12" + pt.handshake(ctx.t.infohash, pt.random_peer_id())[1:]
    return expect_close(ctx, p, "bad handshake: not the BitTorrent protocol", hs)


def c_unknown_infohash(ctx):
    p = raw_connect(ctx)
    ih = bytes(b ^ 0xff for b in ctx.t.infohash)
    return expect_close(ctx, p, "handshake for a torrent we do not have (%s)" % ih.hex(),
                        pt.handshake(ih, pt.random_peer_id()))


def c_own_peer_id(ctx):
    p = ctx.session()
    ctx.seeder_id = p.remote_handshake[2]
    p.close()
    p = raw_connect(ctx)
    return expect_close(ctx, p, "connected to ourselves",
                        pt.handshake(ctx.t.infohash, ctx.seeder_id))


def c_handshake_byte_by_byte(ctx):
    p = raw_connect(ctx)
    p.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for b in pt.handshake(ctx.t.infohash, pt.random_peer_id()):
        p.send(bytes([b]))
        time.sleep(0.002)
    try:
        p.read_handshake()
    except (pt.Closed, socket.timeout, ValueError) as e:
        p.close()
        return False, "no handshake back: %s" % e
    return expect_served(ctx, p)


def c_oversized_length(ctx):
    p = ctx.session()
    return expect_close(ctx, p, "protocol error: message of 2147483647 bytes, limit 1048578",
                        struct.pack(">IB", 0x7fffffff, pt.PIECE))


def c_wrong_length_for_type(ctx):
    p = ctx.session()
    return expect_close(ctx, p, "protocol error: message 4 has a length of 7, want 5",
                        pt.msg(pt.HAVE, b"\0\0\0\0\0\0"))


def c_have_out_of_range(ctx):
    n = ctx.t.piece_count
    p = ctx.session()
    return expect_close(ctx, p, "protocol error: piece %d of %d" % (n, n), pt.have(n))


def c_have_far_out_of_range(ctx):
    p = ctx.session()
    return expect_close(ctx, p, "protocol error: piece 4294967295 of %d" % ctx.t.piece_count,
                        pt.have(0xffffffff))


def c_request_past_piece_end(ctx):
    begin = PIECE - pt.BLOCK + 1
    p = ctx.session()
    return expect_close(
        ctx, p, "protocol error: bytes %d+%d of piece 0, which has %d" % (begin, pt.BLOCK,
                                                                          PIECE),
        pt.request(0, begin, pt.BLOCK))


def c_request_past_last_piece(ctx):
    last = ctx.t.piece_count - 1
    size = ctx.t.piece_size(last)
    p = ctx.session()
    return expect_close(
        ctx, p, "protocol error: bytes 0+%d of piece %d, which has %d" % (pt.BLOCK, last, size),
        pt.request(last, 0, pt.BLOCK))


def c_request_begin_overflow(ctx):
    # begin + length wraps a 32-bit sum; shoal adds them in 64 bits.
    p = ctx.session()
    return expect_close(
        ctx, p, "protocol error: bytes 4294967295+%d of piece 0, which has %d" % (pt.BLOCK,
                                                                                  PIECE),
        pt.request(0, 0xffffffff, pt.BLOCK))


def c_request_zero_length(ctx):
    p = ctx.session()
    return expect_close(ctx, p, "protocol error: request for zero bytes", pt.request(0, 0, 0))


def c_request_one_mib(ctx):
    p = ctx.session()
    return expect_close(ctx, p, "protocol error: request for 1048576 bytes, limit 131072",
                        pt.request(0, 0, 1024 * 1024))


def c_bitfield_short(ctx):
    n = ctx.t.piece_count
    want = (n + 7) // 8
    p = ctx.session()
    return expect_close(
        ctx, p, "protocol error: bitfield of %d bytes, want %d for %d pieces" % (want - 1,
                                                                                 want, n),
        pt.bitfield(b"\xff" * (want - 1)))


def c_bitfield_long(ctx):
    n = ctx.t.piece_count
    want = (n + 7) // 8
    p = ctx.session()
    return expect_close(
        ctx, p, "protocol error: bitfield of %d bytes, want %d for %d pieces" % (want + 1,
                                                                                 want, n),
        pt.bitfield(b"\x00" * (want + 1)))


def c_bitfield_spare_bits(ctx):
    p = ctx.session()
    bits = bytearray(ctx.t.full_bitfield())
    bits[-1] |= 0x01
    return expect_close(ctx, p, "protocol error: bitfield has spare bits set",
                        pt.bitfield(bytes(bits)))


def c_block_past_piece_end(ctx):
    last = ctx.t.piece_count - 1
    size = ctx.t.piece_size(last)
    begin = size - 100
    p = ctx.session()
    return expect_close(
        ctx, p, "protocol error: bytes %d+1000 of piece %d, which has %d" % (begin, last, size),
        pt.piece(last, begin, b"\0" * 1000))


def c_block_above_limit(ctx):
    p = ctx.session()
    return expect_close(ctx, p, "protocol error: block of 131073 bytes, limit 131072",
                        pt.piece(0, 0, b"\0" * (128 * 1024 + 1)))


def c_unrequested_block(ctx):
    p = ctx.session()
    p.send(pt.piece(0, 0, os.urandom(pt.BLOCK)))
    return expect_served(ctx, p, index=0)


def c_unknown_message_id(ctx):
    p = ctx.session()
    p.send(pt.msg(99, b"hello") + pt.msg(200, b"\0" * 40000))
    return expect_served(ctx, p)


def c_keepalive(ctx):
    p = ctx.session()
    p.send(pt.keepalive() * 3)
    return expect_served(ctx, p)


def c_reject_unrequested(ctx):
    p = ctx.session(fast=True)
    return expect_close(ctx, p, "reject for a block we did not request",
                        pt.request(0, 0, pt.BLOCK, pt.REJECT))


def c_have_all_without_fast(ctx):
    p = ctx.session()
    return expect_close(ctx, p, "protocol error: message 14 needs the fast extension",
                        pt.msg(pt.HAVE_ALL))


def c_reject_without_fast(ctx):
    p = ctx.session()
    return expect_close(ctx, p, "protocol error: message 16 needs the fast extension",
                        pt.request(0, 0, pt.BLOCK, pt.REJECT))


def c_extended_without_negotiation(ctx):
    p = ctx.session()
    return expect_close(ctx, p, "protocol error: extended message without negotiation",
                        pt.msg(pt.EXTENDED, b"\0d1:md1:xi1eee"))


def c_bad_extension_handshake(ctx):
    p = ctx.session(extended=True)
    return expect_close(ctx, p,
                        "bad extension handshake: extension handshake is not a dictionary",
                        pt.msg(pt.EXTENDED, b"\0i42e"))


def c_choked_request_rejected(ctx):
    # BEP 6: a request while choked, outside the allowed fast set, gets a
    # reject and the connection stays.
    p = ctx.session(fast=True)
    allowed = set()
    deadline = time.monotonic() + 2.0
    try:
        # have all and the allowed fast messages follow the handshake.
        while time.monotonic() < deadline:
            mid, payload = p.read_msg(0.5)
            if mid == pt.ALLOWED_FAST:
                allowed.add(struct.unpack(">I", payload)[0])
    except socket.timeout:
        pass
    index = next(i for i in range(ctx.t.piece_count - 1) if i not in allowed)
    p.send(pt.request(index, 0, pt.BLOCK))
    want = pt.request(index, 0, pt.BLOCK, pt.REJECT)[5:]
    try:
        p.wait_msg(pt.REJECT, 3.0, lambda x: x == want)
    except (pt.Closed, socket.timeout) as e:
        p.close()
        return False, "no reject for a choked request: %s" % e
    return expect_served(ctx, p, index=index)


def c_request_flood(ctx):
    # Tiny receive buffer and no reading: the seeder's replies back up and
    # its queue of our requests grows past PEER_MAX_INCOMING_REQUESTS.
    p = pt.Peer.connect(ctx.port, rcvbuf=4096)
    p.send(pt.handshake(ctx.t.infohash, pt.random_peer_id()))
    p.read_handshake()
    p.send(pt.msg(pt.INTERESTED))
    try:
        p.wait_msg(pt.UNCHOKE, 5.0)
    except (pt.Closed, socket.timeout) as e:
        p.close()
        return False, "never unchoked: %s" % e
    burst = b"".join(pt.request(i % (ctx.t.piece_count - 1), (i // 31) % 4 * pt.BLOCK,
                                pt.BLOCK) for i in range(5000))
    sent_all = True
    try:
        p.send(burst, timeout=CLOSE_WITHIN)
    except pt.Closed:
        sent_all = False
    except socket.timeout:
        p.close()
        return False, "the seeder stopped reading our requests"
    ok, detail = expect_close(ctx, p, "request flood: more than 2000 queued requests")
    if not ok and not sent_all:
        detail += " (send failed early)"
    return ok, detail


CASES = [
    ("message before the handshake", c_message_before_handshake),
    ("bad protocol string", c_bad_protocol_string),
    ("bad protocol string length", c_bad_protocol_length),
    ("handshake for an unknown infohash", c_unknown_infohash),
    ("handshake with the seeder's own peer id", c_own_peer_id),
    ("handshake sent one byte at a time is served", c_handshake_byte_by_byte),
    ("length prefix 0x7fffffff", c_oversized_length),
    ("have with the wrong length", c_wrong_length_for_type),
    ("have for index == piece count", c_have_out_of_range),
    ("have for index 0xffffffff", c_have_far_out_of_range),
    ("request past the end of a piece", c_request_past_piece_end),
    ("request past the end of the short last piece", c_request_past_last_piece),
    ("request whose begin+length wraps 32 bits", c_request_begin_overflow),
    ("request for 0 bytes", c_request_zero_length),
    ("request for 1 MiB", c_request_one_mib),
    ("bitfield one byte short", c_bitfield_short),
    ("bitfield one byte long", c_bitfield_long),
    ("bitfield with spare bits set", c_bitfield_spare_bits),
    ("piece block past the end of the piece", c_block_past_piece_end),
    ("piece block above 128 KiB", c_block_above_limit),
    ("piece block never requested is ignored", c_unrequested_block),
    ("unknown message ids are ignored", c_unknown_message_id),
    ("keep-alives are accepted", c_keepalive),
    ("reject for a request never sent (fast)", c_reject_unrequested),
    ("have all without the fast extension", c_have_all_without_fast),
    ("reject without the fast extension", c_reject_without_fast),
    ("extended message without BEP 10", c_extended_without_negotiation),
    ("extension handshake not a dictionary", c_bad_extension_handshake),
    ("request while choked gets a reject (fast)", c_choked_request_rejected),
    ("request flood of 5000", c_request_flood),
]


def main():
    work = tempfile.mkdtemp(prefix="shoal-hostile.")
    procs = pt.Procs()
    started = time.monotonic()
    try:
        seed_dir = os.path.join(work, "seed")
        os.makedirs(seed_dir)
        data = os.urandom(SIZE)
        with open(os.path.join(seed_dir, "hostile.bin"), "wb") as f:
            f.write(data)
        torrent = os.path.join(work, "hostile.torrent")
        r = subprocess.run([pt.SHOAL, "create", os.path.join(seed_dir, "hostile.bin"),
                               "-o", torrent, "--piece-size", "64K"],
                              capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            log("FAIL  shoal create: " + r.stderr.strip())
            return 1
        t = pt.Torrent(torrent)
        seed_out = os.path.join(work, "seed")
        seeder = procs.start([pt.SHOAL, "seed", torrent, "-d", seed_dir, "--port", "0", "-v"],
                             seed_out)
        port = pt.shoal_port(seed_out)
        state = pt.shoal_state(seed_out)
        if not port or not state or "seeding" not in state:
            log("FAIL  the seeder did not start (port %s, %r)" % (port, state))
            log(pt.tail(seed_out + ".err"))
            return 1
        ctx = Ctx(port, t, data, seed_out + ".err")

        for name, fn in CASES:
            try:
                ok, detail = fn(ctx)
            except (pt.Closed, socket.timeout, OSError, ValueError) as e:
                ok, detail = False, "%s: %s" % (type(e).__name__, e)
            record(name, ok, detail)
            if seeder.poll() is not None:
                record("seeder alive after: " + name, False, "exit %s" % seeder.returncode)
                log(pt.tail(seed_out + ".err"))
                break

        if seeder.poll() is None:
            # The session went on: an honest leecher still gets every byte.
            out = os.path.join(work, "leech")
            os.makedirs(out)
            get_out = os.path.join(work, "get")
            getter = procs.start([pt.SHOAL, "get", torrent, "-o", out, "--port", "0",
                                  "--peer", "127.0.0.1:%d" % port], get_out)
            try:
                getter.wait(60)
            except subprocess.TimeoutExpired:
                pass
            rc = procs.stop(getter)
            got = os.path.join(out, "hostile.bin")
            same = os.path.exists(got) and filecmp.cmp(got, os.path.join(seed_dir,
                                                                         "hostile.bin"),
                                                       shallow=False)
            record("honest leecher downloads byte-identically afterwards", rc == 0 and same,
                   "exit %s, identical %s" % (rc, same))
            if not (rc == 0 and same):
                log(pt.tail(get_out + ".err"))

            rss = pt.rss_kb(seeder.pid)
            record("seeder RSS under %d MiB (%s KiB)" % (MAX_RSS_KB // 1024, rss),
                   rss is not None and rss < MAX_RSS_KB)

            rc = procs.stop(seeder)
            tot = pt.totals(pt.read_text(seed_out + ".err"))
            record("seeder exits %d on SIGTERM" % pt.EXIT_TERMINATED, rc == pt.EXIT_TERMINATED,
                   "exit %s" % rc)
            # Blocks nobody asked for are dropped, never counted or stored.
            record("seeder took no payload from hostile peers (downloaded=%s)" %
                   tot.get("downloaded"), tot.get("downloaded") == 0 and
                   tot.get("hash_failures") == 0)
    finally:
        procs.stop_all()
        failed = [n for n, ok in results if not ok]
        if failed:
            log("work folder kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    log("hostile peer: %.1f s" % (time.monotonic() - started))
    log("%d passed, %d failed" % (len(results) - len(failed), len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
