#!/usr/bin/python3
"""Runs every ```sh example of README.md, as a user who pastes them in order
into an empty folder would, and fails when one does not work as written.

The examples run in one fresh folder, block after block, with HOME,
XDG_STATE_HOME and XDG_CONFIG_HOME inside a temporary folder (so `~/...`,
the resume state and the config file are the test's own), `shoal` resolving
to $SHOAL_BIN and SHOAL_LOCAL_ONLY=1. How a block is read:

- a line whose command is `make` is skipped (other tests cover those) and said;
- a comment (`#` at the start of a word, outside quotes) is not run; when it
  says `exit N` / `exits N`, N is the exit code the example is meant to have;
- a line ending in `\\` goes on on the next line; a here-document (`<<'END'`)
  takes its lines up to END;
- a line ending in `&` runs in the background as job 1, 2, ... of the block;
  the test then waits until it says it is listening (`listening on port`,
  `http on port`, `udp on port`, `Serving HTTP`), at most 10 s;
- `kill [-SIG] %N...` signals those jobs (SIGTERM unless told) and waits for
  each to end, with the exit code the comment gives, if it gives one;
- any other line runs with `bash -c` and a time limit: when it finishes it
  must exit 0 (or the code its comment gives); a long-running command
  (`shoal tracker`, `seed`, `share`, `get --seed`/`--seed-ratio`) still
  running at the limit gets SIGINT and passes only with exit 130 and no usage
  error; any other command still running at the limit fails;
- at the end of a block every job still running is stopped (by process group).

Then, to show it can fail, the Quick start block is run once more with the
first option of its `shoal get` misspelt, and must fail.
"""
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SHOAL = os.path.abspath(os.environ.get("SHOAL_BIN", "build/shoal"))
SRC = os.environ.get("SHOAL_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
README = os.environ.get("README", os.path.join(SRC, "README.md"))

LIMIT = 15.0          # seconds a foreground command may run
READY_LIMIT = 10.0    # seconds a background one has to say it listens
READY = re.compile(r"listening on port \d+|http on port \d+|udp on port \d+|Serving HTTP")
USAGE = re.compile(r"unknown option|usage:|try: shoal|requires an argument|bad --")
EXIT_IN_COMMENT = re.compile(r"\bexits? (\d+)\b")
SIGNALS = {"INT": signal.SIGINT, "TERM": signal.SIGTERM, "HUP": signal.SIGHUP,
           "KILL": signal.SIGKILL}


class Failure(Exception):
    pass


def split_comment(line):
    """(code, comment) of one shell line: a '#' starting a word outside
    quotes starts the comment."""
    quote = None
    prev = " "
    i = 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = None
        elif c == "\\":
            i += 1
        elif c in "'\"":
            quote = c
        elif c == "#" and prev in " \t":
            return line[:i].rstrip(), line[i + 1:].strip()
        prev = c if i < len(line) else prev
        i += 1
    return line.rstrip(), ""


HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")


def commands_of(block):
    """The block's commands: (text, comment) each, with continuations and
    here-documents joined into the command they belong to."""
    out = []
    lines = block.split("\n")
    i = 0
    while i < len(lines):
        code, comment = split_comment(lines[i])
        i += 1
        while code.endswith("\\") and i < len(lines):
            more, more_comment = split_comment(lines[i])
            code = code[:-1] + " " + more.strip()
            comment = comment or more_comment
            i += 1
        if not code.strip():
            continue
        m = HEREDOC.search(code)
        if m:
            body = []
            while i < len(lines) and lines[i].strip() != m.group(2):
                body.append(lines[i])
                i += 1
            if i >= len(lines):
                raise Failure("here-document %s is not closed" % m.group(2))
            code = "\n".join([code] + body + [lines[i]])
            i += 1
        out.append((code.strip(), comment))
    return out


def sh_blocks(text):
    """(first line number, body) of each ```sh fenced block."""
    blocks = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            start = i + 1
            j = start
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            blocks.append((start + 1, "\n".join(lines[start:j])))
            i = j
        i += 1
    return blocks


def expected_exit(comment):
    m = EXIT_IN_COMMENT.search(comment)
    return int(m.group(1)) if m else None


def long_running(code):
    try:
        words = shlex.split(code)
    except ValueError:
        return False
    if len(words) < 2 or words[0] != "shoal":
        return False
    if words[1] in ("tracker", "seed", "share"):
        return True
    return words[1] == "get" and ("--seed" in words or "--seed-ratio" in words)


class Runner:
    def __init__(self, root):
        self.root = root
        self.home = os.path.join(root, "home")
        self.cwd = os.path.join(root, "folder")
        self.logs = os.path.join(root, "logs")
        bindir = os.path.join(root, "bin")
        for d in (self.home, self.cwd, self.logs, bindir):
            os.makedirs(d)
        wrapper = os.path.join(bindir, "shoal")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nexec "%s" "$@"\n' % SHOAL)
        os.chmod(wrapper, 0o755)
        self.env = dict(os.environ)
        self.env.update({
            "HOME": self.home,
            "XDG_STATE_HOME": os.path.join(self.home, ".local", "state"),
            "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
            "SHOAL_LOCAL_ONLY": "1",
            "PATH": bindir + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONUNBUFFERED": "1",   # so http.server's "Serving HTTP" arrives
        })
        self.n = 0
        self.jobs = []

    def log_path(self):
        self.n += 1
        return os.path.join(self.logs, "%03d.out" % self.n)

    def start(self, code, log):
        f = open(log, "wb")
        p = subprocess.Popen(["bash", "-c", code], cwd=self.cwd, env=self.env, stdout=f,
                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        f.close()
        return p

    def run_foreground(self, code, comment):
        log = self.log_path()
        want = expected_exit(comment)
        p = self.start(code, log)
        try:
            rc = p.wait(timeout=LIMIT)
            ran_out = False
        except subprocess.TimeoutExpired:
            ran_out = True
            os.killpg(p.pid, signal.SIGINT)
            try:
                rc = p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                rc = p.wait()
        out = read(log)
        if ran_out:
            if not long_running(code):
                raise Failure("still running after %d s (it should end by itself)\n%s"
                              % (LIMIT, out))
            if rc != 130 or USAGE.search(out):
                raise Failure("stopped with SIGINT after %d s: exit %d, want 130 and no "
                              "usage error\n%s" % (LIMIT, rc, out))
            return "ran %d s, SIGINT: exit 130" % LIMIT
        if rc != (want if want is not None else 0):
            raise Failure("exit %d, want %d\n%s" % (rc, want or 0, out))
        return "exit %d" % rc

    def run_background(self, code):
        log = self.log_path()
        p = self.start(code, log)
        self.jobs.append((p, log, code))
        deadline = time.monotonic() + READY_LIMIT
        while time.monotonic() < deadline:
            if READY.search(read(log)):
                return "job %d, ready" % len(self.jobs)
            if p.poll() is not None:
                raise Failure("background command ended at once: exit %d\n%s"
                              % (p.returncode, read(log)))
            time.sleep(0.05)
        return "job %d, said nothing of a port in %d s" % (len(self.jobs), READY_LIMIT)

    def run_kill(self, words, comment):
        sig = signal.SIGTERM
        want = expected_exit(comment)
        for w in words[1:]:
            if w.startswith("%"):
                continue
            name = w.lstrip("-").upper()
            name = name[3:] if name.startswith("SIG") else name
            sig = signal.Signals(int(name)) if name.isdigit() else SIGNALS[name]
        said = []
        for w in words[1:]:
            if not w.startswith("%"):
                continue
            n = int(w[1:])
            if not 1 <= n <= len(self.jobs):
                raise Failure("no job %s" % w)
            p, log, code = self.jobs[n - 1]
            if p.poll() is not None:
                raise Failure("job %s (%s) had already ended: exit %d\n%s"
                              % (w, code, p.returncode, read(log)))
            os.killpg(p.pid, sig)
            try:
                rc = p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                raise Failure("job %s (%s) did not stop within 10 s of %s"
                              % (w, code, sig.name))
            if want is not None and rc != want:
                raise Failure("job %s (%s) exited %d after %s, want %d\n%s"
                              % (w, code, rc, sig.name, want, read(log)))
            said.append("%s exit %d" % (w, rc))
        return ", ".join(said)

    def end_block(self):
        for p, _, _ in self.jobs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p, _, _ in self.jobs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.jobs = []

    def run_block(self, lineno, block, quiet=False):
        """Runs one block; raises Failure naming the line that failed."""
        try:
            for code, comment in commands_of(block):
                if code.split()[0] == "make":
                    if not quiet:
                        print("  skipped (make, covered by other tests): %s" % code)
                    continue
                t0 = time.monotonic()
                try:
                    words = shlex.split(code)
                except ValueError:
                    words = []
                if words and words[0] == "kill" and any(w.startswith("%") for w in words):
                    what = self.run_kill(words, comment)
                elif code.endswith("&") and not code.endswith("&&"):
                    what = self.run_background(code[:-1].strip())
                else:
                    what = self.run_foreground(code, comment)
                if not quiet:
                    print("  ok (%s, %.1f s): %s" % (what, time.monotonic() - t0,
                                                     code.split("\n")[0]))
        except Failure as e:
            raise Failure("README.md block at line %d, command `%s`: %s"
                          % (lineno, code.split("\n")[0], e))
        finally:
            self.end_block()


PORT_IN_EXAMPLE = re.compile(r"(?::|--port |http\.server )(\d{4,5})\b")


def busy_ports(blocks):
    """The fixed ports the examples use that something already holds: the
    examples cannot work as written then (another shoal, say)."""
    ports = {6881, 6969}    # the defaults, used without being written
    for _, block in blocks:
        ports.update(int(p) for p in PORT_IN_EXAMPLE.findall(block))
    busy = []
    for port in sorted(ports):
        for family, host, kind in ((socket.AF_INET, "127.0.0.1", socket.SOCK_STREAM),
                                   (socket.AF_INET, "127.0.0.1", socket.SOCK_DGRAM),
                                   (socket.AF_INET6, "::1", socket.SOCK_STREAM)):
            s = socket.socket(family, kind)
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((host, port))
            except OSError:
                busy.append("%s %s:%d" % ("udp" if kind == socket.SOCK_DGRAM else "tcp",
                                          host, port))
            finally:
                s.close()
    return busy


def read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def main():
    if not os.access(SHOAL, os.X_OK):
        print("SKIP: no shoal binary at %s" % SHOAL)
        return 0
    for tool in ("bash", "curl", "python3", "diff"):
        if not shutil.which(tool):
            print("SKIP: the README's examples need %s, which is not installed" % tool)
            return 0
    with open(README, encoding="utf-8") as f:
        blocks = sh_blocks(f.read())
    if len(blocks) < 8:
        print("FAIL: only %d ```sh blocks found in %s" % (len(blocks), README))
        return 1
    busy = busy_ports(blocks)
    if busy:
        print("SKIP: ports the examples use are taken: %s" % ", ".join(busy))
        return 0
    t0 = time.monotonic()
    failed = 0
    root = tempfile.mkdtemp(prefix="shoal-readme.")
    try:
        r = Runner(root)
        for lineno, block in blocks:
            print("block at README.md line %d" % lineno)
            try:
                r.run_block(lineno, block)
            except Failure as e:
                print("FAIL: %s" % e)
                failed += 1
                break   # later blocks build on this one
    finally:
        shutil.rmtree(root, ignore_errors=True)

    # The check must be able to fail: the Quick start with a misspelt option.
    quick = [b for b in blocks if "shoal get" in b[1] and "diff -r" in b[1]]
    if not quick:
        print("FAIL: no Quick start block (shoal get ... then diff -r) in the README")
        return 1
    lineno, block = quick[0]
    # The first long option of its `shoal get` line, misspelt.
    broken = re.sub(r"(shoal get [^\n]*?--)([a-z][a-z-]*)", r"\1\2s", block, count=1)
    typo = re.search(r"shoal get [^\n]*?--([a-z][a-z-]*)", block)
    typo = "--%ss instead of --%s" % (typo.group(1), typo.group(1)) if typo else "a typo"
    root = tempfile.mkdtemp(prefix="shoal-readme-broken.")
    try:
        Runner(root).run_block(lineno, broken, quiet=True)
        print("FAIL: the Quick start with %s passed" % typo)
        failed += 1
    except Failure as e:
        print("ok: the Quick start with %s fails: %s" % (typo, str(e).split("\n")[0]))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print("%s in %.1f s" % ("FAIL" if failed else "PASS", time.monotonic() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
