#!/usr/bin/python3
"""kill -9 right after a resume save: the state claims every verified piece.

A restart trusts a resume state when every file still has the size and the
modification time the state recorded; it then takes the state's pieces as
they are and checks nothing. So the state must claim every piece verified
before the file times it records, and only pieces that are on disk. The
torrent: 4,800 files of one 16 KiB piece each, so each file is written
once, whole, by one block, and whether a file changed after the state's
file times says whether its piece was written after them.

Fast (3 trials): a leecher fetches from a seeder that sends 16 MiB/s; its
first save that claims pieces comes about a second in, with hundreds of
files to flush and pieces verified while it does. The test polls the state
file every millisecond and kills the leecher with SIGKILL as soon as that
save lands. Then, from the state file and the data on disk:

  - every piece the state claims is on disk, whole (its SHA-1 matches);
  - every file that has not changed since the state recorded it and holds
    its whole piece is claimed.

A state whose have bits are older than its file times fails the second:
pieces verified while the save flushed the files are on disk, in files the
state recorded after them, and not claimed. The last leecher then runs
again: it starts with every whole piece, finishes byte-identical, and
fetches only the pieces that were missing.

Slow: the same from a seeder that sends 256 KiB/s, so that no block lands
between the save and the kill (up to 3 trials) and the restart trusts the
state: it must start with every whole piece.

About 40 s (75 MB of data, twice); every wait is bounded.
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
# Kills while pieces are verified fast, and while they trickle in.
FAST_TRIALS = 3
SLOW_TRIALS = 3


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
    """(size, mtime_ns, bytes) of a file now, under its name or, while it is
    incomplete, its ".part" name; (0, 0, b"") when missing."""
    for p in (path, path + ".part"):
        try:
            st = os.stat(p)
            with open(p, "rb") as f:
                return st.st_size, st.st_mtime_ns, f.read()
        except FileNotFoundError:
            pass
    return 0, 0, b""


def start_seeder(work, seed, torrent, rate, name):
    p = procs.start([SHOAL, "seed", torrent, "-d", seed, "--port", "0", "--max-up", rate],
                    os.path.join(work, name))
    return p, peer_tools.shoal_port(os.path.join(work, name))


def kill_after_save(work, torrent, port, hexhash, name):
    """Starts a leecher into work/name and kills it with SIGKILL within a
    millisecond or so of the first state file that claims a piece. Returns
    the leecher's arguments, or None."""
    out = os.path.join(work, name)
    state_path = peer_tools.state_file(out, hexhash)
    args = [SHOAL, "get", torrent, "-o", out, "--peer", "127.0.0.1:%d" % port]
    p = procs.start(args, os.path.join(work, name + "-first"))
    t0 = time.monotonic()
    seen = None
    saves = 0
    killed_at = None
    while time.monotonic() - t0 < 60 and p.poll() is None:
        v = version(state_path)
        if v is not None and v != seen:
            seen = v
            saves += 1
            if claims_any(state_path):
                os.killpg(p.pid, signal.SIGKILL)
                killed_at = time.monotonic() - t0
                break
        time.sleep(0.001)
    p.wait(10)
    check(killed_at is not None and p.returncode == -signal.SIGKILL,
          "%s: killed with SIGKILL right after save %d, %.1f s in"
          % (name, saves, killed_at or 0))
    return args if killed_at is not None else None


def inspect(work, name, hexhash, files, hashes):
    """Checks the state file of work/name against the data on disk, and
    returns (pieces whole on disk, files unchanged since the state)."""
    out = os.path.join(work, name)
    have, recorded = load_state(peer_tools.state_file(out, hexhash))
    check(len(recorded) == NFILES, "%s: the state records every file" % name)
    nclaimed = sum(claimed(have, i) for i in range(NFILES))
    bad_claims, unclaimed, unchanged, whole = [], [], 0, 0
    for i, rel in enumerate(files):
        size, mtime, data = on_disk(os.path.join(out, rel))
        ok = len(data) == PIECE and hashlib.sha1(data).digest() == hashes[i]
        whole += ok
        if claimed(have, i) and not ok:
            bad_claims.append(i)
        if i < len(recorded) and (size, mtime) == tuple(recorded[i]):
            unchanged += 1
            if ok and not claimed(have, i):
                unclaimed.append(i)
    print("%s: %d pieces whole on disk, %d claimed by the state, %d of %d files "
          "unchanged since it was taken" % (name, whole, nclaimed, unchanged, NFILES),
          flush=True)
    check(not bad_claims,
          "%s: every claimed piece is whole on disk (not: %s)" % (name, bad_claims[:10]))
    check(not unclaimed,
          "%s: every whole piece in a file unchanged since the save is claimed "
          "(%d are not: %s)" % (name, len(unclaimed), unclaimed[:10]))
    return whole, unchanged


def restart_report(work, name):
    """(pieces the restart started with, whether it trusted the state, its
    totals) from its stderr, or None when it has not said yet."""
    err = peer_tools.read_text(os.path.join(work, name + "-second.err"))
    m = re.search(r"(\d+) of (\d+) pieces verified", err)
    if not m:
        return None
    return int(m.group(1)), "checking" not in err[:m.start()], peer_tools.totals(err)


def main():
    work = tempfile.mkdtemp(prefix="shoal-resume-kill.")
    try:
        seed, torrent = make_torrent(work)
        hexhash, files, sizes, hashes = read_torrent(torrent)
        check(len(files) == NFILES and all(s == PIECE for s in sizes)
              and len(hashes) == NFILES, "a torrent of %d one-piece files" % NFILES)

        # Fast: pieces are verified while a save flushes the files.
        seeder, port = start_seeder(work, seed, torrent, "16M", "seeder")
        check(port is not None, "the seeder listens")
        if port is None:
            return 1
        for trial in range(FAST_TRIALS):
            name = "fast%d" % trial
            args = kill_after_save(work, torrent, port, hexhash, name)
            if args is None:
                return 1
            whole, unchanged = inspect(work, name, hexhash, files, hashes)
        second = procs.start(args + ["--exit-when-done"],
                             os.path.join(work, name + "-second"))
        code = procs.wait(second, 90)
        procs.stop(seeder)
        out = os.path.join(work, name)
        same = all(peer_tools.same_file(os.path.join(seed, rel), os.path.join(out, rel))
                   for rel in files)
        check(code == 0 and same, "the restart finished byte-identical (exit %s)" % code)
        r = restart_report(work, name)
        if not r or "downloaded" not in r[2]:
            check(False, "the restart reported its starting pieces and totals")
            return checks.exit_code()
        had, trusted, t = r
        print("the restart %s the state" % ("trusted" if trusted else "did not trust"),
              flush=True)
        check(had >= whole, "the restart started with every whole piece (%d of %d)"
              % (had, whole))
        check(t["downloaded"] <= (NFILES - had) * PIECE + 4 * PIECE,
              "the restart fetched only the missing pieces (%d bytes for %d pieces)"
              % (t["downloaded"], NFILES - had))

        # Slow: no block lands in the few milliseconds between the save and
        # the kill, so nothing changed since the file times and a restart
        # trusts the state. It must start with every whole piece.
        seeder, port = start_seeder(work, seed, torrent, "256K", "slow-seeder")
        check(port is not None, "the slow seeder listens")
        if port is None:
            return 1
        for trial in range(SLOW_TRIALS):
            name = "slow%d" % trial
            args = kill_after_save(work, torrent, port, hexhash, name)
            if args is None:
                return 1
            whole, unchanged = inspect(work, name, hexhash, files, hashes)
            if unchanged == NFILES:
                break
        if unchanged != NFILES:
            print("SKIP  a trusting restart: a file changed after each of %d saves"
                  % SLOW_TRIALS, flush=True)
            return checks.exit_code()
        second = procs.start(args, os.path.join(work, name + "-second"))
        peer_tools.wait_for(lambda: restart_report(work, name) is not None, 30)
        procs.stop(second)
        procs.stop(seeder)
        r = restart_report(work, name)
        check(r is not None and r[1] and r[0] == whole,
              "no file changed after the save: the restart trusted the state and started "
              "with every whole piece (%s of %d)" % (r and r[0], whole))
    finally:
        procs.stop_all()
        checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
