#!/usr/bin/env python3
"""Writes the hand-made torrents under tests/data/torrents/.

bad/NAME.torrent + NAME.expect: a malformed torrent and the text its error
message must contain. unsafe/NAME.torrent + NAME.expect: a torrent whose file
names try to leave the download folder, and the exact paths shoal must turn
them into (one per line; "link PATH -> TARGET" for kept symlinks,
"pad PATH" for pad files).

The files are committed; run this again only to change them.
"""
import hashlib
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def benc(v):
    if isinstance(v, bool):
        raise TypeError
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(benc(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(benc(k) + benc(x) for k, x in items) + b"e"
    raise TypeError(type(v))


def pieces_for(total, plen):
    n = (total + plen - 1) // plen
    return b"".join(hashlib.sha1(b"%d" % i).digest() for i in range(n))


def single(length=100, plen=16384, **extra):
    info = {"name": "f.bin", "length": length, "piece length": plen,
            "pieces": pieces_for(length, plen)}
    info.update(extra)
    return {"announce": "http://127.0.0.1:6969/announce", "info": info}


def multi(files, plen=16384, name="top", **extra):
    total = sum(f["length"] for f in files)
    info = {"name": name, "files": files, "piece length": plen,
            "pieces": pieces_for(total, plen)}
    info.update(extra)
    return {"info": info}


BAD = {}
BAD["not-bencode"] = (b"hello world", "unexpected byte")
BAD["empty-file"] = (b"", "empty input")
BAD["truncated"] = (benc(single())[:-2], "truncated")
BAD["int-leading-zero"] = (b"d8:announce3:abc4:infoi01ee", "leading zero")
BAD["int-negative-zero"] = (b"d4:infoi-0ee", "negative zero")
BAD["int-overflow"] = (b"d4:infoi9223372036854775808ee", "overflows 64 bits")
BAD["int-no-digits"] = (b"d4:infoiee", "no digits")
BAD["string-length-overflow"] = (b"d4:info99999999999999999999999:xe",
                                 "string length exceeds the input")
BAD["string-truncated"] = (b"d4:info10:abce", "string length exceeds the input")
BAD["string-leading-zero"] = (b"d04:infoi1ee", "leading zero")
BAD["nesting-too-deep"] = (b"d4:info" + b"l" * 101 + b"e" * 101 + b"e", "nesting too deep")
BAD["trailing-garbage"] = (benc(single()) + b"xyz", "trailing data")
BAD["dict-key-not-string"] = (b"di1ei2ee", "key is not a string")
BAD["dict-key-without-value"] = (b"d4:infoe", "key has no value")
BAD["duplicate-key"] = (b"d4:infoi1e4:infoi2ee", "duplicate dictionary key")
BAD["not-a-dict"] = (benc([1, 2]), "not a dictionary")
BAD["no-info"] = (benc({"announce": "http://127.0.0.1/a"}), "no info dictionary")
BAD["info-not-dict"] = (benc({"info": [1]}), "info is not a dictionary")
t = single(); del t["info"]["piece length"]
BAD["no-piece-length"] = (benc(t), "no piece length")
BAD["piece-length-zero"] = (benc(single(plen=0) | {}) if False else
                            benc({"info": {"name": "x", "length": 10, "piece length": 0,
                                           "pieces": b""}}), "piece length is 0")
BAD["piece-length-negative"] = (benc({"info": {"name": "x", "length": 10,
                                               "piece length": -16384, "pieces": b""}}),
                                "piece length is -16384")
BAD["piece-length-huge"] = (benc({"info": {"name": "x", "length": 10,
                                           "piece length": 1 << 30, "pieces": b"x" * 20}}),
                            "piece length is 1073741824")
t = single(); del t["info"]["pieces"]
BAD["no-pieces"] = (benc(t), "no pieces")
t = single(); t["info"]["pieces"] = b"x" * 39
BAD["pieces-not-multiple-of-20"] = (benc(t), "info.pieces is 39 bytes, not a multiple of 20")
t = single(length=100000); t["info"]["pieces"] = b"x" * 40
BAD["piece-count-mismatch"] = (benc(t), "holds 2 hashes but 100000 bytes in pieces of 16384 need 7")
t = single(); t["info"]["files"] = [{"length": 1, "path": ["a"]}]
BAD["length-and-files"] = (benc(t), "both length and files")
t = single(); del t["info"]["length"]
BAD["no-length-no-files"] = (benc(t), "neither length nor files")
t = single(); del t["info"]["length"]; t["info"]["file tree"] = {}; t["info"]["meta version"] = 2
BAD["v2-only"] = (benc(t), "v2-only torrents are not supported")
BAD["files-empty"] = (benc(multi([]) | {"info": {"name": "x", "files": [],
                                                   "piece length": 16384, "pieces": b""}}),
                      "info.files is empty")
BAD["file-negative-length"] = (benc({"info": {"name": "x", "piece length": 16384,
                                              "pieces": b"",
                                              "files": [{"length": -5, "path": ["a"]}]}}),
                               "info.files[0].length is negative")
BAD["file-no-path"] = (benc(multi([{"length": 10}])), "info.files[0] has no path")
BAD["file-empty-path"] = (benc(multi([{"length": 10, "path": []}])), "info.files[0].path is empty")
BAD["file-path-not-string"] = (benc(multi([{"length": 10, "path": ["a", 7]}])),
                               "info.files[0].path[1] is not a string")
BAD["path-too-deep"] = (benc(multi([{"length": 10, "path": ["d"] * 101}])),
                        "has 101 components (limit 100)")
BAD["file-not-dict"] = (benc({"info": {"name": "x", "piece length": 16384, "pieces": b"",
                                       "files": ["a"]}}), "info.files[0] is not a dictionary")
BAD["total-size-zero"] = (benc(multi([{"length": 0, "path": ["a"]}])), "no data (total size is 0)")
BAD["too-many-pieces"] = (benc({"info": {"name": "x", "length": 1 << 40, "piece length": 1,
                                         "pieces": b"x" * 20}}), "limit 2097152")
BAD["size-overflow"] = (benc({"info": {"name": "x", "piece length": 16384, "pieces": b"",
                                       "files": [{"length": (1 << 63) - 1, "path": ["a"]},
                                                 {"length": 2, "path": ["b"]}]}}),
                        "total size overflows")

UNSAFE = {}
UNSAFE["dotdot"] = (multi([{"length": 10, "path": ["..", "..", "etc", "passwd"]}]),
                    ["top/etc/passwd"])
UNSAFE["slash-in-component"] = (multi([{"length": 10, "path": ["/etc/passwd"]}]),
                                ["top/_etc_passwd"])
UNSAFE["backslash"] = (multi([{"length": 10, "path": ["..\\..\\win.ini"]}]),
                       ["top/.._.._win.ini"])
UNSAFE["nul-and-control"] = (multi([{"length": 10, "path": ["a\x00b\x07c"]}]), ["top/a_b_c"])
UNSAFE["empty-and-dot-components"] = (multi([{"length": 10, "path": ["a", "", ".", "b"]}]),
                                      ["top/a/b"])
UNSAFE["all-components-dropped"] = (multi([{"length": 10, "path": ["..", "."]}]), ["top/_"])
UNSAFE["name-dotdot"] = (multi([{"length": 10, "path": ["a"]}], name=".."), ["@HASH@/a"])
UNSAFE["name-with-slash"] = (single(name="../../evil"), [".._.._evil"])
UNSAFE["name-absolute"] = (single(name="/etc/passwd"), ["_etc_passwd"])
UNSAFE["duplicate-paths"] = (multi([{"length": 10, "path": ["x.txt"]},
                                    {"length": 10, "path": ["x.txt"]},
                                    {"length": 10, "path": ["x.txt"]}]),
                             ["top/x.txt", "top/x.1.txt", "top/x.2.txt"])
UNSAFE["file-and-dir-collide"] = (multi([{"length": 10, "path": ["a"]},
                                         {"length": 10, "path": ["a", "b"]}]),
                                  ["top/a.1", "top/a/b"])
UNSAFE["dedupe-after-sanitize"] = (multi([{"length": 10, "path": ["..", "x"]},
                                          {"length": 10, "path": ["x"]}]),
                                   ["top/x", "top/x.1"])
UNSAFE["invalid-utf8"] = (multi([{"length": 10, "path": [b"a\xffb\xc3"]}]), ["top/a_b_"])
UNSAFE["long-component"] = (multi([{"length": 10, "path": ["a" * 300]}]), ["top/" + "a" * 240])
UNSAFE["symlink-outside"] = (multi([{"length": 10, "path": ["data"]},
                                    {"length": 0, "path": ["link"], "attr": "l",
                                     "symlink path": ["..", "..", "etc", "passwd"]}]),
                             ["top/data", "top/link"])
UNSAFE["symlink-slash"] = (multi([{"length": 10, "path": ["data"]},
                                  {"length": 0, "path": ["link"], "attr": "l",
                                   "symlink path": ["/etc/passwd"]}]),
                           ["top/data", "top/link"])
UNSAFE["symlink-missing-target"] = (multi([{"length": 10, "path": ["data"]},
                                           {"length": 0, "path": ["link"], "attr": "l"}]),
                                    ["top/data", "top/link"])
UNSAFE["symlink-inside"] = (multi([{"length": 10, "path": ["dir", "data"]},
                                   {"length": 0, "path": ["link"], "attr": "l",
                                    "symlink path": ["dir", "data"]}]),
                            ["top/dir/data", "link top/link -> dir/data"])
UNSAFE["pad-files-kept"] = (multi([{"length": 10, "path": ["a"]},
                                   {"length": 16374, "path": [".pad", "16374"], "attr": "p"},
                                   {"length": 10, "path": ["b"]},
                                   {"length": 16374, "path": [".pad", "16374"], "attr": "p"},
                                   {"length": 5, "path": ["c"]}]),
                            ["top/a", "pad top/.pad/16374", "top/b", "pad top/.pad/16374",
                             "top/c"])
UNSAFE["utf8-path-preferred"] = (multi([{"length": 10, "path": [b"caf\xe9"],
                                         "path.utf-8": ["café"]}]), ["top/café"])


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main():
    bad = os.path.join(HERE, "torrents", "bad")
    unsafe = os.path.join(HERE, "torrents", "unsafe")
    os.makedirs(bad, exist_ok=True)
    os.makedirs(unsafe, exist_ok=True)
    for name, (data, expect) in sorted(BAD.items()):
        write(os.path.join(bad, name + ".torrent"), data)
        write(os.path.join(bad, name + ".expect"), expect.encode() + b"\n")
    for name, (t, paths) in sorted(UNSAFE.items()):
        data = benc(t)
        ih = hashlib.sha1(benc(t["info"])).hexdigest()
        write(os.path.join(unsafe, name + ".torrent"), data)
        lines = [p.replace("@HASH@", ih) for p in paths]
        write(os.path.join(unsafe, name + ".expect"), ("\n".join(lines) + "\n").encode())
    print("wrote %d bad and %d unsafe torrents" % (len(BAD), len(UNSAFE)))


if __name__ == "__main__":
    sys.exit(main())
