#!/usr/bin/python3
"""Interop for torrent files, run by test_torrent_files.sh.

1. Torrents made by `shoal create` are read by transmission-show and by
   libtorrent (lt.torrent_info) with the same infohash and file list that
   `shoal info --json` reports.
2. Torrents made by mktorrent, transmission-create and libtorrent's
   create_torrent (hybrid and v1-only) are read by `shoal info --json` with
   the infohash those tools report.

Each is checked on a single file, a multi-file tree with nested folders,
unicode names and an empty file. Needs Debian's /usr/bin/python3, which is the
interpreter python3-libtorrent is built for.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import libtorrent as lt

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
failures = []


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, **kw)


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


def shoal_info(torrent):
    out = run(SHOAL, "info", "--json", torrent).stdout
    return json.loads(out)


def transmission_show(torrent):
    out = run("transmission-show", torrent).stdout.decode()
    ih = re.search(r"Hash: ([0-9a-f]{40})", out).group(1)
    files_part = out.split("\nFILES\n", 1)[1]
    files = [re.sub(r" \([^)]*\)$", "", line.strip())
             for line in files_part.splitlines() if line.strip()]
    return ih, files


def lt_view(torrent):
    ti = lt.torrent_info(torrent)
    fs = ti.files()
    files = []
    for i in range(fs.num_files()):
        pad = bool(fs.file_flags(i) & lt.file_storage.flag_pad_file)
        files.append((fs.file_path(i), fs.file_size(i), pad))
    return str(ti.info_hashes().v1), files


def shoal_files(info):
    return [(f["path"], f["size"], "p" in f["attr"]) for f in info["files"]]


def make_tree(root):
    """The three shapes every tool is checked on."""
    single = os.path.join(root, "single.bin")
    with open(single, "wb") as f:
        f.write(os.urandom(700_000))
    multi = os.path.join(root, "Multi Folder")
    os.makedirs(os.path.join(multi, "a", "b", "c"))
    os.makedirs(os.path.join(multi, "docs"))
    with open(os.path.join(multi, "a", "b", "c", "deep.dat"), "wb") as f:
        f.write(os.urandom(123_457))
    with open(os.path.join(multi, "docs", "readme.txt"), "wb") as f:
        f.write(b"hello\n" * 1000)
    with open(os.path.join(multi, "top.bin"), "wb") as f:
        f.write(os.urandom(50_000))
    unicode = os.path.join(root, "ünïcødé 日本")
    os.makedirs(os.path.join(unicode, "café"))
    with open(os.path.join(unicode, "café", "naïve – résumé.txt"), "wb") as f:
        f.write(os.urandom(40_000))
    with open(os.path.join(unicode, "Ελληνικά.bin"), "wb") as f:
        f.write(os.urandom(20_001))
    with open(os.path.join(unicode, "empty.txt"), "wb"):
        pass
    return {"single": single, "multi": multi, "unicode": unicode}


def shoal_creates(work, shapes):
    for label, path in shapes.items():
        out = os.path.join(work, "shoal-%s.torrent" % label)
        run(SHOAL, "create", path, "-o", out, "-t", "http://127.0.0.1:6969/announce")
        ours = shoal_info(out)
        tih, tfiles = transmission_show(out)
        lih, lfiles = lt_view(out)
        check(ours["infohash"] == tih, "shoal create %s: transmission-show infohash %s"
              % (label, tih))
        check(ours["infohash"] == lih, "shoal create %s: libtorrent infohash %s" % (label, lih))
        check(shoal_files(ours) == lfiles, "shoal create %s: libtorrent file list (%d files)"
              % (label, len(lfiles)))
        # transmission-show lists the files sorted by name; shoal keeps
        # torrent order, which `shoal create` also sorts.
        check(sorted(f[0] for f in shoal_files(ours)) == sorted(tfiles),
              "shoal create %s: transmission-show file list" % label)


def others_create(work, shapes):
    for label, path in shapes.items():
        makers = {}
        out = os.path.join(work, "mktorrent-%s.torrent" % label)
        run("mktorrent", "-a", "http://127.0.0.1:6969/announce", "-o", out, path)
        makers["mktorrent"] = out
        out = os.path.join(work, "transmission-%s.torrent" % label)
        run("transmission-create", "-o", out, "-t", "udp://127.0.0.1:6969", path)
        makers["transmission-create"] = out
        for flavour, flags in (("hybrid", 0), ("v1", lt.create_torrent.v1_only)):
            fs = lt.file_storage()
            lt.add_files(fs, path)
            ct = lt.create_torrent(fs, 0, flags)
            ct.add_tracker("http://127.0.0.1:6969/announce")
            lt.set_piece_hashes(ct, os.path.dirname(path))
            out = os.path.join(work, "lt-%s-%s.torrent" % (flavour, label))
            with open(out, "wb") as f:
                f.write(lt.bencode(ct.generate()))
            makers["libtorrent-" + flavour] = out
        for maker, torrent in makers.items():
            ours = shoal_info(torrent)
            lih, lfiles = lt_view(torrent)
            # Transmission 3.00 cannot read hybrid v1+v2 torrents at all, so
            # those are checked against libtorrent alone.
            tih = lih if maker == "libtorrent-hybrid" else transmission_show(torrent)[0]
            check(ours["infohash"] == lih == tih,
                  "%s %s: shoal infohash %s, libtorrent %s, transmission %s"
                  % (maker, label, ours["infohash"], lih,
                     "(cannot read hybrid)" if maker == "libtorrent-hybrid" else tih))
            check(shoal_files(ours) == lfiles,
                  "%s %s: file list matches libtorrent (%d entries)"
                  % (maker, label, len(lfiles)))


def main():
    work = tempfile.mkdtemp(prefix="shoal-interop-files.")
    try:
        shapes = make_tree(work)
        shoal_creates(work, shapes)
        others_create(work, shapes)
    finally:
        shutil.rmtree(work)
    total = len(failures)
    print("torrent file interop: %d failure(s)" % total)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
