#!/usr/bin/python3
"""Transfers between shoal and real clients on loopback, run by
test_swarm_interop.sh.

For each of Transmission (transmission-cli), libtorrent (python3-libtorrent)
and aria2 (aria2c): shoal downloads from it as a seeder, and it downloads
from a shoal seeder. Peers are given by address (no tracker): shoal dials the
other side with --peer, except that libtorrent dials shoal. Every transfer
must end with byte-identical files. Every process is started here and
stopped by PID; every wait is bounded.
"""
import filecmp
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SHOAL = os.environ.get("SHOAL_BIN", "build/shoal")
HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = float(os.environ.get("INTEROP_TIMEOUT", "90"))
failures = []
procs = []


def log(msg):
    print(msg, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(args, out, **kw):
    env = dict(os.environ, SHOAL_LOCAL_ONLY="1")
    p = subprocess.Popen(args, stdout=open(out + ".out", "w"), stderr=open(out + ".err", "w"),
                         env=env, start_new_session=True, **kw)
    procs.append(p)
    return p


def stop(p):
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def wait_for(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.2)
    return False


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def shoal_port(out):
    ok = wait_for(lambda: "listening on port" in read(out + ".out"), 10)
    if not ok:
        return None
    for line in read(out + ".out").splitlines():
        if line.startswith("listening on port"):
            return int(line.split()[-1])
    return None


def same_tree(a, b, files):
    return all(os.path.exists(os.path.join(b, f)) and
               filecmp.cmp(os.path.join(a, f), os.path.join(b, f), shallow=False)
               for f in files)


def check(cond, what):
    log(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


def tail(path, n=15):
    lines = read(path).splitlines()
    return "\n".join("      | " + x for x in lines[-n:])


# ------------------------------------------------------------------ peers

def transmission_config(work, name):
    cfg = os.path.join(work, name + "-cfg")
    os.makedirs(cfg, exist_ok=True)
    settings = {
        "dht-enabled": False, "lpd-enabled": False, "pex-enabled": False,
        "utp-enabled": False, "port-forwarding-enabled": False,
        "encryption": 0, "rpc-enabled": False, "blocklist-enabled": False,
        "speed-limit-up-enabled": False, "speed-limit-down-enabled": False,
        "ratio-limit-enabled": False, "idle-seeding-limit-enabled": False,
    }
    with open(os.path.join(cfg, "settings.json"), "w") as f:
        json.dump(settings, f)
    return cfg


def transmission(work, name, torrent, folder, port):
    cfg = transmission_config(work, name)
    marker = os.path.join(work, name + ".finished")
    script = os.path.join(work, name + ".sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\ntouch '%s'\n" % marker)
    os.chmod(script, 0o755)
    p = start(["transmission-cli", "-g", cfg, "-w", folder, "-p", str(port), "-et", "-M",
               "-f", script, torrent], os.path.join(work, name))
    return p, marker


def aria2(work, name, torrent, folder, port, seed):
    args = ["aria2c", "--dir", folder, "--listen-port", str(port), "--enable-dht=false",
            "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
            "--bt-require-crypto=false", "--bt-min-crypto-level=plain", "--seed-ratio=0",
            "--file-allocation=none", "--console-log-level=warn", "--summary-interval=0",
            "--bt-tracker-connect-timeout=1", "--bt-stop-timeout=0", "--check-integrity=true",
            "--bt-hash-check-seed=true", "--follow-torrent=false", "--disable-ipv6=true",
            "--interface=127.0.0.1"]
    args += ["--seed-time=600"] if seed else ["--seed-time=0"]
    args.append(torrent)
    return start(args, os.path.join(work, name))


def libtorrent(work, name, mode, torrent, folder, peer=None):
    args = ["/usr/bin/python3", os.path.join(HERE, "lt_peer.py"), mode, torrent, folder,
            "--timeout", str(TIMEOUT)]
    if peer:
        args += ["--peer", peer]
    return start(args, os.path.join(work, name))


def shoal_get(work, name, torrent, folder, peer):
    return start([SHOAL, "get", torrent, "-o", folder, "--peer", peer, "--port", "0"],
                 os.path.join(work, name))


def shoal_seed(work, name, torrent, folder, peer=None):
    args = [SHOAL, "seed", torrent, "-d", folder, "--port", "0"]
    if peer:
        args += ["--peer", peer]
    return start(args, os.path.join(work, name))


# ------------------------------------------------------------------ cases

def from_client(work, torrent, seed_dir, files, client):
    """The client seeds; shoal downloads."""
    port = free_port()
    out = os.path.join(work, "get-from-" + client)
    os.makedirs(out)
    if client == "transmission":
        seeder, _ = transmission(work, "tr-seed", torrent, seed_dir, port)
    elif client == "aria2":
        seeder = aria2(work, "aria2-seed", torrent, seed_dir, port, seed=True)
    else:
        seeder = libtorrent(work, "lt-seed", "seed", torrent, seed_dir)
        ok = wait_for(lambda: read(os.path.join(work, "lt-seed.out")).startswith("port"), 10)
        port = int(read(os.path.join(work, "lt-seed.out")).split()[1]) if ok else 0
    time.sleep(1.0)  # let the seeder finish checking its data
    getter = shoal_get(work, "shoal-get-" + client, torrent, out, "127.0.0.1:%d" % port)
    try:
        getter.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        stop(getter)
    stop(seeder)
    good = getter.returncode == 0 and same_tree(seed_dir, out, files)
    check(good, "shoal downloads from a %s seeder (exit %s)" % (client, getter.returncode))
    if not good:
        log(tail(os.path.join(work, "shoal-get-" + client + ".err")))


def to_client(work, torrent, seed_dir, files, client):
    """shoal seeds; the client downloads."""
    out = os.path.join(work, client + "-leech")
    os.makedirs(out)
    port = free_port()
    marker = None
    if client == "transmission":
        leecher, marker = transmission(work, "tr-leech", torrent, out, port)
        seeder = shoal_seed(work, "shoal-seed-tr", torrent, seed_dir, "127.0.0.1:%d" % port)
    elif client == "aria2":
        leecher = aria2(work, "aria2-leech", torrent, out, port, seed=False)
        seeder = shoal_seed(work, "shoal-seed-aria2", torrent, seed_dir, "127.0.0.1:%d" % port)
    else:
        seeder = shoal_seed(work, "shoal-seed-lt", torrent, seed_dir)
        sport = shoal_port(os.path.join(work, "shoal-seed-lt"))
        leecher = libtorrent(work, "lt-leech", "leech", torrent, out, "127.0.0.1:%s" % sport)
    if marker:
        done = wait_for(lambda: os.path.exists(marker) and same_tree(seed_dir, out, files),
                        TIMEOUT)
    else:
        try:
            leecher.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        done = leecher.returncode == 0 and same_tree(seed_dir, out, files)
    stop(leecher)
    stop(seeder)
    check(done, "%s downloads from a shoal seeder" % client)
    if not done:
        name = {"transmission": "shoal-seed-tr", "aria2": "shoal-seed-aria2"}.get(
            client, "shoal-seed-lt")
        log(tail(os.path.join(work, name + ".err")))


def main():
    work = tempfile.mkdtemp(prefix="shoal-interop-swarm.")
    try:
        seed_dir = os.path.join(work, "seed")
        data = os.path.join(seed_dir, "payload")
        os.makedirs(os.path.join(data, "sub"))
        with open(os.path.join(data, "big.bin"), "wb") as f:
            f.write(os.urandom(12 * 1024 * 1024 + 12345))
        with open(os.path.join(data, "sub", "small.txt"), "wb") as f:
            f.write(b"interop " * 5000)
        files = ["payload/big.bin", "payload/sub/small.txt"]
        torrent = os.path.join(work, "payload.torrent")
        subprocess.run([SHOAL, "create", data, "-o", torrent, "--piece-size", "256K"],
                       check=True, capture_output=True)
        clients = sys.argv[1:] or ["libtorrent", "aria2", "transmission"]
        for client in clients:
            from_client(work, torrent, seed_dir, files, client)
            to_client(work, torrent, seed_dir, files, client)
    finally:
        for p in procs:
            stop(p)
        if failures:
            log("work folder kept: " + work)
        else:
            shutil.rmtree(work)
    log("swarm interop: %d passed, %d failed" % (6 - len(failures) if len(sys.argv) < 2
                                                 else 2 * (len(sys.argv) - 1) - len(failures),
                                                 len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
