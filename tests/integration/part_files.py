#!/usr/bin/python3
"""What `shoal get` leaves in the download folder.

A 3-file torrent whose pieces span both file boundaries, seeded by one
shoal, fetched by another:
  - `get --only 1`: file 1 arrives byte-identical under its name; files 0
    and 2 never get their names: they are not there at all (with a parts
    file) or are unfinished ".part" files holding only the bytes of the
    pieces they share with file 1, never their full size;
  - a download stopped midway (rate-limited, then SIGTERM) shows
    "<name>.part" files and no final names; run again to the end, it leaves
    exactly the final names, byte-identical, and nothing else.
"""
import os
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools as pt  # noqa: E402

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
PIECE = 64 * 1024
# File 0 ends inside piece 4, file 1 inside piece 10: both boundaries are
# inside pieces.
SIZES = [300001, 400003, 200005]
NAMES = ["0.bin", "1.bin", "2.bin"]

procs = pt.Procs()
checks = pt.Checks("part files")
check = checks.check


def listing(folder):
    out = []
    for root, dirs, files in os.walk(folder):
        for f in files:
            out.append(os.path.relpath(os.path.join(root, f), folder))
    return sorted(out)


def get(work, name, torrent, port, extra):
    out = os.path.join(work, name)
    p = procs.start([SHOAL, "get", torrent, "-o", os.path.join(work, name + "-dl"),
                     "--peer", "127.0.0.1:%d" % port, "--port", "0"] + extra, out)
    return p, out, os.path.join(work, name + "-dl", "album")


def main():
    work = tempfile.mkdtemp(prefix="shoal-part-files.")
    try:
        run(work)
    finally:
        procs.stop_all()
    checks.finish(work)
    return checks.exit_code()


def run(work):
    data = os.path.join(work, "data", "album")
    os.makedirs(data)
    for name, size in zip(NAMES, SIZES):
        with open(os.path.join(data, name), "wb") as f:
            f.write(os.urandom(size))
    torrent = os.path.join(work, "album.torrent")
    subprocess.run([SHOAL, "create", data, "-o", torrent, "--piece-size", "64K"],
                   check=True, capture_output=True)
    seed_out = os.path.join(work, "seed")
    seeder = procs.start([SHOAL, "seed", torrent, "-d", os.path.join(work, "data"),
                          "--port", "0"], seed_out)
    port = pt.shoal_port(seed_out, 15)
    check(port is not None, "the seeder listens")
    if port is None:
        print(pt.tail(seed_out + ".err"))
        return

    # --only 1
    p, out, dl = get(work, "only", torrent, port, ["--only", "1"])
    rc = procs.wait(p, 60)
    check(rc == 0, "get --only 1 finishes (exit %s)" % rc)
    if rc != 0:
        print(pt.tail(out + ".err"))
    check(pt.same_file(os.path.join(data, "1.bin"), os.path.join(dl, "1.bin")),
          "file 1 is byte-identical under its name")
    check(not os.path.exists(os.path.join(dl, "1.bin.part")), "file 1 has no .part left")
    for i in (0, 2):
        final = os.path.join(dl, NAMES[i])
        part = final + ".part"
        check(not os.path.exists(final), "unselected file %d never gets its name" % i)
        if not os.path.exists(part):
            check(True, "unselected file %d is not there at all" % i)
            continue
        st = os.stat(part)
        # Only the bytes of the one piece it shares with file 1 were written.
        check(st.st_blocks * 512 <= PIECE + 8192 and st.st_blocks * 512 < SIZES[i],
              "unselected file %d holds only the shared piece's bytes (%d bytes "
              "allocated of %d)" % (i, st.st_blocks * 512, SIZES[i]))
    if os.path.exists(os.path.join(dl, "2.bin.part")):
        got = os.path.getsize(os.path.join(dl, "2.bin.part"))
        end1 = SIZES[0] + SIZES[1]
        last = (end1 - 1) // PIECE
        shared = (last + 1) * PIECE - end1
        check(got == shared, "file 2 is not extended to its full size (%d bytes, "
              "the %d it has in piece %d)" % (got, shared, last))
    check(not os.path.exists(os.path.join(work, "only-dl", ".shoal")),
          "no .shoal folder in the download folder")

    # Interrupted midway, then finished.
    p, out, dl = get(work, "all", torrent, port, ["--max-down", "100K"])
    def started():
        for n in listing(dl):
            try:
                if os.path.getsize(os.path.join(dl, n)) > 0:
                    return True
            except OSError:
                pass  # renamed meanwhile
        return False
    check(pt.wait_for(started, 30), "the download has begun")
    names = listing(dl)
    check(names and all(n.endswith(".part") for n in names),
          "midway every file carries .part: %s" % names)
    procs.stop(p, signal.SIGTERM)
    names = listing(dl)
    check(not any(n in names for n in NAMES),
          "stopped midway: no file has its final name (%s)" % names)
    p, out, dl = get(work, "all", torrent, port, [])
    rc = procs.wait(p, 60)
    check(rc == 0, "the second run finishes (exit %s)" % rc)
    if rc != 0:
        print(pt.tail(out + ".err"))
    check(listing(os.path.join(work, "all-dl")) == ["album/" + n for n in NAMES],
          "afterwards the folder holds exactly the final names: %s"
          % listing(os.path.join(work, "all-dl")))
    for n in NAMES:
        check(pt.same_file(os.path.join(data, n), os.path.join(dl, n)),
              "%s is byte-identical" % n)
    procs.stop(seeder)


if __name__ == "__main__":
    sys.exit(main())
