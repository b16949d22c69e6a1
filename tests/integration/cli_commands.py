#!/usr/bin/python3
"""What the commands promise about their arguments; run by
test_cli_commands.sh.

- `shoal info` numbers files (text and --json `index`) the way --only counts
  them: a download with --only 1 of a three-file torrent completes exactly
  the file info calls 1, byte for byte, and no other; in a torrent with a
  pad file the pad file has a number too (the file after it is 2, and
  --only 3 is refused as past the end).
- Magnet and torrent JSON list trackers the same way: objects with `url`
  and `tier`; each tr= of a magnet is a tier of its own, in order.
- `shoal share` refuses to replace an existing .torrent without --force
  (exit 2, nothing printed, the file untouched), and replaces it with.
- `shoal tracker` on a taken HTTP or UDP port names the address and the
  system's reason.
Every process is started here and stopped by PID; every wait is bounded.
"""
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools as pt  # noqa: E402

checks = pt.Checks("cli_commands")
PIECE = 16384
# Each file spans many pieces, so the pieces it shares with a neighbour
# never complete that neighbour.
SIZES = {"a.bin": 300000, "b.bin": 250000, "c.bin": 400000}


def run(args, cwd, timeout=30):
    env = dict(os.environ, SHOAL_LOCAL_ONLY="1")
    return subprocess.run([pt.SHOAL] + args, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=env, cwd=cwd)


def info_json(torrent, cwd):
    r = run(["info", "--json", "--no-config", torrent], cwd)
    try:
        return json.loads(r.stdout)
    except ValueError:
        return {}


def text_indices(torrent, cwd):
    """{file name: the number info's text output gives it}."""
    r = run(["info", "--no-config", torrent], cwd)
    out = {}
    listing = r.stdout.split("files (", 1)[-1]
    for line in listing.splitlines()[1:]:
        m = re.match(r"^\s+(\d+)\s+(\S+)\s+\(", line)
        if m:
            out[m.group(2)] = int(m.group(1))
    return out


def check_only(work, procs):
    src = os.path.join(work, "multi")
    os.makedirs(os.path.join(src, "m"))
    for name, size in SIZES.items():
        with open(os.path.join(src, "m", name), "wb") as f:
            f.write(os.urandom(size))
    torrent = os.path.join(work, "m.torrent")
    r = run(["create", os.path.join(src, "m"), "-o", torrent, "--piece-size", "16K",
             "--no-config"], work)
    if r.returncode != 0:
        checks.check(False, "create the three-file torrent: " + r.stderr)
        return
    j = info_json(torrent, work)
    files = j.get("files", [])
    checks.check([f.get("index") for f in files] == list(range(len(files))) == [0, 1, 2],
                 "info --json gives each file its index: %s"
                 % [(f.get("index"), f.get("path")) for f in files])
    text = text_indices(torrent, work)
    by_json = {os.path.basename(f["path"]): f["index"] for f in files}
    checks.check(text == by_json, "info's text numbers the files as --json does: %s / %s"
                 % (text, by_json))
    if len(files) != 3:
        return
    want = os.path.basename(files[1]["path"])

    seed_out = os.path.join(work, "seed")
    seeder = procs.start([pt.SHOAL, "seed", torrent, "-d", src, "--port", "0",
                          "--no-config"], seed_out)
    port = pt.shoal_port(seed_out, 20)
    if not port:
        checks.check(False, "the seeder says its port: " + pt.read_text(seed_out + ".err"))
        return
    dl = os.path.join(work, "dl")
    get_out = os.path.join(work, "get")
    g = procs.start([pt.SHOAL, "get", torrent, "-o", dl, "--only", "1", "--port", "0",
                     "--peer", "127.0.0.1:%d" % port, "--no-config"], get_out)
    rc = procs.wait(g, 60)
    procs.stop(seeder)
    got = {n: pt.same_file(os.path.join(src, "m", n), os.path.join(dl, "m", n))
           for n in SIZES}
    checks.check(rc == 0 and got[want] and sum(got.values()) == 1,
                 "get --only 1 completes %s (index 1 in info) and nothing else: exit %s, "
                 "complete %s" % (want, rc, [n for n, ok in got.items() if ok]))


def check_pad(work):
    """A hand-made torrent with a pad file between two files."""
    files = [{"length": 1000, "path": ["x.bin"]},
             {"length": PIECE - 1000, "path": [".pad", str(PIECE - 1000)], "attr": "p"},
             {"length": 5000, "path": ["y.bin"]}]
    info = {"name": "p", "piece length": PIECE, "files": files,
            "pieces": hashlib.sha1(b"0").digest() * 2}
    torrent = os.path.join(work, "pad.torrent")
    with open(torrent, "wb") as f:
        f.write(pt.bencode({"info": info}))
    j = info_json(torrent, work)
    idx = {os.path.basename(f["path"]): f.get("index") for f in j.get("files", [])}
    text = text_indices(torrent, work)
    checks.check(idx.get("y.bin") == 2 and text.get("y.bin") == 2,
                 "the file after a pad file is 2 in --json and text: %s / %s" % (idx, text))
    r = run(["get", torrent, "--only", "3", "--port", "0", "-o",
             os.path.join(work, "pad-dl"), "--no-config"], work)
    checks.check(r.returncode == 2 and "--only" in r.stderr,
                 "--only 3 is past the end of that torrent (%s)" % r.stderr.strip()[:160])


def check_tracker_schema(work):
    magnet = ("magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=x"
              "&tr=udp%3A%2F%2F127.0.0.1%3A1&tr=http%3A%2F%2F127.0.0.1%3A2%2Fannounce")
    r = run(["info", "--json", "--no-config", magnet], work)
    try:
        m = json.loads(r.stdout).get("trackers")
    except ValueError:
        m = None
    checks.check(m == [{"url": "udp://127.0.0.1:1", "tier": 0},
                       {"url": "http://127.0.0.1:2/announce", "tier": 1}],
                 "magnet JSON: trackers with url and tier, one tier each: %s" % m)
    data = os.path.join(work, "t.bin")
    with open(data, "wb") as f:
        f.write(b"x" * 1000)
    torrent = os.path.join(work, "t.torrent")
    run(["create", data, "-o", torrent, "-t", "udp://127.0.0.1:1,udp://127.0.0.1:3",
         "-t", "http://127.0.0.1:2/announce", "--no-config"], work)
    t = info_json(torrent, work).get("trackers")
    checks.check(t == [{"url": "udp://127.0.0.1:1", "tier": 0},
                       {"url": "udp://127.0.0.1:3", "tier": 0},
                       {"url": "http://127.0.0.1:2/announce", "tier": 1}],
                 "torrent JSON: the same schema: %s" % t)


def check_share_force(work, procs):
    folder = os.path.join(work, "album")
    os.makedirs(folder)
    with open(os.path.join(folder, "01.flac"), "wb") as f:
        f.write(os.urandom(200000))
    existing = os.path.join(work, "album.torrent")
    with open(existing, "wb") as f:
        f.write(b"keep")
    for args in ([], ["-o", existing]):
        r = run(["share", "album", "--port", "0", "--no-config"] + args, work)
        with open(existing, "rb") as f:
            kept = f.read() == b"keep"
        checks.check(r.returncode == 2 and kept and not r.stdout
                     and "album.torrent exists (use --force to replace it)" in r.stderr,
                     "share %s refuses to replace album.torrent (exit %d: %s)"
                     % (" ".join(args), r.returncode, r.stderr.strip()))
    out = os.path.join(work, "share")
    p = procs.start([pt.SHOAL, "share", "album", "--force", "--port", "0", "--no-config"],
                    out)
    # procs.start runs in the current folder: share writes album.torrent there.
    ok = pt.wait_for(lambda: "magnet:" in pt.read_text(out + ".out"), 30)
    procs.stop(p)
    name = info_json(existing, work).get("name")
    checks.check(ok and name == "album", "share --force replaces it with the new torrent "
                 "(%s; %s)" % (name, pt.read_text(out + ".err").strip()[-200:]))


def check_tracker_port(work):
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(1)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    tp, up = tcp.getsockname()[1], udp.getsockname()[1]
    cases = [(["--http", "127.0.0.1:%d" % tp], "127.0.0.1:%d" % tp),
             (["--udp", "127.0.0.1:%d" % up], "127.0.0.1:%d" % up),
             (["--http", "127.0.0.1:0", "--udp", "127.0.0.1:%d" % up], "127.0.0.1:%d" % up)]
    for args, addr in cases:
        r = run(["tracker", "--no-config"] + args, work)
        want = "shoal tracker: cannot listen on %s: Address already in use" % addr
        checks.check(r.returncode == 1 and r.stderr.strip() == want and not r.stdout,
                     "tracker %s on a taken port: '%s' (got %d: %s)"
                     % (" ".join(args), want, r.returncode, r.stderr.strip()))
    tcp.close()
    udp.close()


def main():
    work = tempfile.mkdtemp(prefix="shoal-cli-commands.")
    procs = pt.Procs()
    cwd = os.getcwd()
    try:
        os.chdir(work)
        check_tracker_schema(work)
        check_pad(work)
        check_tracker_port(work)
        check_share_force(work, procs)
        check_only(work, procs)
    finally:
        procs.stop_all()
        os.chdir(cwd)
    checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
