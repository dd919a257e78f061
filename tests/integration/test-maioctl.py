#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# The real maioctl against the real maiod: status, tenants add/list/show/rm and
# events in both output modes, exit codes 0/1/2/3, --socket and $MAIOD_SOCKET.

import json
import os
import re
import socket
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from maiotest import Daemon, NOBODY, check, check_eq, env, free_port, main, runnable_by_others

OK, DAEMON_ERROR, USAGE, UNREACHABLE = 0, 1, 2, 3


def maioctl(*args, socket_path=None, environ=None, user=None, want=OK):
    """Runs the built maioctl, as uid and gid `user` when given (a copy that uid can reach)."""
    e = dict(os.environ)
    e.pop("MAIOD_SOCKET", None)
    e.update(environ or {})
    program, cwd = env("MAIOCTL"), None
    if user is not None:
        program, copy_env = runnable_by_others(program)
        e.update(copy_env)
        cwd = os.path.dirname(program)
    argv = [program] + (["--socket", socket_path] if socket_path else []) + list(args)
    r = subprocess.run(argv, env=e, capture_output=True, text=True, timeout=40, stdin=subprocess.DEVNULL,
                       user=user, group=user, extra_groups=[] if user is not None else None, cwd=cwd)
    check_eq(r.returncode, want, f"exit status of {' '.join(argv[1:])} (stdout {r.stdout!r}, stderr {r.stderr!r})")
    if want == OK:
        check_eq(r.stderr, "", f"stderr of {' '.join(argv[1:])}")
    return r


def key_values(text):
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep and not line.startswith("Note"):
            out[k.strip()] = v.strip()
    return out


def table(text):
    lines = text.splitlines()
    header = lines[0].split()
    return header, [dict(zip(header, re.split(r"\s{2,}", line.strip()))) for line in lines[1:]]


def without(obj, *keys):
    return {k: v for k, v in obj.items() if k not in keys}


def test_status():
    with Daemon() as d:
        s = key_values(maioctl("status", socket_path=d.socket_path).stdout)
        check_eq(s["version"], d.ok("GET", "/v1/version")["version"], "status: version")
        check_eq(s["pid"], str(d.proc.pid), "status: pid")
        check_eq(s["config"], d.config_path, "status: config")
        check_eq(s["unix socket"], d.socket_path, "status: unix socket")
        check_eq(s["tcp"], "-", "status: tcp")
        check_eq(s["numa"], "2 nodes (0-1)", "status: numa")
        check_eq(s["memory tiers"], "memory_tier4: 0; memory_tier22: 1", "status: memory tiers")
        check_eq(s["hugepages"], "2M: 512 total, 500 free", "status: hugepages")
        check_eq(s["damon"], "sysfs, kdamonds 2, running 0, foreign 0", "status: damon")
        check_eq(s["numa_balancing"], "2 (memory-tiering), tiering available", "status: numa_balancing")
        check_eq(s["tenants"], "0", "status: tenants")

        js = json.loads(maioctl("-o", "json", "status", socket_path=d.socket_path).stdout)
        api = d.ok("GET", "/v1/status")
        check_eq(without(js, "uptime_sec", "counts"), without(api, "uptime_sec", "counts"), "status -o json")
        check_eq(js["counts"]["tenants"], 0, "status -o json counts")


def test_tenants():
    port = free_port()
    with Daemon(f"[api]\nlisten = 127.0.0.1:{port}\n") as d:
        d.tcp = ("127.0.0.1", port)
        sock = d.socket_path
        out = maioctl("tenants", "add", "web", "--priority", "2", "--class", "serving", socket_path=sock).stdout
        kv = key_values(out)
        check("only once" in out, f"no once-only note in {out!r}")
        tid = int(kv["id"])
        # The printed token is the real one: it authenticates over TCP.
        check_eq(d.ok("GET", f"/v1/tenants/{tid}", tcp=True, token=kv["token"])["name"], "web", "printed token")

        created = json.loads(maioctl("-o", "json", "tenants", "add", "db", socket_path=sock).stdout)
        check_eq(d.ok("GET", f"/v1/tenants/{created['id']}", tcp=True, token=created["token"]),
                 without(created, "token"), "tenants add -o json")

        header, rows = table(maioctl("tenants", "list", socket_path=sock).stdout)
        check_eq(header, ["ID", "NAME", "PRIO", "CLASS", "UID", "PID", "CGROUP"], "tenants list header")
        check_eq([(r["ID"], r["NAME"], r["PRIO"], r["CLASS"], r["UID"], r["PID"]) for r in rows],
                 [(str(tid), "web", "2", "serving", "0", "-"), (str(created["id"]), "db", "4", "batch", "0", "-")],
                 "tenants list rows")
        listed = json.loads(maioctl("tenants", "list", "-o", "json", socket_path=sock).stdout)
        check_eq(listed, d.ok("GET", "/v1/tenants"), "tenants list -o json")

        shown = key_values(maioctl("tenants", "show", str(tid), socket_path=sock).stdout)
        check_eq((shown["id"], shown["name"], shown["priority"], shown["class"]), (str(tid), "web", "2", "serving"),
                 "tenants show")
        check_eq(json.loads(maioctl("-o", "json", "tenants", "show", str(tid), socket_path=sock).stdout),
                 d.ok("GET", f"/v1/tenants/{tid}"), "tenants show -o json")

        sleeper = subprocess.Popen(["sleep", "30"])
        try:
            withpid = json.loads(maioctl("-o", "json", "tenants", "add", "p", "--pid", str(sleeper.pid),
                                         socket_path=sock).stdout)
            check_eq((withpid["pid"], withpid["pid_alive"]), (sleeper.pid, True), "tenants add --pid")
            net = json.loads(maioctl("-o", "json", "tenants", "add", "net", "--addresses", "10.0.0.1,fd00::1",
                                     socket_path=sock).stdout)
            check_eq(net["addresses"], ["10.0.0.1", "fd00::1"], "tenants add --addresses")
            out = maioctl("tenants", "show", str(net["id"]), socket_path=sock).stdout
            check('["10.0.0.1","fd00::1"]' in out.replace(" ", ""), f"tenants show prints the addresses:\n{out}")
        finally:
            sleeper.kill()
            sleeper.wait()

        r = maioctl("tenants", "rm", str(tid), socket_path=sock)
        check_eq(r.stdout, "", "tenants rm prints nothing")
        check_eq(d.request("GET", f"/v1/tenants/{tid}")[0], 404, "GET after tenants rm")

        header, rows = table(maioctl("events", socket_path=sock).stdout)
        check_eq(header, ["ID", "TIME", "TENANT", "KIND", "MESSAGE"], "events header")
        check_eq(rows[0]["KIND"], "tenant-removed", "newest event first")
        check_eq(json.loads(maioctl("-o", "json", "events", socket_path=sock).stdout), d.ok("GET", "/v1/events"),
                 "events -o json")
        evs = json.loads(maioctl("-o", "json", "events", "--tenant", str(created["id"]), socket_path=sock).stdout)
        check_eq([e["kind"] for e in evs["events"]], ["tenant-added"], "events --tenant")


def test_exit_codes():
    with Daemon() as d:
        sock = d.socket_path
        maioctl("tenants", "add", "web", socket_path=sock)
        # 1: the daemon said no, and maioctl passes on its words.
        for args, code, status in ((["tenants", "add", "web"], "conflict", 409),
                                   (["tenants", "show", "42"], "not-found", 404),
                                   (["tenants", "rm", "42"], "not-found", 404),
                                   (["events", "--tenant", "42"], "not-found", 404)):
            r = maioctl(*args, socket_path=sock, want=DAEMON_ERROR)
            check(re.fullmatch(rf"maioctl: .+ \({code}, HTTP {status}\)\n", r.stderr), f"stderr {r.stderr!r}")
            check_eq(r.stdout, "", f"stdout of failing {args}")
        r = maioctl("events", socket_path=sock, user=NOBODY, want=DAEMON_ERROR)
        check(r.stderr.endswith("(forbidden, HTTP 403)\n"), f"events as nobody: {r.stderr!r}")
        check_eq(json.loads(maioctl("-o", "json", "tenants", "list", socket_path=sock, user=NOBODY).stdout),
                 {"tenants": []}, "nobody's tenants list through maioctl")

        # 2: usage errors never reach the daemon.
        before = d.ok("GET", "/v1/status")["counts"]["requests"]
        for args in (["bogus"], [], ["tenants"], ["tenants", "frob"], ["tenants", "add"],
                     ["tenants", "add", "x", "--priority", "8"], ["tenants", "add", "x", "--priority", "1x"],
                     ["tenants", "add", "x", "--class", "fast"], ["tenants", "show", "abc"],
                     ["tenants", "show", "0"], ["tenants", "show", "-1"], ["tenants", "rm"],
                     ["status", "extra"], ["status", "--bogus"], ["-o", "yaml", "status"],
                     ["events", "--tenant"], ["tenants", "list", "--pid", "1"]):
            r = maioctl(*args, socket_path=sock, want=USAGE)
            check(r.stderr.startswith("maioctl: "), f"usage error of {args}: {r.stderr!r}")
        check_eq(d.ok("GET", "/v1/status")["counts"]["requests"], before + 1, "requests made by usage errors")

        for args in (["--help"], ["tenants", "add", "--help"], ["status", "--help"], ["tenants", "--help"]):
            r = maioctl(*args, want=OK)
            check(r.stdout.startswith("Usage: maioctl"), f"help of {args}: {r.stdout[:60]!r}")
        check("--priority" in maioctl("tenants", "add", "--help").stdout, "tenants add --help lacks --priority")

        # 3: nothing to talk to.
        missing = os.path.join(d.tmp, "missing.sock")
        r = maioctl("status", socket_path=missing, want=UNREACHABLE)
        check(r.stderr.startswith(f"maioctl: cannot reach maiod at {missing}: "), f"stderr {r.stderr!r}")
        dead = os.path.join(d.tmp, "dead.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.bind(dead)  # bound but never listening: connection refused
            r = maioctl("tenants", "list", socket_path=dead, want=UNREACHABLE)
            check(dead in r.stderr, f"stderr {r.stderr!r}")
        d.stop()
        maioctl("status", socket_path=sock, want=UNREACHABLE)
        d.start()


def test_socket_selection():
    with Daemon() as d:
        missing = os.path.join(d.tmp, "missing.sock")
        js = json.loads(maioctl("-o", "json", "status", environ={"MAIOD_SOCKET": d.socket_path}).stdout)
        check_eq(js["pid"], d.proc.pid, "status through $MAIOD_SOCKET")
        # --socket wins over the environment.
        maioctl("status", socket_path=d.socket_path, environ={"MAIOD_SOCKET": missing})
        r = maioctl("status", socket_path=missing, environ={"MAIOD_SOCKET": d.socket_path}, want=UNREACHABLE)
        check(missing in r.stderr, f"stderr {r.stderr!r}")
        r = maioctl("status", environ={"MAIOD_SOCKET": missing}, want=UNREACHABLE)
        check(missing in r.stderr, f"stderr names the socket from $MAIOD_SOCKET: {r.stderr!r}")
        # --socket also after the verb.
        maioctl("tenants", "list", "--socket", d.socket_path)


if __name__ == "__main__":
    main([test_status, test_tenants, test_exit_codes, test_socket_selection])
