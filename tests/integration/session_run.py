"""What get, seed and share do when they run, one group of cases per argument:

state    the resume state goes to the state folder, keyed by the download
         folder (never into it), so `shoal create` of a seeded folder makes
         the same torrent; `seed -d` of the wrong folder is refused with the
         path it expected; a second process on the same torrent and folder
         is refused (the lock); bad options create nothing and open no port.
port     the default port is 6881; when it is taken shoal says so and
         listens on another; an explicit --port that is taken is an error.
limits   --seed-ratio and --seed-time stop seeding; --on-done runs a program
         with a hostile torrent name that reaches it only as data.
sources  a .torrent named by an http URL (with a redirect; a 404 and a
         non-loopback host refused, creating nothing); two torrents in one
         get.

Every process runs with SHOAL_LOCAL_ONLY=1 and its own XDG_STATE_HOME in the
work folder; all traffic is on 127.0.0.1.
"""
import hashlib
import http.server
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools as pt  # noqa: E402

SHOAL = os.path.abspath(pt.SHOAL)
procs = pt.Procs()
checks = pt.Checks("session run")
check = checks.check
RUN_TIMEOUT = 60


def env_for(work, name="state"):
    """Local-only, a state folder of this test's, and no config file (the
    one CTest provides sets port = 0; the defaults are what is tested)."""
    return dict(os.environ, SHOAL_LOCAL_ONLY="1", XDG_STATE_HOME=os.path.join(work, name),
                XDG_CONFIG_HOME=os.path.join(work, "no-config"))


def run(args, env, cwd, timeout=RUN_TIMEOUT):
    """Runs shoal to the end: (exit code, stdout, stderr)."""
    try:
        p = subprocess.run([SHOAL] + args, env=env, cwd=cwd, capture_output=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return -1, "", "(still running after %d s; killed)" % timeout
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def start(args, out, env, cwd):
    """Starts shoal with stdout/stderr in out.out/out.err, in cwd."""
    with open(out + ".out", "w") as so, open(out + ".err", "w") as se:
        p = subprocess.Popen([SHOAL] + args, stdout=so, stderr=se, env=env, cwd=cwd,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    procs.procs.append(p)
    return p


def tree(root):
    """Every path under root (relative), or an empty set when root is gone."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            found.add(os.path.relpath(os.path.join(dirpath, n), root))
    return found


def make_files(folder, sizes, seed):
    os.makedirs(folder, exist_ok=True)
    paths = []
    for name, size in sizes:
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(hashlib.shake_256(("%s-%s" % (seed, name)).encode()).digest(size))
        paths.append(path)
    return paths


def create(work, path, torrent, piece="16K"):
    rc, _, err = run(["create", path, "-o", torrent, "--piece-size", piece], env_for(work),
                     work)
    if rc != 0:
        raise RuntimeError("shoal create %s: %s" % (path, err))
    return pt.Torrent(torrent) if not os.path.isdir(path) else None


def infohash(torrent):
    with open(torrent, "rb") as f:
        raw = f.read()
    _, spans = pt.bdecode(raw)
    start_, end = spans[b"info"]
    return hashlib.sha1(raw[start_:end]).hexdigest()


def torrent_files(torrent):
    with open(torrent, "rb") as f:
        meta, _ = pt.bdecode(f.read())
    info = meta[b"info"]
    if b"files" not in info:
        return [info[b"name"].decode()]
    return sorted("/".join(c.decode() for c in f[b"path"]) for f in info[b"files"])


def wait_verified(out, timeout=30):
    return pt.shoal_state(out, timeout)


# ------------------------------------------------------------------ state

def case_state(work):
    env = env_for(work)
    sdir = os.path.join(work, "state", "shoal")
    share = os.path.join(work, "share")
    make_files(os.path.join(share, "album"),
               [("01.flac", 300000), ("02.flac", 200000), ("03.flac", 100001)], "album")
    torrent = os.path.join(work, "album.torrent")
    create(work, os.path.join(share, "album"), torrent)
    ih = infohash(torrent)
    before = tree(share)

    # The folder itself instead of its parent: refused, naming the path.
    rc, out, err = run(["seed", torrent, "-d", "share/album"], env, work)
    check(rc == 2 and "expected share/album/album/01.flac" in err,
          "seed -d of the wrong folder: exit 2 naming the expected path (exit %d: %s)"
          % (rc, err.strip()))
    check("listening on port" not in out and not os.path.exists(sdir) and
          tree(share) == before,
          "seed -d of the wrong folder created nothing and opened no port")

    # A file shorter than the torrent says: refused the same way.
    short = os.path.join(work, "short")
    make_files(os.path.join(short, "album"),
               [("01.flac", 300000), ("02.flac", 200000), ("03.flac", 100000)], "album")
    rc, out, err = run(["seed", torrent, "-d", "short"], env, work)
    check(rc == 2 and "expected short/album/03.flac (100000 of 100001 bytes)" in err,
          "seed of a short file: exit 2 naming it (exit %d: %s)" % (rc, err.strip()))

    # The seeder: state in the state folder, nothing in the download folder.
    seed_out = os.path.join(work, "seed")
    seeder = start(["seed", torrent, "-d", "share", "--port", "0"], seed_out, env, work)
    port = pt.shoal_port(seed_out)
    verified = wait_verified(seed_out)
    check(port is not None and verified is not None and "seeding" in verified,
          "the seeder verifies the data and seeds (%s)" % verified)
    lock = pt.state_file(share, ih, ".lock", sdir)
    check(os.path.exists(lock), "the lock is in the state folder (%s)" % os.path.basename(lock))
    st = os.stat(sdir)
    check(st.st_mode & 0o777 == 0o700, "the state folder is 0700 (%o)" % (st.st_mode & 0o777))

    # A second process on the same torrent and folder: refused, no port.
    rc, out, err = run(["seed", torrent, "-d", "share", "--port", "0"], env, work)
    check(rc == 1 and "another shoal is using the folder share" in err and
          "listening on port" not in out,
          "a second seeder of the same folder is refused: exit %d: %s" % (rc, err.strip()))

    # The same torrent into another folder: its own state, a different key.
    rc, out, err = run(["get", torrent, "-o", "copy", "--port", "0",
                        "--peer", "127.0.0.1:%d" % (port or 1)], env, work)
    same = all(pt.same_file(os.path.join(share, "album", n), os.path.join(work, "copy",
                                                                          "album", n))
               for n in ("01.flac", "02.flac", "03.flac"))
    check(rc == 0 and same, "a get into another folder completes, identical (exit %d)" % rc)
    check(tree(os.path.join(work, "copy")) == before,
          "the download folder holds the torrent's files and nothing else (%s)"
          % sorted(tree(os.path.join(work, "copy"))))
    check(os.path.exists(pt.state_file(os.path.join(work, "copy"), ih, ".resume", sdir)),
          "the copy's resume state is in the state folder under its own key")

    rc = procs.stop(seeder)
    check(rc == pt.EXIT_TERMINATED, "the seeder exits %d on SIGTERM (exit %s)"
          % (pt.EXIT_TERMINATED, rc))
    check(os.path.exists(pt.state_file(share, ih, ".resume", sdir)),
          "the seeder's resume state is in the state folder")
    check(tree(share) == before, "nothing was written into the seeded folder (%s)"
          % sorted(tree(share) - before))

    # --state-dir: the state goes there instead.
    mine = os.path.join(work, "mystate")
    before_state = tree(sdir)
    rc, _, err = run(["seed", torrent, "-d", "share", "--port", "0", "--state-dir",
                      "mystate", "--seed-time", "1"], env, work)
    check(rc == 0 and os.path.exists(pt.state_file(share, ih, ".resume", mine)) and
          tree(sdir) == before_state and tree(share) == before,
          "--state-dir: the state goes there, nowhere else (exit %d, %s)"
          % (rc, sorted(tree(mine))))
    # create of the seeded folder makes the same torrent.
    again = os.path.join(work, "again.torrent")
    create(work, os.path.join(share, "album"), again)
    check(infohash(again) == ih and torrent_files(again) == torrent_files(torrent),
          "shoal create of the seeded folder makes the same torrent (%s)"
          % torrent_files(again))


def case_bad_options(work):
    env = env_for(work, "state-bad")
    sdir = os.path.join(work, "state-bad")
    make_files(os.path.join(work, "m"), [("a.bin", 40000), ("b.bin", 30000),
                                         ("c.bin", 20000)], "m")
    torrent = os.path.join(work, "m.torrent")
    create(work, os.path.join(work, "m"), torrent)
    with open(os.path.join(work, "big.torrent"), "wb") as f:
        f.write(b"not a folder")
    # Two different torrents that both hold a folder "m": one would
    # overwrite the other's files.
    make_files(os.path.join(work, "other", "m"), [("a.bin", 1000)], "other")
    twin = os.path.join(work, "twin.torrent")
    create(work, os.path.join(work, "other", "m"), twin)
    # A seeder follows no symlink inside its folder: one there is no data.
    os.makedirs(os.path.join(work, "linked", "m"))
    for n in ("a.bin", "b.bin", "c.bin"):
        os.symlink(os.path.join(work, "m", n), os.path.join(work, "linked", "m", n))
    cases = [
        (["get", torrent, "-o", "out", "--only", "9"], 2,
         "--only 9: the torrent has 3 files, numbered 0-2"),
        (["get", torrent, "-o", "out", "--only", "1,x"], 2, "expected file indices"),
        (["get", torrent, "-o", "big.torrent"], 2, "big.torrent is a file, not a folder"),
        (["get", torrent, "-o", "big.torrent/sub"], 2, "big.torrent is a file, not a folder"),
        (["get", torrent, "-o", "out", "--peer", "tracker.example:6881"], 2, "local-only"),
        (["get", torrent, "-o", "out", "--peer", "10.0.0.1:6881"], 2, "local-only"),
        (["get", "nothing.torrent", "-o", "out"], 2, "nothing.torrent"),
        (["seed", torrent, "-d", "out"], 2, "expected out/m/a.bin"),
    ]
    cases += [
        (["get", torrent, "-o", "out", "--on-done", "no-such-program"], 2,
         "--on-done no-such-program"),
        (["get", torrent, "-o", "out", "--state-dir", "big.torrent/state"], 2,
         "state folder: big.torrent is a file, not a folder"),
        (["get", torrent, torrent, "-o", "out"], 2, "are the same torrent"),
        (["get", torrent, "nothing.torrent", "-o", "out"], 2, "nothing.torrent"),
        (["get", torrent, "-o", "out", "--log", "no/such/folder/log.txt"], 2,
         "--log no/such/folder/log.txt"),
        (["get", torrent, twin, "-o", "out"], 2, "both write out/m"),
        (["seed", torrent, "-d", "linked"], 2, "expected linked/m/a.bin (a symlink"),
    ]
    for args, code, words in cases:
        before = tree(work)
        rc, out, err = run(args, env, work)
        created = tree(work) - before
        check(rc == code and words in err and "listening on port" not in out and
              not created and not os.path.exists(sdir),
              "%s: exit %d, says '%s', created nothing (exit %d, created %s: %s)"
              % (" ".join(args[2:]), code, words, rc, sorted(created), err.strip()))


def case_interrupt(work):
    """Ctrl-C in the middle of a download: exit 130 with a word on how to go
    on, totals last; the same command then resumes from the state folder."""
    env = env_for(work)
    make_files(os.path.join(work, "i"), [("i.bin", 2 * 1024 * 1024)], "interrupt")
    torrent = os.path.join(work, "i.torrent")
    create(work, os.path.join(work, "i", "i.bin"), torrent)
    seed_out = os.path.join(work, "i-seed")
    seeder = start(["seed", torrent, "-d", "i", "--port", "0", "--max-up", "400K"],
                   seed_out, env, work)
    port = pt.shoal_port(seed_out)
    wait_verified(seed_out)
    args = ["get", torrent, "-o", "i-dl", "--port", "0", "--peer", "127.0.0.1:%d" % (port or 1)]
    out = os.path.join(work, "i-get")
    getter = start(args, out, env, work)
    pt.shoal_port(out)
    time.sleep(2)
    rc = procs.stop(getter, signal.SIGINT)
    err = pt.read_text(out + ".err").strip().splitlines()
    first = pt.totals("\n".join(err))
    check(rc == pt.EXIT_INTERRUPTED and any("stopped; run the same command to resume" in x
                                            for x in err) and
          err and ": totals: " in err[-1],
          "Ctrl-C: exit %d, says how to go on, totals last (exit %s)"
          % (pt.EXIT_INTERRUPTED, rc))
    procs.stop(seeder)
    seeder = start(["seed", torrent, "-d", "i", "--port", "0"], seed_out + "2", env, work)
    port = pt.shoal_port(seed_out + "2")
    wait_verified(seed_out + "2")
    args[-1] = "127.0.0.1:%d" % (port or 1)
    rc, _, err = run(args, env, work)
    second = pt.totals(err)
    done = first.get("downloaded", 0)
    check(rc == 0 and pt.same_file(os.path.join(work, "i", "i.bin"),
                                   os.path.join(work, "i-dl", "i.bin")) and
          0 < done and second.get("downloaded", 1 << 30) <= 2 * 1024 * 1024 - done + 65536,
          "the same command resumes: %s bytes before Ctrl-C, %s after (exit %d)"
          % (done, second.get("downloaded"), rc))
    procs.stop(seeder)


# ------------------------------------------------------------------ port

def case_port(work):
    env = env_for(work)
    make_files(os.path.join(work, "d"), [("p.bin", 50000)], "p")
    torrent = os.path.join(work, "p.torrent")
    create(work, os.path.join(work, "d", "p.bin"), torrent)
    # Other tests' shoal processes take 6881 (and fall back) now and then:
    # wait, bounded, for a moment it is free, and hold it.
    holder = None

    def hold():
        nonlocal holder
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 6881))
            s.listen(1)
        except OSError:
            s.close()
            return False
        holder = s
        return True
    if not pt.wait_for(hold, 30, step=0.2):
        print("SKIP  the default port: 127.0.0.1:6881 stayed taken for 30 s")
        return
    try:
        out = os.path.join(work, "fallback")
        p = start(["seed", torrent, "-d", "d"], out, env, work)
        port = pt.shoal_port(out)
        err = pt.read_text(out + ".err")
        check(port is not None and port != 6881 and
              "port 6881 is in use; listening on %d instead" % (port or 0) in err,
              "6881 taken: the seeder says so and listens on %s" % port)
        procs.stop(p)
        rc, sout, err = run(["seed", torrent, "-d", "d", "--port", "6881"], env, work)
        check(rc == 1 and "port 6881" in err and "in use" in err and
              "listening on port" not in sout,
              "an explicit --port 6881 that is taken: exit 1 naming it (exit %d: %s)"
              % (rc, err.strip()))
    finally:
        holder.close()
    # Free again (other tests listen on port 0): the default is used.
    out = os.path.join(work, "default")
    p = start(["seed", torrent, "-d", "d"], out, env, work)
    port = pt.shoal_port(out)
    check(port == 6881, "6881 free: the seeder listens on it and prints it at start (%s)"
          % port)
    procs.stop(p)


# ------------------------------------------------------------------ limits

def case_limits(work):
    env = env_for(work)
    make_files(os.path.join(work, "s"), [("r.bin", 600000)], "ratio")
    torrent = os.path.join(work, "r.torrent")
    create(work, os.path.join(work, "s", "r.bin"), torrent)

    # --seed-ratio 1: one whole copy uploaded, then the seeder stops, exit 0.
    seed_out = os.path.join(work, "ratio-seed")
    seeder = start(["seed", torrent, "-d", "s", "--port", "0", "--seed-ratio", "1"],
                   seed_out, env, work)
    port = pt.shoal_port(seed_out)
    wait_verified(seed_out)
    rc, _, err = run(["get", torrent, "-o", "leech", "--port", "0",
                      "--peer", "127.0.0.1:%d" % (port or 1)], env, work)
    check(rc == 0 and pt.same_file(os.path.join(work, "s", "r.bin"),
                                   os.path.join(work, "leech", "r.bin")),
          "the leecher gets a whole copy (exit %d)" % rc)
    t0 = time.monotonic()
    src = procs.wait(seeder, 20)
    serr = pt.read_text(seed_out + ".err")
    check(src == 0 and "r.bin: seed ratio 1.00 reached" in serr,
          "--seed-ratio 1: the seeder stops by itself, exit 0, saying why "
          "(exit %s after %.1f s)" % (src, time.monotonic() - t0))

    # Two torrents with --seed-ratio 1: each stops on its own; the run ends
    # with the last.
    make_files(os.path.join(work, "two"), [("a.bin", 300000), ("b.bin", 200000)], "two")
    seeders, sports = [], []
    for n in ("a", "b"):
        create(work, os.path.join(work, "two", n + ".bin"), os.path.join(work, n + ".torrent"))
        out = os.path.join(work, "two-seed-" + n)
        seeders.append(start(["seed", n + ".torrent", "-d", "two", "--port", "0"], out, env,
                             work))
        sports.append(pt.shoal_port(out))
        wait_verified(out)
    node_out = os.path.join(work, "node")
    node = start(["get", "a.torrent", "b.torrent", "-o", "node", "--port", "0",
                  "--seed-ratio", "1", "--peer", "127.0.0.1:%d" % (sports[0] or 1),
                  "--peer", "127.0.0.1:%d" % (sports[1] or 1)], node_out, env, work)
    nport = pt.shoal_port(node_out)
    got_both = pt.wait_for(lambda: all(
        pt.same_file(os.path.join(work, "two", n), os.path.join(work, "node", n))
        for n in ("a.bin", "b.bin")), 30)
    for p in seeders:
        procs.stop(p)
    rc, _, _ = run(["get", "a.torrent", "-o", "leech-a", "--port", "0",
                    "--peer", "127.0.0.1:%d" % (nport or 1)], env, work)
    stopped_a = pt.wait_for(lambda: "a.bin: seed ratio 1.00 reached" in
                            pt.read_text(node_out + ".err"), 10)
    err = pt.read_text(node_out + ".err")
    check(got_both and rc == 0 and stopped_a and "b.bin: seed ratio" not in err and
          node.poll() is None,
          "two torrents: a.bin stops at ratio 1 on its own, b.bin seeds on "
          "(downloaded %s, leecher exit %d, node running %s)"
          % (got_both, rc, node.poll() is None))
    rc, _, _ = run(["get", "a.torrent", "-o", "leech-a2", "--port", "0", "--peer",
                    "127.0.0.1:%d" % (nport or 1)], env, work, timeout=8)
    check(rc != 0 and not os.path.exists(os.path.join(work, "leech-a2", "a.bin")),
          "two torrents: the stopped a.bin serves nobody any more (exit %d)" % rc)
    rc, _, _ = run(["get", "b.torrent", "-o", "leech-b", "--port", "0",
                    "--peer", "127.0.0.1:%d" % (nport or 1)], env, work)
    nrc = procs.wait(node, 20)
    err = pt.read_text(node_out + ".err")
    check(rc == 0 and nrc == 0 and "b.bin: seed ratio 1.00 reached" in err,
          "two torrents: b.bin stops at ratio 1 too, and the run ends, exit %s" % nrc)

    # --seed-time: stops after the time even with nobody to serve.
    t0 = time.monotonic()
    rc, _, err = run(["seed", torrent, "-d", "s", "--port", "0", "--seed-time", "2s"],
                     env, work, timeout=40)
    took = time.monotonic() - t0
    check(rc == 0 and "stopped seeding" in err and 2 <= took < 30,
          "--seed-time 2s: the seeder stops after %.1f s, exit %d" % (took, rc))

    # --on-done with a name a shell would act on: data only.
    hostile = "x\"; touch pwned; $(touch pwned2) 'y"
    hdir = os.path.join(work, "h")
    make_files(hdir, [(hostile, 70000)], "hostile")
    htorrent = os.path.join(work, "h.torrent")
    create(work, os.path.join(hdir, hostile), htorrent)
    hseed_out = os.path.join(work, "h-seed")
    hseeder = start(["seed", htorrent, "-d", "h", "--port", "0"], hseed_out, env, work)
    hport = pt.shoal_port(hseed_out)
    wait_verified(hseed_out)
    script = os.path.join(work, "on-done.sh")
    record = os.path.join(work, "on-done.out")
    with open(script, "w") as f:
        f.write("#!/bin/sh\nprintf '%s\\0' \"$SHOAL_TORRENT_NAME\" \"$SHOAL_TORRENT_DIR\" "
                "\"$SHOAL_TORRENT_HASH\" \"$TR_TORRENT_NAME\" \"$TR_TORRENT_DIR\" "
                "\"$TR_TORRENT_HASH\" > \"$ON_DONE_RECORD\"\n")
    os.chmod(script, 0o755)
    denv = dict(env, ON_DONE_RECORD=record)
    run_dir = os.path.join(work, "run")
    os.makedirs(run_dir)
    rc, _, err = run(["get", htorrent, "-o", "../hl", "--port", "0", "--peer",
                      "127.0.0.1:%d" % (hport or 1), "--on-done", script], denv, run_dir)
    # A program that cannot start (its interpreter is missing): said, not fatal.
    broken = os.path.join(work, "broken.sh")
    with open(broken, "w") as f:
        f.write("#!/nonexistent/interpreter\n")
    os.chmod(broken, 0o755)
    brc, _, berr = run(["get", htorrent, "-o", "hl2", "--port", "0", "--peer",
                        "127.0.0.1:%d" % (hport or 1), "--on-done", broken], denv, work)
    check(brc == 0 and "cannot run --on-done %s" % broken in berr and
          pt.same_file(os.path.join(hdir, hostile), os.path.join(work, "hl2", hostile)),
          "--on-done that cannot start: said, and the download still exits 0 (exit %d)"
          % brc)
    procs.stop(hseeder)
    want = b"\0".join(x.encode() for x in (
        hostile, os.path.realpath(os.path.join(work, "hl")), infohash(htorrent))) + b"\0"
    got = open(record, "rb").read() if os.path.exists(record) else b""
    check(rc == 0 and got == want + want,
          "--on-done: the program got name, folder and hash byte for byte (exit %d, %r)"
          % (rc, got[:80]))
    check("exited with status 0" in err, "--on-done: its exit status is logged")
    pwned = [p for p in tree(work) | tree(run_dir) if os.path.basename(p).startswith("pwned")]
    check(not pwned, "--on-done: nothing in the name ran (%s)" % pwned)

    # --on-done runs once every file has its final name: 200 files, each
    # renamed from NAME.part on a disk thread, all done before the program
    # looks.
    mdir = os.path.join(work, "many", "album")
    make_files(mdir, [("%03d.bin" % i, 3000 + i) for i in range(200)], "many")
    mtorrent = os.path.join(work, "many.torrent")
    create(work, mdir, mtorrent)
    mseed_out = os.path.join(work, "many-seed")
    mseeder = start(["seed", mtorrent, "-d", "many", "--port", "0"], mseed_out, env, work)
    mport = pt.shoal_port(mseed_out)
    wait_verified(mseed_out)
    lister = os.path.join(work, "list.sh")
    listing = os.path.join(work, "list.out")
    with open(lister, "w") as f:
        f.write("#!/bin/sh\nls \"$SHOAL_TORRENT_DIR/$SHOAL_TORRENT_NAME\" > \"%s\"\n"
                % listing)
    os.chmod(lister, 0o755)
    mrc, _, merr = run(["get", mtorrent, "-o", "ml", "--port", "0", "--peer",
                        "127.0.0.1:%d" % (mport or 1), "--on-done", lister], env, work)
    procs.stop(mseeder)
    names = pt.read_text(listing).split()
    check(mrc == 0 and len(names) == 200 and not [n for n in names if n.endswith(".part")],
          "--on-done: the program sees every file under its final name (exit %d, %d names, "
          "%d still .part)" % (mrc, len(names), len([n for n in names if n.endswith(".part")])))


# ------------------------------------------------------------------ sources

class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        to = {"/moved": "/t/u.torrent", "/away": "http://example.com/u.torrent"}
        if self.path in to:
            self.send_response(302)
            self.send_header("Location", to[self.path])
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, *args):
        pass


def case_sources(work):
    env = env_for(work)
    srv_dir = os.path.join(work, "srv")
    os.makedirs(os.path.join(srv_dir, "t"))
    make_files(os.path.join(work, "u"), [("u.bin", 300000)], "url")
    torrent = os.path.join(srv_dir, "t", "u.torrent")
    create(work, os.path.join(work, "u", "u.bin"), torrent)
    seed_out = os.path.join(work, "u-seed")
    seeder = start(["seed", torrent, "-d", "u", "--port", "0"], seed_out, env, work)
    port = pt.shoal_port(seed_out)
    wait_verified(seed_out)

    def handler(*a, **kw):
        return Handler(*a, directory=srv_dir, **kw)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    hport = httpd.server_address[1]
    th = threading.Thread(target=httpd.serve_forever, daemon=True)
    th.start()
    try:
        base = "http://127.0.0.1:%d" % hport
        for url, name in ((base + "/t/u.torrent", "direct"), (base + "/moved", "redirect")):
            dl = os.path.join(work, "dl-" + name)
            rc, _, err = run(["get", url, "-o", dl, "--port", "0",
                              "--peer", "127.0.0.1:%d" % (port or 1)], env, work)
            check(rc == 0 and pt.same_file(os.path.join(work, "u", "u.bin"),
                                           os.path.join(dl, "u.bin")),
                  "get of an http URL (%s): identical (exit %d %s)"
                  % (name, rc, err.strip()[-200:] if rc else ""))
        with open(os.path.join(srv_dir, "t", "huge.torrent"), "wb") as f:
            f.truncate(10 * 1024 * 1024 + 1)
        for url, code, words in ((base + "/t/none.torrent", 2, "HTTP 404"),
                                 (base + "/t/huge.torrent", 2,
                                  "larger than %d bytes" % (10 * 1024 * 1024)),
                                 ("http://example.com/u.torrent", 2, "local-only"),
                                 (base + "/away", 2,
                                  "redirected to http://example.com/u.torrent: local-only"),
                                 ("ftp://127.0.0.1/u.torrent", 2, "only http:// and https://")):
            before = tree(work)
            rc, out, err = run(["get", url, "-o", "dl-bad", "--port", "0"], env, work)
            created = tree(work) - before
            check(rc == code and words in err and not created and
                  "listening on port" not in out,
                  "get %s: exit %d, '%s', nothing created (exit %d: %s)"
                  % (url, code, words, rc, err.strip()))
    finally:
        httpd.shutdown()
        procs.stop(seeder)

    make_files(os.path.join(work, "two"), [("a.bin", 200000), ("b.bin", 250000)], "two")
    seeds = []
    for n in ("a", "b"):
        t = os.path.join(work, n + ".torrent")
        create(work, os.path.join(work, "two", n + ".bin"), t)
        out = os.path.join(work, "seed-" + n)
        seeds.append(start(["seed", t, "-d", "two", "--port", "0"], out, env, work))
        seeds.append(pt.shoal_port(out))
        wait_verified(out)
    rc, _, err = run(["get", os.path.join(work, "a.torrent"), os.path.join(work, "b.torrent"),
                      "-o", "both", "--port", "0", "--peer", "127.0.0.1:%d" % seeds[1],
                      "--peer", "127.0.0.1:%d" % seeds[3]], env, work)
    same = all(pt.same_file(os.path.join(work, "two", n), os.path.join(work, "both", n))
               for n in ("a.bin", "b.bin"))
    check(rc == 0 and same, "two torrents in one get: both complete, identical (exit %d)"
          % rc)
    procs.stop(seeds[0])
    procs.stop(seeds[2])


CASES = {
    "state": [case_state, case_bad_options, case_interrupt],
    "port": [case_port],
    "limits": [case_limits],
    "sources": [case_sources],
}


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else ""
    if which not in CASES:
        print("usage: session_run.py %s" % "|".join(CASES))
        return 2
    work = tempfile.mkdtemp(prefix="shoal-session-%s." % which)
    try:
        for case in CASES[which]:
            case(work)
    finally:
        procs.stop_all()
        checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
