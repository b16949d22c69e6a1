#!/usr/bin/python3
"""What a user sees while shoal runs: the status output of `shoal get`.

  tty       a download in a real terminal (a pty 80 columns wide): no
            segment of the live line is wider than the terminal, it shows
            bytes done/total, it ends at 100.0%, `finished:` says what was
            fetched and how long it took, and the `totals:` line is last.
  narrow    the same at 40 columns.
  interrupt Ctrl-C (SIGINT to the process in the terminal) mid-download:
            "stopped; run the same command to resume", exit code 130, and
            `totals:` still last.
  trackers  a tracker that refuses and one that never answers are shown
            with their reasons without -v, each once.
  verbose   -v: each event once, with a timestamp; --log FILE gets them too.
  piped     a seeder writing to a pipe prints its progress line once, then
            not again within a minute (while downloading it would every 5 s).
"""
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools as pt  # noqa: E402

SHOAL = pt.SHOAL
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def run_in_pty(args, cols, deadline_s, interrupt_when=None):
    """Runs args with stdin/stdout/stderr on a pty `cols` columns wide.
    Returns (exit code, everything it wrote). interrupt_when(text) -> True
    sends SIGINT once (as Ctrl-C does: to the process on the terminal)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["SHOAL_LOCAL_ONLY"] = "1"
        try:
            os.execv(args[0], args)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    os.kill(pid, signal.SIGWINCH)
    out = b""
    end = time.monotonic() + deadline_s
    sent = False
    status = None
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            out += chunk
        if interrupt_when and not sent and interrupt_when(out.decode("utf-8", "replace")):
            os.kill(pid, signal.SIGINT)
            sent = True
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            # Drain what is left.
            while True:
                r, _, _ = select.select([fd], [], [], 0.2)
                if not r:
                    break
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
            break
    if status is None:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    os.close(fd)
    code = os.waitstatus_to_exitcode(status)
    return code, out.decode("utf-8", "replace")


def segments(text):
    """What was on screen at some point: the text between carriage returns
    and newlines, escape sequences removed."""
    return [ANSI.sub("", s) for s in re.split(r"[\r\n]", text) if ANSI.sub("", s)]


def last_line(text):
    lines = [s for s in segments(text) if s.strip()]
    return lines[-1] if lines else ""


def make_torrent(work, name, size, piece="64K", trackers=()):
    data = os.path.join(work, "share", name)
    os.makedirs(os.path.dirname(data), exist_ok=True)
    with open(data, "wb") as f:
        f.write(os.urandom(size))
    torrent = os.path.join(work, name + ".torrent")
    args = [SHOAL, "create", data, "-o", torrent, "--piece-size", piece]
    for t in trackers:
        args += ["-t", t]
    subprocess.run(args, check=True, capture_output=True)
    return data, torrent


def start_seed(procs, work, torrent, stem, rate="2M"):
    out = os.path.join(work, stem)
    p = procs.start([SHOAL, "seed", torrent, "-d", os.path.join(work, "share"),
                     "--port", "0", "--max-up", rate], out)
    return p, out, pt.shoal_port(out, 20)


def check_tty(c, procs, work, cols):
    data, torrent = make_torrent(work, "tty%d.bin" % cols, 6 * 1024 * 1024)
    _, _, port = start_seed(procs, work, torrent, "seed%d" % cols)
    c.check(port is not None, "%d cols: seeder listening" % cols)
    if port is None:
        return
    dest = os.path.join(work, "dl%d" % cols)
    code, text = run_in_pty([SHOAL, "get", torrent, "-o", dest, "--port", "0", "--peer",
                             "127.0.0.1:%d" % port], cols, 120)
    segs = segments(text)
    c.check(code == 0, "%d cols: get exits 0 (got %d)" % (cols, code))
    c.check(pt.same_file(data, os.path.join(dest, os.path.basename(data))),
            "%d cols: download byte-identical" % cols)
    live = [s for s in segs if "%" in s and not s.startswith("shoal ")]
    c.check(len(live) >= 2, "%d cols: the live line was drawn (%d times)" % (cols, len(live)))
    long_lines = [s for s in live if len(s) >= cols]
    c.check(not long_lines, "%d cols: the live line never reaches the terminal's width "
            "(widest %d: %r)" % (cols, max((len(s) for s in live), default=0), long_lines[:1]))
    c.check(any("100.0%" in s for s in live), "%d cols: the line shows 100.0%% at the end"
            % cols)
    if cols >= 80:
        c.check(any(re.search(r"\d+\.\d/6\.0 MiB", s) for s in live),
                "%d cols: bytes done/total shown (%r)" % (cols, live[-1:] if live else None))
    fin = [s for s in segs if "finished:" in s]
    c.check(bool(fin) and re.search(r"6\.00 MiB fetched in [0-9.]+ s", fin[0]) is not None,
            "%d cols: finished: names the bytes fetched and the time (%r)" % (cols, fin[:1]))
    c.check(": totals: " in last_line(text), "%d cols: totals: is the last line (%r)"
            % (cols, last_line(text)))


def check_interrupt(c, procs, work):
    data, torrent = make_torrent(work, "int.bin", 8 * 1024 * 1024)
    _, _, port = start_seed(procs, work, torrent, "seedint", rate="256K")
    if port is None:
        c.check(False, "interrupt: seeder listening")
        return
    dest = os.path.join(work, "dlint")
    code, text = run_in_pty([SHOAL, "get", torrent, "-o", dest, "--port", "0", "--peer",
                             "127.0.0.1:%d" % port], 100, 60,
                            interrupt_when=lambda t: re.search(r"[1-9]\d*\.\d%", t))
    c.check(code == pt.EXIT_INTERRUPTED, "Ctrl-C: exit code 130 (got %d)" % code)
    c.check("stopped; run the same command to resume" in text,
            "Ctrl-C: says how to resume")
    c.check(": totals: " in last_line(text), "Ctrl-C: totals: is the last line (%r)"
            % last_line(text))


def check_trackers(c, procs, work):
    udp_silent = socket_bound_udp()
    refused = pt.free_port()
    data, torrent = make_torrent(
        work, "trk.bin", 256 * 1024,
        trackers=["http://127.0.0.1:%d/announce" % refused,
                  "udp://127.0.0.1:%d/announce" % udp_silent.getsockname()[1]])
    out = os.path.join(work, "trk")
    p = procs.start([SHOAL, "get", torrent, "-o", os.path.join(work, "dltrk"), "--port",
                     "0"], out)
    pt.wait_for(lambda: "no answer" in pt.read_text(out + ".err"), 40)
    procs.stop(p, signal.SIGINT)
    udp_silent.close()
    err = pt.read_text(out + ".err")
    refusals = [x for x in err.splitlines() if "127.0.0.1:%d" % refused in x]
    silences = [x for x in err.splitlines() if "no answer" in x]
    c.check(len(refusals) == 1 and ("connect" in refusals[0].lower()),
            "trackers: a refusing tracker is shown once with its reason (%r)" % refusals)
    c.check(len(silences) == 1, "trackers: a silent UDP tracker is shown once (%r)"
            % silences)


def socket_bound_udp():
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def check_verbose(c, procs, work):
    data, torrent = make_torrent(work, "v.bin", 1024 * 1024)
    _, _, port = start_seed(procs, work, torrent, "seedv", rate="0")
    if port is None:
        c.check(False, "verbose: seeder listening")
        return
    out = os.path.join(work, "getv")
    log = os.path.join(work, "events.log")
    p = procs.start([SHOAL, "get", torrent, "-o", os.path.join(work, "dlv"), "--port", "0",
                     "-v", "--log", log, "--peer", "127.0.0.1:%d" % port], out)
    code = procs.wait(p, 60)
    err = pt.read_text(out + ".err")
    conn = [x for x in err.splitlines() if re.search(r"127\.0\.0\.1:%d: outgoing" % port, x)]
    c.check(code == 0, "verbose: get exits 0")
    c.check(len(conn) == 1, "verbose: the connection to the seeder is told once (%d)"
            % len(conn))
    c.check(bool(conn) and re.search(r"\[\d\d:\d\d:\d\d\]", conn[0]) is not None,
            "verbose: event lines carry a timestamp (%r)" % conn[:1])
    logged = pt.read_text(log)
    c.check(re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d get: .*outgoing", logged, re.M)
            is not None, "--log: the events are in the file with a date and time")
    c.check("totals:" in logged and "finished:" in logged,
            "--log: finished: and totals: are in the file")


def check_piped_seeder(c, procs, work):
    data, torrent = make_torrent(work, "p.bin", 256 * 1024)
    out = os.path.join(work, "pseed")
    p = procs.start([SHOAL, "seed", torrent, "-d", os.path.join(work, "share"), "--port",
                     "0"], out)
    time.sleep(14)
    procs.stop(p, signal.SIGINT)
    err = pt.read_text(out + ".err")
    progress = [x for x in err.splitlines() if x.startswith("seeding ")]
    c.check(len(progress) == 1, "piped seeder: one progress line in 14 s, not one per 5 s "
            "(%d)" % len(progress))


def main():
    c = pt.Checks("status_output")
    work = tempfile.mkdtemp(prefix="shoal-status.")
    procs = pt.Procs()
    try:
        check_tty(c, procs, work, 80)
        check_tty(c, procs, work, 40)
        check_interrupt(c, procs, work)
        check_trackers(c, procs, work)
        check_verbose(c, procs, work)
        check_piped_seeder(c, procs, work)
    finally:
        procs.stop_all()
    c.finish(work)
    return c.exit_code()


if __name__ == "__main__":
    sys.exit(main())
