#!/usr/bin/python3
"""Help, option errors, the version, the man page and `make install`; run by
test_cli_help.sh.

- `shoal CMD --help` (and `shoal help CMD`, the same text) lists every option
  of every command, each with its argument and a default; the expected
  options are written out here, not read from the program.
- The man page has the same options as --help, command by command: the
  build's shoal.1 and the one `make install PREFIX=...` puts where
  `MANPATH=PREFIX/share/man man shoal` finds it; DESTDIR is honoured.
- An unknown option, a missing value and a bad value each give exit 2 and
  one stderr line prefixed "shoal CMD:" that names the option and the form
  expected; good values in every accepted form (1.5M, 1h30m) pass.
- `shoal -V`, `--version` and `version` print the version.
Every command runs with a timeout; nothing listens on a port.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools as pt  # noqa: E402

SRC = os.environ.get("SHOAL_SRC", ".")
BUILD = os.path.dirname(os.path.abspath(pt.SHOAL))
checks = pt.Checks("cli_help")
COMMON = {"help", "config", "no-config"}
SESSION = {"peer", "port", "max-up", "max-down", "seed-ratio", "seed-time", "state-dir",
           "recheck", "local-only", "log", "verbose", "dht", "no-dht", "dht-port",
           "dht-bootstrap", "pex", "no-pex", "lsd", "no-lsd", "transport", "encryption",
           "proxy", "proxy-only", "anonymous", "blocklist", "port-mapping",
           "no-port-mapping", "bind"}
EXPECTED = {
    "create": {"output", "tracker", "webseed", "private", "piece-size", "comment",
               "source", "no-date", "threads", "follow-symlinks", "force"},
    "info": {"json"},
    "get": SESSION | {"dir", "output", "only", "sequential", "seed", "exit-when-done",
                      "incomplete-ext", "no-incomplete-ext", "on-done", "tracker"},
    "seed": SESSION | {"dir", "tracker"},
    "share": SESSION | {"tracker", "output", "private", "force"},
    "tracker": {"http", "udp", "whitelist", "interval", "max-peers", "max-swarms", "rate",
                "local-only"},
    "config": set(),
}


def run(args, timeout=20, env=None, cwd=None):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=env, cwd=cwd)


def help_options(text):
    """{long name: its whole entry (the option line and the lines under
    it)} from --help output."""
    entries, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^  (?:-\w, |    )--([a-z][a-z-]*)", line)
        if m:
            cur = m.group(1)
            entries[cur] = line
        elif line.startswith(" " * 28) and cur:
            entries[cur] += " " + line.strip()
        else:
            cur = None
    return entries


def man_text(path, env=None):
    env = dict(env or os.environ, LC_ALL="C", MANWIDTH="200")
    r = run(["man", "-l", "-P", "cat", path], env=env)
    return r.stdout if r.returncode == 0 else ""


def man_sections(text):
    """{command: the text of its section}, and the text of OPTIONS OF EVERY
    COMMAND."""
    out, cur, common = {}, None, ""
    for line in text.splitlines():
        m = re.match(r"^   shoal (\w+) \[OPTIONS\]", line)
        if m:
            cur = m.group(1)
            out[cur] = ""
        elif re.match(r"^[A-Z]", line):
            cur = "__common__" if line.startswith("OPTIONS OF EVERY") else None
        elif cur == "__common__":
            common += line + "\n"
        elif cur:
            out[cur] += line + "\n"
    return out, common


def man_options(section):
    """The long options a man page section describes (its .TP tags)."""
    return set(re.findall(r"^ {7}(?:-\w, )?--([a-z][a-z-]*)", section, re.M))


def check_help(man):
    sections, common_text = man_sections(man)
    r = run([pt.SHOAL, "help"])
    checks.check(r.returncode == 0 and all(
        re.search(r"^  %s " % c, r.stdout, re.M) for c in EXPECTED),
        "shoal help lists every command")
    for cmd, want in EXPECTED.items():
        r = run([pt.SHOAL, cmd, "--help"])
        r2 = run([pt.SHOAL, "help", cmd])
        checks.check(r.returncode == 0 and r.stdout == r2.stdout and r.stdout.startswith(
            "usage: shoal %s [OPTIONS]" % cmd), "%s --help is shoal help %s" % (cmd, cmd))
        got = help_options(r.stdout)
        missing = (want | COMMON) - set(got)
        extra = set(got) - want - COMMON
        checks.check(not missing and not extra, "%s --help lists its options%s%s" % (
            cmd, " missing %s" % sorted(missing) if missing else "",
            " unexpected %s" % sorted(extra) if extra else ""))
        nodefault = [o for o, e in got.items() if "(default: " not in e
                     and "the same as --" not in e and "turn --%s off" % o[3:] not in e]
        checks.check(not nodefault, "%s --help gives each option a default%s" % (
            cmd, " (not: %s)" % nodefault if nodefault else ""))
        if man:
            in_man = man_options(sections.get(cmd, ""))
            own = set(got) - COMMON
            checks.check(in_man == own, "man page lists the options of %s as --help does%s"
                         % (cmd, " (help only: %s, man only: %s)" % (
                             sorted(own - in_man), sorted(in_man - own))
                            if in_man != own else ""))
    if man:
        checks.check(COMMON <= man_options(common_text),
                     "man page describes --help, --config and --no-config")
        checks.check("CONFIGURATION FILE" in man and "[COMMAND]" in man,
                     "man page describes the config file")


def check_errors(work):
    env = dict(os.environ, SHOAL_LOCAL_ONLY="1")
    missing = os.path.join(work, "missing.torrent")

    def fails(args, text, what):
        r = run([pt.SHOAL] + args, env=env, cwd=work)
        lines = r.stderr.splitlines()
        ok = (r.returncode == 2 and len(lines) == 1 and text in lines[0]
              and not r.stdout and os.listdir(work) == [])
        checks.check(ok, "%s -> exit 2, '%s' (got %d: %r)" % (
            what, text, r.returncode, r.stderr.strip()[:200]))

    fails(["get", "--foo", missing],
          "shoal get: unknown option '--foo' (try: shoal get --help)", "get --foo")
    fails(["get", missing, "--port"],
          "shoal get: option '--port' needs a value (try: shoal get --help)",
          "get --port without a value")
    fails(["seed", missing, "-q"], "shoal seed: unknown option '-q'", "seed -q")
    fails(["get", missing, "-o"], "shoal get: option '-o' needs a value", "get -o")
    fails(["get", missing, "--seed=1"], "shoal get: option '--seed' takes no value",
          "get --seed=1")
    for cmd in EXPECTED:
        fails([cmd, "--no-such-option"],
              "shoal %s: unknown option '--no-such-option'" % cmd, cmd + " unknown option")
    fails(["get", missing, "--peer", "127.0.0.1"],
          "shoal get: bad --peer '127.0.0.1': expected HOST:PORT", "--peer without a port")
    fails(["get", missing, "--max-down", "fast"], "bad --max-down 'fast': expected bytes "
          "per second", "--max-down fast")
    fails(["get", missing, "--port", "70000"], "bad --port '70000': expected a port 0-65535",
          "--port 70000")
    fails(["get", missing, "--seed-time", "1x"], "bad --seed-time '1x': expected a "
          "duration: 90, 90s, 30m, 2h, 1d or 1h30m", "--seed-time 1x")
    fails(["seed", missing, "--seed-ratio", "0"], "bad --seed-ratio '0': expected a "
          "positive decimal", "--seed-ratio 0")
    fails(["get", missing, "--only", "1,x"], "bad --only '1,x': expected file indices",
          "--only 1,x")
    fails(["tracker", "--interval", "5", "--http", "127.0.0.1:0"],
          "shoal tracker: bad --interval '5': expected 10 to 86400 seconds (the minimum "
          "is 10 s", "tracker --interval 5")
    fails(["tracker", "--http", "127.0.0.1"], "bad --http '127.0.0.1': expected ADDR:PORT",
          "tracker --http without a port")
    fails(["create", "--threads", "many", missing], "bad --threads 'many'",
          "create --threads many")
    fails(["info"], "usage: shoal info [OPTIONS] TORRENT|MAGNET", "info without a torrent")
    fails(["seed", missing, missing], "usage: shoal seed", "seed with two torrents")

    # Every accepted form passes parsing: the run then stops at the missing
    # torrent, which it names, and no option is called bad.
    for args in (["--max-down", "1.5M", "--max-up", "500K"], ["--max-down", "2MiB/s"],
                 ["--seed-time", "1h30m", "--seed-ratio", "1.5"], ["--seed-time", "90"],
                 ["--seed-time", "2d"], ["-o", work, "--output", work, "--dir", work],
                 ["--no-incomplete-ext", "--incomplete-ext", "--on-done", "/bin/true"],
                 ["--peer", "[::1]:6881", "--peer", "127.0.0.1:1", "--port", "0"],
                 ["--state-dir", work, "--log", os.path.join(work, "x", "log")]):
        r = run([pt.SHOAL, "get", missing] + args, env=env, cwd=work)
        checks.check(r.returncode == 2 and "missing.torrent" in r.stderr
                     and "bad --" not in r.stderr,
                     "get %s is accepted (%s)" % (" ".join(args), r.stderr.strip()[:120]))
    r = run([pt.SHOAL, "seed", missing, "-d", work], env=env, cwd=work)
    checks.check(r.returncode == 2 and "missing.torrent" in r.stderr,
                 "seed keeps -d as another spelling of --dir")


def check_version():
    want = None
    r = run([pt.SHOAL, "-V"])
    m = re.fullmatch(r"shoal (\d+\.\d+\.\d+)\n", r.stdout)
    checks.check(r.returncode == 0 and m is not None, "shoal -V prints the version")
    if m:
        want = r.stdout
    for spelling in ("--version", "version"):
        r = run([pt.SHOAL, spelling])
        checks.check(r.returncode == 0 and r.stdout == want,
                     "shoal %s prints the same" % spelling)


def check_install(work):
    """make install PREFIX=... and DESTDIR=...; man finds the page."""
    prefix = os.path.join(work, "prefix")
    base = ["make", "-s", "-C", SRC, "install", "BUILD=" + BUILD, "JOBS=1"]
    r = run(base + ["PREFIX=" + prefix], timeout=300)
    binary = os.path.join(prefix, "bin", "shoal")
    page = os.path.join(prefix, "share", "man", "man1", "shoal.1")
    checks.check(r.returncode == 0 and os.access(binary, os.X_OK) and os.path.isfile(page),
                 "make install PREFIX=... installs bin/shoal and share/man/man1/shoal.1 (%s)"
                 % r.stderr.strip()[-200:])
    if os.path.isfile(binary):
        checks.check(run([binary, "-V"]).stdout == run([pt.SHOAL, "-V"]).stdout,
                     "the installed program runs")
    if os.path.isfile(page):
        with open(page) as f, open(os.path.join(BUILD, "shoal.1")) as g:
            checks.check(f.read() == g.read(), "the installed man page is the build's")
    if shutil.which("man"):
        env = dict(os.environ, MANPATH=os.path.join(prefix, "share", "man"), LC_ALL="C",
                   MANWIDTH="100")
        r = run(["man", "-P", "cat", "shoal"], env=env)
        checks.check(r.returncode == 0 and "shoal get [OPTIONS] SOURCE..." in r.stdout
                     and "--max-down" in r.stdout,
                     "MANPATH=PREFIX/share/man man shoal shows the page")
    stage = os.path.join(work, "stage")
    r = run(base + ["PREFIX=/usr/local", "DESTDIR=" + stage], timeout=300)
    checks.check(r.returncode == 0
                 and os.path.isfile(os.path.join(stage, "usr/local/bin/shoal"))
                 and os.path.isfile(os.path.join(stage, "usr/local/share/man/man1/shoal.1")),
                 "make install DESTDIR=... PREFIX=/usr/local stages under DESTDIR")


def main():
    work = tempfile.mkdtemp(prefix="shoal-cli-help.")
    man = ""
    page = os.path.join(BUILD, "shoal.1")
    checks.check(os.path.isfile(page), "the build wrote shoal.1")
    if not shutil.which("man"):
        print("SKIP man page rendering: no man here (scripts/install-deps.sh installs "
              "man-db)")
    elif os.path.isfile(page):
        man = man_text(page)
        checks.check(bool(man), "man renders shoal.1")
        r = run([pt.SHOAL, "help", "--man"])
        with open(page) as f:
            checks.check(r.stdout == f.read(), "shoal.1 is what shoal help --man prints")
    check_help(man)
    errs = os.path.join(work, "errors")
    os.mkdir(errs)
    check_errors(errs)
    check_version()
    check_install(work)
    checks.finish(work)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())
