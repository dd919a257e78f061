#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Tenant lifecycle against a real maiod: registration and its one-time token,
# list/get/patch/delete, events, pid watching, persistence across restarts,
# and bearer-token access over the TCP listener.

import calendar
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from maiotest import (Daemon, check, check_eq, check_error_body, code_ok, free_port, main, parse_response,
                      recv_response, transport, transports, wait_for)

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
TENANT_KEYS = ["addresses", "cgroup", "created", "id", "name", "pid", "pid_alive", "priority", "uid", "workload_class"]


def check_time(value, what):
    check(isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value),
          f"{what}: not an RFC 3339 UTC time: {value!r}")
    t = calendar.timegm(time.strptime(value, "%Y-%m-%dT%H:%M:%SZ"))
    check(abs(t - time.time()) < 120, f"{what}: {value} is not now")


def create(d, body, want=201):
    status, hdrs, t = d.request("POST", "/v1/tenants", body)
    check_eq(status, want, f"POST /v1/tenants {body!r} (reply {t!r})")
    if want != 201:
        check_error_body(t, None, f"POST /v1/tenants {body!r}")
        return t
    check_eq(sorted(t), sorted(TENANT_KEYS + ["token"]), "keys of a created tenant")
    check(isinstance(t["id"], int) and t["id"] > 0, f"id {t['id']!r}")
    if transport() == "rest":  # netlink has no headers: the id is in the document
        check_eq(hdrs.get("location"), f"/v1/tenants/{t['id']}", "Location header")
    check(TOKEN_RE.match(t["token"]), f"token {t['token']!r} is not 43 URL-safe base64 characters")
    check_time(t["created"], "created")
    return t


def events(d, tid, **kw):
    return d.ok("GET", f"/v1/tenants/{tid}/events", **kw)["events"]


def check_events_order(evs):
    ids = [e["id"] for e in evs]
    check_eq(ids, sorted(ids, reverse=True), "events are newest first")
    for e in evs:
        check_eq(sorted(e), ["id", "kind", "message", "tenant_id", "time"], "event keys")
        check_time(e["time"], "event time")


def spawn_sleep():
    return subprocess.Popen(["sleep", "30"], stdin=subprocess.DEVNULL)


def kill_sleep(p):
    p.kill()
    p.wait(5)


@transports
def test_lifecycle():
    with Daemon() as d:
        web = create(d, {"name": "web"})
        check_eq({k: web[k] for k in ("name", "priority", "workload_class", "uid", "pid", "cgroup", "pid_alive")},
                 {"name": "web", "priority": 4, "workload_class": "batch", "uid": 0, "pid": None,
                  "cgroup": None, "pid_alive": None}, "defaults of a created tenant")
        db = create(d, {"name": "db", "priority": 0, "workload_class": "serving"})
        check_eq((db["priority"], db["workload_class"]), (0, "serving"), "explicit priority and class")
        check(db["token"] != web["token"], "two tenants got the same token")
        check(db["id"] != web["id"], "two tenants got the same id")

        # The token is shown once: never by GET or list.
        got = d.ok("GET", f"/v1/tenants/{web['id']}")
        check_eq(got, {k: v for k, v in web.items() if k != "token"}, "GET of the created tenant")
        listed = d.ok("GET", "/v1/tenants")["tenants"]
        check_eq(sorted(t["id"] for t in listed), sorted([web["id"], db["id"]]), "listed ids")
        check(all("token" not in t for t in listed), "list shows a token")

        dup = create(d, {"name": "web", "priority": 1}, want=409)
        check_eq(dup["error"]["code"], "conflict", "duplicate name code")
        check_eq(len(d.ok("GET", "/v1/tenants")["tenants"]), 2, "tenants after the duplicate POST")

        patch_each_field(d, web, db)
        patch_rejects(d, web)

        evs = events(d, web["id"])
        check_events_order(evs)
        check_eq([e["kind"] for e in evs], ["tenant-updated"] * 5 + ["tenant-added"], "web's events")
        check(all(e["tenant_id"] == web["id"] for e in evs), "events of another tenant listed")

        status, hdrs, body = d.request("DELETE", f"/v1/tenants/{web['id']}")
        check_eq((status, body), (204, None), "DELETE status and body")
        d.check_error("GET", f"/v1/tenants/{web['id']}", status=404, code="not-found")
        d.check_error("DELETE", f"/v1/tenants/{web['id']}", status=404, code="not-found")
        d.check_error("PATCH", f"/v1/tenants/{web['id']}", {"priority": 1}, status=404, code="not-found")
        d.check_error("GET", f"/v1/tenants/{web['id']}/events", status=404, code="not-found")
        check_eq([t["id"] for t in d.ok("GET", "/v1/tenants")["tenants"]], [db["id"]], "list after DELETE")
        # The name is free again.
        create(d, {"name": "web"})
        all_events = d.ok("GET", "/v1/events")["events"]
        check_events_order(all_events)
        check(any(e["kind"] == "tenant-removed" and e["tenant_id"] == web["id"] for e in all_events),
              "no tenant-removed event for the deleted tenant")


def patch_each_field(d, web, db):
    path = f"/v1/tenants/{web['id']}"
    for body in ({"name": "web2"}, {"priority": 7}, {"workload_class": "serving"}, {}):
        before = d.ok("GET", path)
        after = d.ok("PATCH", path, body)
        check_eq(after, dict(before, **body), f"PATCH {body!r}")
        check_eq(d.ok("GET", path), after, f"GET after PATCH {body!r}")
    after = d.ok("PATCH", path, {"name": "web", "priority": 0, "workload_class": "batch"})
    check_eq((after["name"], after["priority"], after["workload_class"]), ("web", 0, "batch"), "PATCH all")
    check_eq(d.ok("GET", f"/v1/tenants/{db['id']}")["name"], "db", "PATCH of web changed db")


def patch_rejects(d, web):
    path = f"/v1/tenants/{web['id']}"
    before = d.ok("GET", path)
    for body, status, code in (({"color": "red"}, 400, "unknown-field"),
                               ({"name": "x", "uid": 5}, 400, "unknown-field"),
                               ({"pid": 1}, 400, "unknown-field"),
                               ({"priority": "1"}, 400, "wrong-type"),
                               ({"priority": 1.5}, 400, "wrong-type"),
                               ({"priority": None}, 400, "wrong-type"),
                               ({"name": 5}, 400, "wrong-type"),
                               ({"workload_class": True}, 400, "wrong-type"),
                               ({"priority": 8}, 400, "invalid-value"),
                               ({"priority": -1}, 400, "invalid-value"),
                               ({"workload_class": "interactive"}, 400, "invalid-value"),
                               ({"name": ""}, 400, "invalid-value"),
                               ({"name": "-web"}, 400, "invalid-value"),
                               ({"name": "a b"}, 400, "invalid-value"),
                               ({"name": "db"}, 409, "conflict")):
        d.check_error("PATCH", path, body, status=status, code=code)
    check_eq(d.ok("GET", path), before, "tenant after rejected PATCHes")


@transports
def test_create_validation():
    root = tempfile.mkdtemp(prefix="maio-it-root-")
    try:
        os.makedirs(os.path.join(root, "sys/fs/cgroup/maio/web"))
        with Daemon(root=root) as d:
            for name in (".web", "-web", "a" * 64, "a/b", "a b", "caf\u00e9", "x\ty"):
                check_eq(create(d, {"name": name}, want=400)["error"]["code"], "invalid-value", f"name {name!r}")
            for body, code in (({}, "missing-field"),
                               ({"priority": 1}, "missing-field"),
                               ({"name": "x", "prio": 1}, "unknown-field"),
                               ({"name": "x", "token": "t"}, "unknown-field"),
                               ({"name": ["x"]}, "wrong-type"),
                               ({"name": "x", "pid": "1"}, "wrong-type"),
                               ({"name": "x", "cgroup": 1}, "wrong-type"),
                               ({"name": "x", "priority": 99}, "invalid-value"),
                               ({"name": "x", "pid": 0}, "invalid-value"),
                               ({"name": "x", "pid": -5}, "invalid-value"),
                               ({"name": "x", "cgroup": "maio/web"}, "invalid-value"),
                               ({"name": "x", "cgroup": "/maio/../maio/web"}, "invalid-value"),
                               ({"name": "x", "cgroup": "/maio/web/.."}, "invalid-value"),
                               ({"name": "x", "cgroup": "/maio/db"}, "invalid-value"),
                               ({"name": "x", "workload_class": "Batch"}, "invalid-value"),
                               ({"name": "x", "addresses": "10.0.0.1"}, "wrong-type"),
                               ({"name": "x", "addresses": [1]}, "invalid-value"),
                               ({"name": "x", "addresses": ["10.0.0.256"]}, "invalid-value"),
                               ({"name": "x", "addresses": ["::"]}, "invalid-value"),
                               ({"name": "x", "addresses": ["fd00::1", "fd00:0::1"]}, "invalid-value"),
                               ({"name": "x", "addresses": [f"10.0.0.{i}" for i in range(1, 18)]},
                                "invalid-value")):
                got = create(d, body, want=400)["error"]["code"]
                check(code_ok(got, code, body), f"POST {body!r}: error code: expected {code!r}, got {got!r}")
            check_eq(d.ok("GET", "/v1/tenants"), {"tenants": []}, "tenants after rejected POSTs")

            check_eq(create(d, {"name": "a" * 63})["name"], "a" * 63, "63-character name")
            check_eq(create(d, {"name": "web", "cgroup": "/maio/web"})["cgroup"], "/maio/web", "cgroup")
            check_eq(create(d, {"name": "net", "addresses": ["10.0.0.1", "FD00:0::2"]})["addresses"],
                     ["10.0.0.1", "fd00::2"], "declared addresses, normalised")
            check_eq(create(d, {"name": "net0", "addresses": []})["addresses"], [], "no addresses declared")
            # A pid nobody has: a child that already exited and was reaped.
            gone = subprocess.Popen(["true"])
            gone.wait(5)
            check_eq(create(d, {"name": "ghost", "pid": gone.pid}, want=400)["error"]["code"], "invalid-value",
                     "pid of a reaped process")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def wait_pid_exit(d, tid, timeout=5):
    return wait_for(lambda: [e for e in events(d, tid) if e["kind"] == "pid-exit"], timeout,
                    f"a pid-exit event of tenant {tid}")


@transports
def test_pid_watch():
    sleeper = spawn_sleep()
    try:
        with Daemon() as d:
            t = create(d, {"name": "worker", "pid": sleeper.pid})
            check_eq((t["pid"], t["pid_alive"]), (sleeper.pid, True), "pid and pid_alive at registration")
            idle = create(d, {"name": "idle"})
            time.sleep(0.3)
            check_eq([e["kind"] for e in events(d, t["id"])], ["tenant-added"], "events while the pid lives")
            kill_sleep(sleeper)
            exits = wait_pid_exit(d, t["id"])
            check_eq(len(exits), 1, "pid-exit events")
            check(str(sleeper.pid) in exits[0]["message"], f"pid missing from {exits[0]['message']!r}")
            got = d.ok("GET", f"/v1/tenants/{t['id']}")
            check_eq((got["pid"], got["pid_alive"]), (sleeper.pid, False), "pid_alive after the exit")
            check_eq([e["kind"] for e in events(d, idle["id"])], ["tenant-added"], "events of the other tenant")
            check_eq(d.metrics()["maiod_tenant_process_exits_total"], 1.0, "maiod_tenant_process_exits_total")
    finally:
        kill_sleep(sleeper)


def test_pid_exit_remove():
    sleeper = spawn_sleep()
    try:
        with Daemon("[tenants]\non_pid_exit = remove\n") as d:
            t = create(d, {"name": "worker", "pid": sleeper.pid})
            keep = create(d, {"name": "keep"})
            kill_sleep(sleeper)
            wait_for(lambda: d.request("GET", f"/v1/tenants/{t['id']}")[0] == 404, 5, "removal of the tenant")
            kinds = [e["kind"] for e in d.ok("GET", "/v1/events")["events"] if e["tenant_id"] == t["id"]]
            check_eq(kinds, ["tenant-removed", "pid-exit", "tenant-added"], "events of the removed tenant")
            check_eq([x["id"] for x in d.ok("GET", "/v1/tenants")["tenants"]], [keep["id"]], "tenants left")
    finally:
        kill_sleep(sleeper)


def test_persistence():
    live, dies_while_down = spawn_sleep(), spawn_sleep()
    try:
        with Daemon() as d:
            a = create(d, {"name": "a", "pid": live.pid, "priority": 2})
            b = create(d, {"name": "b", "workload_class": "serving"})
            c = create(d, {"name": "c", "pid": dies_while_down.pid})
            d.ok("PATCH", f"/v1/tenants/{b['id']}", {"priority": 6})
            before = {t["id"]: t for t in d.ok("GET", "/v1/tenants")["tenants"]}
            all_before = d.ok("GET", "/v1/events")["events"]

            d.stop()
            kill_sleep(dies_while_down)
            d.start()

            after = {t["id"]: t for t in d.ok("GET", "/v1/tenants")["tenants"]}
            check_eq(sorted(after), sorted(before), "tenant ids after restart")
            for tid in (a["id"], b["id"]):
                check_eq(after[tid], before[tid], f"tenant {tid} after restart")
            check_eq((after[c["id"]]["pid"], after[c["id"]]["pid_alive"]), (dies_while_down.pid, False),
                     "tenant whose pid died while maiod was down")
            exits = [e for e in events(d, c["id"]) if e["kind"] == "pid-exit"]
            check_eq(len(exits), 1, "pid-exit recorded at start")
            all_after = d.ok("GET", "/v1/events")["events"]
            check_eq(all_after[1:], all_before, "events kept across the restart (plus the new exit)")
            check_eq(d.ok("GET", "/v1/status")["counts"]["tenants"], 3, "counts.tenants after restart")

            # The watch on a's pid was re-armed at start.
            kill_sleep(live)
            wait_pid_exit(d, a["id"])
            check_eq(d.ok("GET", f"/v1/tenants/{a['id']}")["pid_alive"], False, "pid_alive of a")

            # An exit already recorded is not recorded again by the next start.
            d.restart()
            for tid in (a["id"], c["id"]):
                n = len([e for e in events(d, tid) if e["kind"] == "pid-exit"])
                check_eq(n, 1, f"pid-exit events of tenant {tid} after a second restart")
    finally:
        kill_sleep(live)
        kill_sleep(dies_while_down)


def test_tcp_tokens():
    port = free_port()
    with Daemon(f"[api]\nlisten = 127.0.0.1:{port}\n") as d:
        d.tcp = ("127.0.0.1", port)
        check_eq(d.ok("GET", "/v1/status")["listeners"]["tcp"], f"127.0.0.1:{port}", "status.listeners.tcp")
        a = create(d, {"name": "a"})
        b = create(d, {"name": "b"})
        mine = f"/v1/tenants/{a['id']}"

        got = d.ok("GET", mine, tcp=True, token=a["token"])
        check_eq(got, {k: v for k, v in a.items() if k != "token"}, "GET own tenant over TCP")
        check_eq([t["id"] for t in d.ok("GET", "/v1/tenants", tcp=True, token=a["token"])["tenants"]], [a["id"]],
                 "list over TCP")
        check_eq(d.ok("PATCH", mine, {"priority": 1}, tcp=True, token=a["token"])["priority"], 1, "PATCH over TCP")
        check_eq(len(events(d, a["id"], tcp=True, token=a["token"])), 2, "events over TCP")
        d.ok("GET", "/v1/status", tcp=True, token=a["token"])

        for token in (None, "", "x" * 43, b["token"][:-1], a["token"] + "x"):
            hdrs = d.check_error("GET", mine, tcp=True, token=token, status=401, code="unauthorized")
            check_eq(hdrs.get("www-authenticate"), 'Bearer realm="maiod"', f"WWW-Authenticate (token {token!r})")
        d.check_error("GET", mine, tcp=True, headers={"Authorization": f"Basic {a['token']}"}, status=401,
                      code="unauthorized")
        d.check_error("GET", "/v1/status", tcp=True, status=401, code="unauthorized")

        other = f"/v1/tenants/{b['id']}"
        d.check_error("GET", other, tcp=True, token=a["token"], status=404, code="not-found")
        d.check_error("PATCH", other, {"priority": 1}, tcp=True, token=a["token"], status=404, code="not-found")
        d.check_error("DELETE", other, tcp=True, token=a["token"], status=404, code="not-found")
        d.check_error("GET", other + "/events", tcp=True, token=a["token"], status=404, code="not-found")
        check_eq(d.ok("GET", other)["priority"], 4, "b untouched")

        d.check_error("POST", "/v1/tenants", {"name": "c"}, tcp=True, token=a["token"], status=403, code="forbidden")
        d.check_error("POST", "/v1/tenants", {"name": "c"}, tcp=True, status=401, code="unauthorized")
        d.check_error("GET", "/v1/events", tcp=True, token=a["token"], status=403, code="forbidden")
        check_eq(len(d.ok("GET", "/v1/tenants")["tenants"]), 2, "tenants after the TCP POSTs")

        check_eq(d.ok("GET", "/v1/health", tcp=True), {"status": "ok"}, "health over TCP without a token")
        check_eq(d.ok("GET", "/v1/version", tcp=True)["api"], "v1", "version over TCP without a token")
        check_eq(d.request("GET", "/metrics", tcp=True)[0], 200, "metrics over TCP without a token")

        # Tokens survive a restart (stored hashed), and die with their tenant,
        # also on a keep-alive connection that already used them.
        d.restart()
        check_eq(d.ok("GET", mine, tcp=True, token=a["token"])["name"], "a", "token after restart")
        with socket.create_connection(d.tcp, timeout=5) as s:
            req = f"GET {mine} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {a['token']}\r\n\r\n".encode()
            for _ in range(2):
                s.sendall(req)
                check_eq(parse_response(recv_response(s, 5))[0], 200, "token on a keep-alive connection")
            d.ok("DELETE", mine, want=204)
            s.sendall(req)
            check_eq(parse_response(recv_response(s, 5))[0], 401, "the same connection after the tenant's removal")
        d.check_error("GET", mine, tcp=True, token=a["token"], status=401, code="unauthorized")
        check_eq(d.ok("GET", other, tcp=True, token=b["token"])["name"], "b", "b's token still works")


if __name__ == "__main__":
    main([test_lifecycle, test_create_validation, test_pid_watch, test_pid_exit_remove, test_persistence,
          test_tcp_tokens])
