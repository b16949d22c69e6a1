"""Helpers shared by the Python integration tests: a minimal BitTorrent wire
speaker (BEP 3 handshake and messages, BEP 6 have all / have none / reject)
and the process plumbing the tests need (free ports, starting shoal in its
own process group, stopping it by PID, bounded waits, reading its output).

Standard library only, so the tests run on Debian's /usr/bin/python3. Every
socket operation takes a timeout; nothing here waits without a bound.
"""
import filecmp
import hashlib
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import time

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
# What get, seed and share exit with after a signal: 128 + the signal, as
# shells report it (SIGINT, Ctrl-C: 130; SIGTERM: 143).
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

PROTOCOL = b"\x13BitTorrent protocol"
HANDSHAKE_LEN = 68

# Message ids (BEP 3, BEP 6, BEP 10).
CHOKE = 0
UNCHOKE = 1
INTERESTED = 2
NOT_INTERESTED = 3
HAVE = 4
BITFIELD = 5
REQUEST = 6
PIECE = 7
CANCEL = 8
PORT = 9
SUGGEST = 13
HAVE_ALL = 14
HAVE_NONE = 15
REJECT = 16
ALLOWED_FAST = 17
EXTENDED = 20

BLOCK = 16384


# ------------------------------------------------------------------ bencode

def bencode(v):
    """v (int, str, bytes, list, dict with str or bytes keys) in bencode,
    dictionary keys in the byte order BEP 3 asks for."""
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
    return b"d" + b"".join(bencode(k) + bencode(x) for k, x in items) + b"e"


def bdecode(data):
    """Decodes a bencoded value. Returns (value, spans) where spans maps the
    top-level dictionary keys to the (start, end) byte range of their value,
    which is what the infohash needs."""
    spans = {}

    def parse(i, top):
        c = data[i:i + 1]
        if c == b"i":
            end = data.index(b"e", i)
            return int(data[i + 1:end]), end + 1
        if c == b"l":
            i += 1
            out = []
            while data[i:i + 1] != b"e":
                v, i = parse(i, False)
                out.append(v)
            return out, i + 1
        if c == b"d":
            i += 1
            out = {}
            while data[i:i + 1] != b"e":
                k, i = parse(i, False)
                start = i
                v, i = parse(i, False)
                out[k] = v
                if top:
                    spans[k] = (start, i)
            return out, i + 1
        if c.isdigit():
            colon = data.index(b":", i)
            n = int(data[i:colon])
            return data[colon + 1:colon + 1 + n], colon + 1 + n
        raise ValueError("bad bencode at byte %d" % i)

    value, end = parse(0, True)
    if end != len(data):
        raise ValueError("trailing bytes after bencode")
    return value, spans


class Torrent:
    """What the tests need from a single-file .torrent: infohash, geometry
    and piece hashes."""

    def __init__(self, path):
        with open(path, "rb") as f:
            raw = f.read()
        meta, spans = bdecode(raw)
        start, end = spans[b"info"]
        self.infohash = hashlib.sha1(raw[start:end]).digest()
        info = meta[b"info"]
        self.name = info[b"name"].decode()
        self.piece_length = info[b"piece length"]
        if b"length" in info:
            self.total_size = info[b"length"]
        else:
            self.total_size = sum(f[b"length"] for f in info[b"files"])
        hashes = info[b"pieces"]
        self.hashes = [hashes[i:i + 20] for i in range(0, len(hashes), 20)]
        self.piece_count = len(self.hashes)

    def piece_size(self, index):
        if index == self.piece_count - 1:
            return self.total_size - index * self.piece_length
        return self.piece_length

    def full_bitfield(self):
        """A bitfield with every piece set and the spare bits clear."""
        nbytes = (self.piece_count + 7) // 8
        bits = bytearray(b"\xff" * nbytes)
        spare = nbytes * 8 - self.piece_count
        if spare:
            bits[-1] = (0xff << spare) & 0xff
        return bytes(bits)


# ------------------------------------------------------------------ messages

def msg(mid, payload=b""):
    """A length-prefixed message with id mid."""
    return struct.pack(">IB", 1 + len(payload), mid) + payload


def keepalive():
    return b"\0\0\0\0"


def have(index):
    return msg(HAVE, struct.pack(">I", index))


def bitfield(bits):
    return msg(BITFIELD, bits)


def request(index, begin, length, mid=REQUEST):
    """A request; mid=CANCEL or REJECT gives the messages of the same shape."""
    return msg(mid, struct.pack(">III", index, begin, length))


def piece(index, begin, data):
    return msg(PIECE, struct.pack(">II", index, begin) + data)


def handshake(infohash, peer_id, fast=False, extended=False):
    """The 68-byte handshake; fast and extended set reserved bits 2 (byte 7,
    0x04) and 20 (byte 5, 0x10)."""
    reserved = bytearray(8)
    if fast:
        reserved[7] |= 0x04
    if extended:
        reserved[5] |= 0x10
    return PROTOCOL + bytes(reserved) + infohash + peer_id


def random_peer_id():
    return b"-PT0001-" + os.urandom(12)


# ------------------------------------------------------------------ connection

class Closed(Exception):
    """The other side closed the connection (EOF or reset)."""


class Peer:
    """One wire connection with a receive buffer. Reads take a timeout and
    raise Closed on EOF or reset, socket.timeout when nothing came."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.remote_handshake = None

    @classmethod
    def connect(cls, port, host="127.0.0.1", timeout=5.0, rcvbuf=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        s.connect((host, port))
        return cls(s)

    def local_addr(self):
        host, port = self.sock.getsockname()[:2]
        return "%s:%d" % (host, port)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data, timeout=5.0):
        """Sends all of data; raises Closed if the other side is gone."""
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            raise Closed(str(e))

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(262144)
        except ConnectionResetError as e:
            raise Closed(str(e))
        if not chunk:
            raise Closed("end of stream")
        self.buf += chunk

    def read_exact(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_handshake(self, timeout=5.0):
        """Reads the other side's handshake; returns (reserved, infohash,
        peer_id)."""
        hs = self.read_exact(HANDSHAKE_LEN, timeout)
        if hs[:20] != PROTOCOL:
            raise ValueError("not a BitTorrent handshake: %r" % hs[:20])
        self.remote_handshake = (hs[20:28], hs[28:48], hs[48:68])
        return self.remote_handshake

    def read_msg(self, timeout=5.0):
        """Reads one message; returns (id, payload), id None for a
        keep-alive."""
        deadline = time.monotonic() + timeout
        while len(self.buf) < 4:
            self._fill(deadline)
        (n,) = struct.unpack(">I", self.buf[:4])
        if n > 4 * 1024 * 1024:
            raise ValueError("message of %d bytes from the other side" % n)
        while len(self.buf) < 4 + n:
            self._fill(deadline)
        body, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
        if n == 0:
            return None, b""
        return body[0], body[1:]

    def wait_msg(self, mid, timeout=5.0, pred=None):
        """Reads until a message of type mid (for which pred(payload) holds,
        if given) arrives; returns its payload. Other messages are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no message %d within %.1f s" % (mid, timeout))
            got, payload = self.read_msg(left)
            if got == mid and (pred is None or pred(payload)):
                return payload

    def wait_closed(self, timeout=5.0):
        """Reads and discards until the other side closes. Returns True when
        it closed (EOF or reset) within the timeout."""
        deadline = time.monotonic() + timeout
        self.buf = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(262144)
            except ConnectionResetError:
                return True
            except socket.timeout:
                return False
            if not chunk:
                return True

    def is_open(self, wait=0.0):
        """True when nothing says the connection is closed after waiting up
        to wait seconds; received bytes stay buffered."""
        r, _, _ = select.select([self.sock], [], [], wait)
        if not r:
            return True
        try:
            chunk = self.sock.recv(262144, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True
        except ConnectionResetError:
            return False
        if not chunk:
            return False
        self.buf += chunk
        return True


def open_session(port, torrent, fast=False, extended=False, peer_id=None, timeout=5.0):
    """Connects, exchanges handshakes for torrent and returns the Peer with
    the remote handshake read. The remote's bitfield and the rest stay
    unread."""
    p = Peer.connect(port, timeout=timeout)
    p.send(handshake(torrent.infohash, peer_id or random_peer_id(), fast, extended))
    p.read_handshake(timeout)
    return p


def fetch_block(p, index, begin, length, timeout=10.0):
    """Asks for a block once unchoked (sending interested first) and returns
    its data. Raises socket.timeout or Closed when it does not come."""
    p.send(msg(INTERESTED))
    p.wait_msg(UNCHOKE, timeout)
    p.send(request(index, begin, length))
    want = struct.pack(">II", index, begin)
    payload = p.wait_msg(PIECE, timeout, lambda x: x[:8] == want)
    return payload[8:]


# ------------------------------------------------------------------ processes

def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Procs:
    """Processes a test started, each in its own session so that stop()
    reaches its children; stop_all() runs on the way out."""

    def __init__(self):
        self.procs = []

    def start(self, args, out, env=None):
        """Starts args with stdout in out.out and stderr in out.err, in env
        (default: this process's), always with SHOAL_LOCAL_ONLY=1."""
        env = dict(os.environ if env is None else env, SHOAL_LOCAL_ONLY="1")
        with open(out + ".out", "w") as so, open(out + ".err", "w") as se:
            p = subprocess.Popen(args, stdout=so, stderr=se, stdin=subprocess.DEVNULL,
                                 env=env, start_new_session=True)
        self.procs.append(p)
        return p

    @staticmethod
    def stop(p, sig=signal.SIGTERM, grace=10.0):
        """Stops p's process group by PID: sig, then SIGKILL after grace
        seconds. Returns the exit code."""
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        return p.returncode

    def wait(self, p, timeout):
        """Waits up to timeout seconds for p to exit, stops it if it has
        not, and returns its exit code."""
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop(p)
        return p.returncode

    def stop_all(self):
        for p in self.procs:
            self.stop(p)


class Checks:
    """The verdicts of one test script: check() prints an "ok" or "FAIL"
    line, finish() keeps the work folder when something failed (and says
    where) or removes it, and prints the count; exit_code() is the script's
    exit code."""

    def __init__(self, name):
        self.name = name
        self.failures = []

    def check(self, cond, what):
        print(("ok    " if cond else "FAIL  ") + what, flush=True)
        if not cond:
            self.failures.append(what)

    def finish(self, work):
        if self.failures:
            print("work folder kept: " + work)
        else:
            shutil.rmtree(work)
        print("%s: %d failed" % (self.name, len(self.failures)))

    def exit_code(self):
        return 1 if self.failures else 0


def make_torrent(work, folder, name, size, piece_size=None, tracker=None):
    """Writes work/folder/name (size random bytes) and makes work/STEM.torrent
    of it (STEM: name without its extension) with `shoal create`, with
    piece_size ("64K") and tracker (a URL) when given. Returns the data
    file's path and the torrent's."""
    data = os.path.join(work, folder, name)
    os.makedirs(os.path.dirname(data), exist_ok=True)
    with open(data, "wb") as f:
        f.write(os.urandom(size))
    torrent = os.path.join(work, os.path.splitext(name)[0] + ".torrent")
    args = [SHOAL, "create", data, "-o", torrent]
    if piece_size:
        args += ["--piece-size", piece_size]
    if tracker:
        args += ["-t", tracker]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    return data, torrent


def start_seeder(procs, work, tracker_url, size):
    """Writes work/share/notes.txt (size random bytes), makes its torrent
    with tracker_url as the only tracker, and starts `shoal seed -v` on it.
    Returns the process and the stem of its .out/.err files."""
    data, torrent = make_torrent(work, "share", "notes.txt", size, tracker=tracker_url)
    out = os.path.join(work, "seed")
    return procs.start([SHOAL, "seed", torrent, "-d", os.path.dirname(data), "--port", "0",
                        "-v"], out), out


def same_file(want, got):
    """True when the file got exists and has the bytes of want."""
    return os.path.exists(got) and filecmp.cmp(want, got, shallow=False)


def wait_for(pred, timeout, step=0.05):
    """Polls pred until it is true or timeout seconds pass."""
    end = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(step)


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def shoal_port(out, timeout=10.0):
    """The port a shoal process printed ("listening on port N") in out.out."""
    def line():
        for x in read_text(out + ".out").splitlines():
            if x.startswith("listening on port "):
                return int(x.split()[-1])
        return None
    wait_for(lambda: line() is not None, timeout)
    return line()


def state_dir(env=None):
    """shoal's state folder for processes started with env (default: this
    process's environment): $XDG_STATE_HOME/shoal or ~/.local/state/shoal."""
    env = os.environ if env is None else env
    x = env.get("XDG_STATE_HOME", "")
    base = x if x.startswith("/") else os.path.join(env.get("HOME", "/"), ".local", "state")
    return os.path.join(base, "shoal")


def folder_key(folder):
    """The 16 hex digits shoal names a download folder by in its state
    files: 64-bit FNV-1a of the folder's real path."""
    h = 0xcbf29ce484222325
    for b in os.path.realpath(folder).encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def state_file(folder, hexhash, ext=".resume", sdir=None):
    """The path of a torrent's state file (ext .resume, .parts or .lock)
    for download folder `folder`, in sdir (default: state_dir())."""
    return os.path.join(sdir or state_dir(), "%s-%s%s" % (hexhash, folder_key(folder), ext))


def tracker_ports(out, timeout=10.0):
    """The (http, udp) ports `shoal tracker` printed in out.out, or None."""
    def read():
        text = read_text(out + ".out")
        h = [int(x.split()[-1]) for x in text.splitlines() if x.startswith("http on port")]
        u = [int(x.split()[-1]) for x in text.splitlines() if x.startswith("udp on port")]
        return (h[0], u[0]) if h and u else None
    wait_for(lambda: read() is not None, timeout)
    return read()


def shoal_state(out, timeout=10.0):
    """Waits for the line shoal prints once the torrent is added and returns
    it; it says whether the data was verified."""
    found = []

    def look():
        for x in read_text(out + ".err").splitlines():
            if " pieces verified" in x:
                found.append(x)
                return True
        return False
    wait_for(look, timeout)
    return found[0] if found else None


def totals(text):
    """The counters of the "totals:" line in shoal's stderr, as a dict of
    ints (and state as a string); {} when the line is missing."""
    for x in text.splitlines():
        if ": totals: " in x:
            out = {}
            for kv in x.split(": totals: ", 1)[1].split():
                k, _, v = kv.partition("=")
                out[k] = int(v) if v.isdigit() else v
            return out
    return {}


def rss_kb(pid):
    """Resident set size of pid in KiB from /proc, or None."""
    for x in read_text("/proc/%d/status" % pid).splitlines():
        if x.startswith("VmRSS:"):
            return int(x.split()[1])
    return None


def tail(path, n=15):
    lines = read_text(path).splitlines()
    return "\n".join("      | " + x for x in lines[-n:])
