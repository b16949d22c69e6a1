#!/usr/bin/python3
"""The config file; run by test_cli_config.sh.

- Found at $XDG_CONFIG_HOME/shoal/config, or ~/.config/shoal/config when
  XDG_CONFIG_HOME is unset; --config FILE reads another, --no-config none.
- Applied: `[info] json = yes` makes `shoal info` print JSON; a
  `[tracker] http = ...` makes the tracker listen there, and --http on the
  command line overrides it.
- A key outside a section applies to every command with that option; one
  in a [COMMAND] section to that command only (`shoal config` shows which
  value each command gets and FILE:LINE it came from, "default" else).
- Errors exit 2 naming FILE:LINE: an unknown key, a key the command of its
  section lacks, an option that cannot be set there, a bad value (checked
  as the option checks it), a flag that is not true/false, an unknown
  section, a line without '='.
Each tracker started binds 127.0.0.1 only and is stopped by PID.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_tools as pt  # noqa: E402

checks = pt.Checks("cli_config")


def run(args, env, cwd, timeout=20):
    return subprocess.run([pt.SHOAL] + args, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=env, cwd=cwd)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def settings(text):
    """{command: {key: [(value, origin)]}} from `shoal config`."""
    out, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^\[(\w+)\]$", line)
        if m:
            cur = out.setdefault(m.group(1), {})
            continue
        m = re.match(r"^([a-z-]+) = (.*?)\s+# (.*)$", line)
        if m and cur is not None:
            cur.setdefault(m.group(1), []).append((m.group(2), m.group(3)))
    return out


def tracker_http_port(procs, work, env, args, name):
    """Starts `shoal tracker ARGS`, returns the HTTP port it printed."""
    out = os.path.join(work, name)
    p = procs.start([pt.SHOAL, "tracker"] + args, out, env=env)
    got = []

    def look():
        for x in pt.read_text(out + ".out").splitlines():
            if x.startswith("http on port "):
                got.append(int(x.split()[-1]))
                return True
        return p.poll() is not None
    pt.wait_for(look, 15)
    procs.stop(p)
    return got[0] if got else None


def main():
    work = tempfile.mkdtemp(prefix="shoal-cli-config.")
    procs = pt.Procs()
    try:
        body(work, procs)
    finally:
        procs.stop_all()
    checks.finish(work)
    return checks.exit_code()


def body(work, procs):
    xdg = os.path.join(work, "xdg")
    cfg = os.path.join(xdg, "shoal", "config")
    env = dict(os.environ, XDG_CONFIG_HOME=xdg, SHOAL_LOCAL_ONLY="1")
    data = os.path.join(work, "a.bin")
    with open(data, "wb") as f:
        f.write(os.urandom(70000))
    torrent = os.path.join(work, "a.torrent")
    r = run(["create", data, "-o", torrent, "--no-config"], env, work)
    if r.returncode != 0:
        print("SKIP: cannot make a torrent: " + r.stderr)
        return

    # No file: every setting is a default, and commands run.
    r = run(["config"], env, work)
    s = settings(r.stdout)
    checks.check(r.returncode == 0 and "not found" in r.stdout
                 and s.get("get", {}).get("port", [("", "")])[0][1] == "default",
                 "without a config file every setting is a default")

    p1, p2 = pt.free_port(), pt.free_port()
    write(cfg, "# defaults I always type\n"
               "max-down = 1.5M\n"
               "\n"
               "[info]\n"
               "json = yes\n"
               "[get]\n"
               "port = 0\n"
               "peer = 127.0.0.1:1\n"
               "peer = 127.0.0.1:2\n"
               "[tracker]\n"
               "http = 127.0.0.1:%d\n"
               "local-only = true\n" % p1)
    r = run(["info", torrent], env, work)
    try:
        ok = json.loads(r.stdout)["name"] == "a.bin"
    except ValueError:
        ok = False
    checks.check(r.returncode == 0 and ok, "[info] json = yes: shoal info prints JSON")
    r = run(["info", torrent, "--no-config"], env, work)
    checks.check(r.returncode == 0 and r.stdout.startswith("name:"),
                 "--no-config: shoal info prints text again")
    alt = os.path.join(work, "other.conf")
    write(alt, "[info]\njson = false\n")
    r = run(["info", "--config", alt, torrent], env, work)
    checks.check(r.returncode == 0 and r.stdout.startswith("name:"),
                 "--config FILE reads that file instead")
    r = run(["info", "--config", os.path.join(work, "nope.conf"), torrent], env, work)
    checks.check(r.returncode == 2 and "nope.conf" in r.stderr,
                 "--config of a missing file exits 2 naming it (%s)" % r.stderr.strip())

    port = tracker_http_port(procs, work, env, [], "tracker1")
    checks.check(port == p1, "[tracker] http = 127.0.0.1:%d is where the tracker listens "
                 "(%s)" % (p1, port))
    port = tracker_http_port(procs, work, env, ["--http", "127.0.0.1:%d" % p2], "tracker2")
    checks.check(port == p2, "--http on the command line overrides the config (%s)" % port)

    r = run(["config"], env, work)
    s = settings(r.stdout)
    where = cfg + ":%d"
    checks.check(r.returncode == 0 and r.stdout.startswith("# config file: " + cfg),
                 "shoal config names the file it read")
    checks.check(s.get("get", {}).get("max-down") == [("1.5M", where % 2)]
                 and s.get("seed", {}).get("max-down") == [("1.5M", where % 2)],
                 "a key outside a section applies to every command with it: %s / %s"
                 % (s.get("get", {}).get("max-down"), s.get("seed", {}).get("max-down")))
    checks.check(s.get("get", {}).get("port") == [("0", where % 7)]
                 and s.get("seed", {}).get("port", [("", "")])[0][1] == "default",
                 "a key in [get] applies to get only: %s / %s"
                 % (s.get("get", {}).get("port"), s.get("seed", {}).get("port")))
    checks.check(s.get("get", {}).get("peer") == [("127.0.0.1:1", where % 8),
                                                  ("127.0.0.1:2", where % 9)],
                 "a repeatable key lists each value with its line")
    checks.check(s.get("info", {}).get("json") == [("on", where % 5)]
                 and s.get("tracker", {}).get("local-only") == [("on", where % 12)],
                 "flags show as on/off with their line")
    checks.check(s.get("get", {}).get("seed-ratio", [("", "")])[0] == ("never", "default"),
                 "an unset option shows its default")
    checks.check("create" not in s or "max-down" not in s["create"],
                 "create, which has no --max-down, does not list it")

    # XDG_CONFIG_HOME unset: ~/.config/shoal/config.
    home = os.path.join(work, "home")
    write(os.path.join(home, ".config", "shoal", "config"), "[info]\njson = on\n")
    env2 = dict(env, HOME=home)
    del env2["XDG_CONFIG_HOME"]
    r = run(["info", torrent], env2, work)
    checks.check(r.returncode == 0 and r.stdout.startswith("{"),
                 "without XDG_CONFIG_HOME, ~/.config/shoal/config is read")

    # Errors: exit 2, one line naming FILE:LINE, for any command.
    missing = os.path.join(work, "missing.torrent")
    bad = [
        ("port = 7000\n\nprot = 5\n", ["get", missing], 3, "unknown key 'prot'"),
        ("[seed]\nonly = 1\n", ["seed", missing], 2, "unknown key 'only'"),
        ("[get]\nonly = 1\n", ["get", missing], 2, "'only' cannot be set in the config"),
        ("[get]\nport = abc\n", ["get", missing], 2,
         "bad port 'abc': expected a port 0-65535"),
        ("peer = 127.0.0.1\n", ["seed", missing], 1,
         "bad peer '127.0.0.1': expected HOST:PORT"),
        ("[tracker]\ninterval = 5\n", ["tracker"], 2, "the minimum is 10"),
        ("[info]\njson = maybe\n", ["info", torrent], 2, "expected true or false"),
        ("[frobnicate]\n", ["info", torrent], 1, "no command called 'frobnicate'"),
        ("# ok\nmax-down\n", ["create", data], 2, "expected KEY = VALUE"),
        ("[get]\nport = abc\n", ["config"], 2, "bad port 'abc'"),
        ("dir =\n", ["info", torrent], 1, "no value for 'dir'"),
    ]
    for text, args, line, want in bad:
        write(cfg, text)
        r = run(args, env, work)
        lines = r.stderr.splitlines()
        checks.check(r.returncode == 2 and len(lines) == 1
                     and ("%s:%d: " % (cfg, line)) in lines[0] and want in lines[0]
                     and lines[0].startswith("shoal %s: " % args[0]),
                     "%r -> shoal %s exits 2 with %s:%d and '%s' (got %d: %s)" % (
                         text, args[0], os.path.basename(cfg), line, want, r.returncode,
                         r.stderr.strip()))
    # A NUL byte would hide the lines after it from the checks.
    write(cfg, "port = 7000\0\nbogus = 1\n")
    r = run(["config"], env, work)
    checks.check(r.returncode == 2 and "not a text file" in r.stderr,
                 "a config file holding a NUL byte is refused, not read up to it "
                 "(got %d: %s)" % (r.returncode, r.stderr.strip()))
    # ... and --no-config runs regardless of it.
    r = run(["info", torrent, "--no-config"], env, work)
    checks.check(r.returncode == 0, "--no-config ignores a broken config file")


if __name__ == "__main__":
    sys.exit(main())
