#!/usr/bin/python3
"""kill -9 right after a resume save: the state claims every verified piece.

A restart trusts a resume state when every file still has the size and the
modification time the state recorded; it then takes the state's pieces as
they are and checks nothing. So the state must claim every piece verified
before the file times it records, and only pieces that are on disk. This
test checks that property file by file: a leecher fetches a torrent of
4,800 files of one 16 KiB piece each (each file is written once, whole, by
one block) from a seeder that sends 4 MiB/s. Its first resume save that
claims pieces comes about a second in, with hundreds of files to flush and
pieces verified while it does. The test polls the state file every
millisecond and kills the leecher with SIGKILL as soon as that save lands.
Then, from the state file and the data on disk:

  - every piece the state claims is on disk, whole (its SHA-1 matches);
  - every file that has not changed since the state recorded it and holds
    its whole piece is claimed.

A state whose have bits are older than its file times fails the second:
pieces verified while the save flushed the files are on disk, in files the
state recorded after them, and not claimed. Then the leecher runs again: it
trusts the state when no file changed (usual: the kill comes within a few
milliseconds), starts with every whole piece, finishes byte-identical, and
fetches only the pieces that were missing. About 30 s (75 MB of data,
twice); every wait is bounded.
"""
import hashlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools  # noqa: E402

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
procs = peer_tools.Procs()
checks = peer_tools.Checks("resume kill")
check = checks.check
PIECE = 16384
NFILES = 4800


def make_torrent(work):
    seed = os.path.join(work, "seed")
    data = os.path.join(seed, "data")
    os.makedirs(data)
    for i in range(NFILES):
        with open(os.path.join(data, "f%04d.bin" % i), "wb") as f:
            f.write(os.urandom(PIECE))
    torrent = os.path.join(work, "data.torrent")
    subprocess.run([SHOAL, "create", data, "-o", torrent, "--piece-size", "16K"],
                   check=True, capture_output=True)
    return seed, torrent


def read_torrent(path):
    with open(path, "rb") as f:
        raw = f.read()
    meta, spans = peer_tools.bdecode(raw)
    start, end = spans[b"info"]
    info = meta[b"info"]
    files = [os.path.join(info[b"name"].decode(), *(p.decode() for p in f[b"path"]))
             for f in info[b"files"]]
    sizes = [f[b"length"] for f in info[b"files"]]
    hashes = [info[b"pieces"][i:i + 20] for i in range(0, len(info[b"pieces"]), 20)]
    return hashlib.sha1(raw[start:end]).hexdigest(), files, sizes, hashes


def version(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def claims_any(path):
    """Whether the state file claims a piece, read fast: the have string
    alone, without decoding the file list."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return False
    at = raw.find(b"4:have")
    if at < 0:
        return False
    colon = raw.find(b":", at + 6)
    n = int(raw[at + 6:colon])
    return any(raw[colon + 1:colon + 1 + n])


def load_state(path):
    with open(path, "rb") as f:
        state = peer_tools.bdecode(f.read())[0]
    have = state[b"have"]
    files = [(d[b"size"], d[b"mtime"]) for d in state[b"files"]]
    return have, files


def claimed(have, i):
    return bool(have[i // 8] & (0x80 >> (i % 8)))


def on_disk(path):
    """(size, mtime_ns, bytes) of a file now; (0, 0, b"") when missing."""
    try:
        st = os.stat(path)
        with open(path, "rb") as f:
            return st.st_size, st.st_mtime_ns, f.read()
    except FileNotFoundError:
        return 0, 0, b""


def main():
    work = tempfile.mkdtemp(prefix="shoal-resume-kill.")
    try:
        seed, torrent = make_torrent(work)
        hexhash, files, sizes, hashes = read_torrent(torrent)
        check(len(files) == NFILES and all(s == PIECE for s in sizes)
              and len(hashes) == NFILES, "a torrent of %d one-piece files" % NFILES)
        seeder = procs.start([SHOAL, "seed", torrent, "-d", seed, "--port", "0",
                              "--max-up", "4M"], os.path.join(work, "seeder"))
        port = peer_tools.shoal_port(os.path.join(work, "seeder"))
        check(port is not None, "the seeder listens")
        if port is None:
            return 1
        out = os.path.join(work, "leech")
        state_path = os.path.join(out, ".shoal", hexhash + ".resume")
        args = [SHOAL, "get", torrent, "-o", out, "--peer", "127.0.0.1:%d" % port]
        first = procs.start(args, os.path.join(work, "first"))

        # Poll the state file; kill at the first save that claims a piece,
        # within a millisecond or so of its rename.
        t0 = time.monotonic()
        seen = None
        saves = 0
        killed_at = None
        while time.monotonic() - t0 < 60 and first.poll() is None:
            v = version(state_path)
            if v is not None and v != seen:
                seen = v
                saves += 1
                if claims_any(state_path):
                    os.killpg(first.pid, signal.SIGKILL)
                    killed_at = time.monotonic() - t0
                    break
            time.sleep(0.001)
        first.wait(10)
        check(killed_at is not None and first.returncode == -signal.SIGKILL,
              "the leecher was killed with SIGKILL right after save %d, %.1f s in"
              % (saves, killed_at or 0))
        if killed_at is None:
            return 1

        have, recorded = load_state(state_path)
        check(len(recorded) == NFILES, "the state records every file")
        nclaimed = sum(claimed(have, i) for i in range(NFILES))
        bad_claims, unclaimed, unchanged, whole = [], [], 0, 0
        for i, rel in enumerate(files):
            size, mtime, data = on_disk(os.path.join(out, rel))
            ok = len(data) == PIECE and hashlib.sha1(data).digest() == hashes[i]
            whole += ok
            if claimed(have, i) and not ok:
                bad_claims.append(i)
            if (size, mtime) == tuple(recorded[i]):
                unchanged += 1
                if ok and not claimed(have, i):
                    unclaimed.append(i)
        print("after the kill: %d pieces whole on disk, %d claimed by the state, %d of %d "
              "files unchanged since it was taken" % (whole, nclaimed, unchanged, NFILES),
              flush=True)
        check(not bad_claims, "every claimed piece is whole on disk (not: %s)" % bad_claims[:10])
        check(not unclaimed,
              "every whole piece in a file unchanged since the save is claimed "
              "(%d are not: %s)" % (len(unclaimed), unclaimed[:10]))

        second = procs.start(args + ["--exit-when-done"], os.path.join(work, "second"))
        code = procs.wait(second, 90)
        procs.stop(seeder)
        same = all(peer_tools.same_file(os.path.join(seed, rel), os.path.join(out, rel))
                   for rel in files)
        check(code == 0 and same, "the restart finished byte-identical (exit %s)" % code)
        err = peer_tools.read_text(os.path.join(work, "second.err"))
        m = re.search(r"(\d+) of (\d+) pieces verified", err)
        t = peer_tools.totals(err)
        if not m or "downloaded" not in t:
            check(False, "the restart reported its starting pieces and totals")
            return checks.exit_code()
        had = int(m.group(1))
        trusted = "checking" not in err[:m.start()]
        print("the restart %s the state" % ("trusted" if trusted else "did not trust"),
              flush=True)
        if unchanged == NFILES:
            check(trusted, "no file changed after the save, and the restart trusted it")
        check(had >= whole, "the restart started with every whole piece (%d of %d)"
              % (had, whole))
        check(t["downloaded"] <= (NFILES - had) * PIECE + 4 * PIECE,
              "the restart fetched only the missing pieces (%d bytes for %d pieces)"
              % (t["downloaded"], NFILES - had))
    finally:
        procs.stop_all()
        checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
