#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# The hugepage reserve (/v1/maio, /v1/tenants/{id}/maio) of a real maiod on a temp
# copy of tests/fixtures/knobs-host (two nodes): grants size the node's fixture
# file, release and tenant removal shrink it back byte-for-byte, the original is
# a floor, a partial allocation is a 507 with the amount, bad input, other uids,
# restarts, SIGKILL, maioctl maio against the daemon, and the poller CPUs ([pools] poller_cpus)
# handed out with grants: one per tenant, none when all are held (with the reason), back on
# release, removal and process exit, shown in /v1/maio, /v1/status and the metrics; under
# shortage the scheduler's allocations (hugepages, poller_cores) decide by priority.
#
# Partial allocations: a fixture file keeps whatever is written, so maiod is
# started with MAIOD_TEST_HUGEPAGES_LIMIT=NODE:PAGES, a test hook honoured only
# under a fixture root (never the live host). It replaces the write(2) of the
# knob writer so that node's file keeps at most PAGES, reporting success as the
# kernel does when it cannot allocate every page; everything after the write
# (read-back, journal, reserve) is the production path.

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from maiotest import NOBODY, Daemon, check, check_eq, env, fixture, main, wait_for

MIB = 1 << 20
PAGE = 2 * MIB
NODE_FILE = "sys/devices/system/node/node{}/hugepages/hugepages-2048kB/nr_hugepages"


class Root:
    """A temp copy of the knobs-host fixture, removed on exit."""

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="maio-pools-")
        self.path = os.path.join(self.tmp, "root")
        shutil.copytree(fixture("knobs-host"), self.path, symlinks=True)
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def node(self, n):
        with open(os.path.join(self.path, NODE_FILE.format(n)), "rb") as f:
            return f.read()

    def set_node(self, n, text):
        with open(os.path.join(self.path, NODE_FILE.format(n)), "w") as f:
            f.write(text)

    def differences(self):
        """Files below the copy whose bytes (or link target) differ from the fixture's."""
        pristine, out = fixture("knobs-host"), []
        for base, dirs, files in os.walk(pristine):
            rel = os.path.relpath(base, pristine)
            for name in dirs + files:
                a, b = os.path.join(base, name), os.path.join(self.path, rel, name)
                if os.path.islink(a):
                    if not os.path.islink(b) or os.readlink(a) != os.readlink(b):
                        out.append(os.path.join(rel, name))
                elif os.path.isfile(a):
                    with open(a, "rb") as fa, open(b, "rb") as fb:
                        if fa.read() != fb.read():
                            out.append(os.path.join(rel, name))
        return out

    def check_pristine(self, when):
        diff = self.differences()
        check(not diff, f"{when}: fixture files differ: {diff}")


def add_tenant(d, name, as_uid=None, **extra):
    kw = {"as_uid": as_uid} if as_uid is not None else {}
    return d.ok("POST", "/v1/tenants", dict(name=name, **extra), want=201, **kw)["id"]


def grant(d, tid, nbytes, node, poller=None, **kw):
    body = {"bytes": nbytes, "node": node}
    if poller is not None:
        body["poller"] = poller
    return d.request("POST", f"/v1/tenants/{tid}/maio", body, **kw)


def grant_ok(d, tid, nbytes, node, **kw):
    status, _, body = grant(d, tid, nbytes, node, **kw)
    check_eq(status, 200, f"grant {nbytes} bytes on node {node} to tenant {tid} ({body})")
    return body


def metric(d, name):
    return d.metrics().get(name, -1)


def test_grant_release_remove():
    with Root() as root, Daemon(root=root.path) as d:
        mine = add_tenant(d, "web", as_uid=NOBODY)
        other = add_tenant(d, "db")
        g = grant_ok(d, mine, 5000000, 1, as_uid=NOBODY)
        check_eq((g["pages"], g["bytes"], g["node"], g["requested_bytes"], g["replaced_pages"]),
                 (3, 3 * PAGE, 1, 5000000, None), "grant rounded up to pages")
        check_eq((g["reserve"]["original_pages"], g["reserve"]["target_pages"], g["reserve"]["total_pages"]),
                 (0, 3, 3), "the node's reserve in the reply")
        check_eq(root.node(1), b"3\n", "node 1 = original + pages")
        check_eq(root.node(0), b"0\n", "node 0 untouched")
        grant_ok(d, other, 4 * MIB, 1)
        check_eq(root.node(1), b"5\n", "a second tenant adds")
        check_eq(metric(d, 'maiod_maio_grant_pages{node="1"}'), 5, "grant pages metric")
        check_eq(metric(d, 'maiod_maio_grant_pages{node="0"}'), 0, "node 0 metric")

        # Another uid cannot see, grant on or release my tenant's reserve; the node figures are shared.
        d.check_error("POST", f"/v1/tenants/{other}/maio", {"bytes": PAGE, "node": 1}, 404, "not-found",
                      as_uid=NOBODY)
        d.check_error("DELETE", f"/v1/tenants/{other}/maio", None, 404, "not-found", as_uid=NOBODY)
        view = d.ok("GET", "/v1/maio", as_uid=NOBODY)
        check_eq([(x["tenant_id"], x["pages"]) for x in view["grants"]], [(mine, 3)], "nobody sees its grant only")
        check_eq([(n["node"], n["granted_pages"], n["total_pages"]) for n in view["nodes"]], [(0, 0, 0), (1, 5, 5)],
                 "node figures")
        check_eq(len(d.ok("GET", "/v1/maio")["grants"]), 2, "the admin sees both grants")

        g = grant_ok(d, mine, 2 * MIB, 1, as_uid=NOBODY)
        check_eq((g["pages"], g["replaced_pages"]), (1, 3), "a second POST on the node replaces")
        check_eq(root.node(1), b"3\n", "replacement shrank the node")
        rel = d.ok("DELETE", f"/v1/tenants/{mine}/maio", as_uid=NOBODY)
        check_eq((rel["pages"], [x["node"] for x in rel["released"]]), (1, [1]), "release reply")
        check_eq(root.node(1), b"2\n", "release shrank the node")
        check_eq(d.ok("DELETE", f"/v1/tenants/{mine}/maio")["released"], [], "release again is a no-op")

        d.ok("DELETE", f"/v1/tenants/{other}", want=204)
        root.check_pristine("after the last tenant with grants was removed")
        check_eq(d.ok("GET", "/v1/knobs/node.1.hugepages.2048kB")["state"], "untouched", "journal restored")
        kinds = [e["kind"] for e in d.ok("GET", "/v1/events")["events"]]
        check_eq((kinds.count("maio-grant"), kinds.count("maio-release")), (3, 1), "events")


def test_bad_input():
    config = "[pools]\nmax_grant_bytes = 8388608\n"
    with Root() as root, Daemon(root=root.path, config=config) as d:
        tid = add_tenant(d, "web", as_uid=NOBODY)
        path = f"/v1/tenants/{tid}/maio"
        for body, code in (({"bytes": 0, "node": 0}, "invalid-value"), ({"bytes": -1, "node": 0}, "invalid-value"),
                           ({"bytes": 8388609, "node": 0}, "invalid-value"),
                           ({"bytes": 1, "node": -1}, "invalid-value"), ({"bytes": 1, "node": 1024}, "invalid-value"),
                           ({"bytes": 1, "node": 2}, "invalid-value"), ({"bytes": "1", "node": 0}, "wrong-type"),
                           ({"bytes": 1.0, "node": 0}, "wrong-type"), ({"bytes": 1, "node": None}, "wrong-type"),
                           ({"bytes": 1}, "missing-field"), ({"node": 0}, "missing-field"),
                           ({"bytes": 1, "node": 0, "numa_node": 0}, "unknown-field")):
            d.check_error("POST", path, body, 400, code, as_uid=NOBODY)
        _, _, body = d.request("POST", path, {"bytes": 8388609, "node": 0})
        check("1..8388608" in body["error"]["message"], f"too large names the range: {body}")
        _, _, body = d.request("POST", path, {"bytes": 1, "node": 2})
        check("No NUMA node 2" in body["error"]["message"], f"unknown node named: {body}")
        d.check_error("POST", f"/v1/tenants/{tid + 1}/maio", {"bytes": 1, "node": 0}, 404, "not-found")
        d.check_error("POST", "/v1/tenants/01/maio", {"bytes": 1, "node": 0}, 400, "bad-request")
        d.check_error("DELETE", f"/v1/tenants/{tid + 1}/maio", None, 404, "not-found")
        d.check_error("PUT", path, {"bytes": 1, "node": 0}, 405, "method-not-allowed")
        root.check_pristine("after refused grants")
        g = grant_ok(d, tid, 8388608, 0, as_uid=NOBODY)
        check_eq(g["pages"], 4, "the cap itself is allowed")
        check_eq(d.ok("GET", "/v1/maio")["max_grant_bytes"], 8388608, "cap shown")


def test_original_is_a_floor():
    with Root() as root:
        root.set_node(0, "5\n")
        with Daemon(root=root.path, config="[pools]\nheadroom_pages = 1\n") as d:
            tid = add_tenant(d, "web")
            g = grant_ok(d, tid, 2 * PAGE, 0)
            check_eq(root.node(0), b"5\n", "2 + 1 headroom < original 5: unchanged")
            check_eq((g["reserve"]["original_pages"], g["reserve"]["headroom_pages"], g["reserve"]["target_pages"]),
                     (5, 1, 5), "reserve figures")
            grant_ok(d, tid, 6 * PAGE, 0)
            check_eq(root.node(0), b"7\n", "6 + 1 headroom")
            check_eq(root.node(1), b"0\n", "no headroom on a node without grants")
            # A reload with another headroom resizes the nodes in use right away.
            d.write_config("[pools]\nheadroom_pages = 3\n")
            d.signal(signal.SIGHUP)
            wait_for(lambda: root.node(0) == b"9\n", 5, "the reload to apply the new headroom")
            check_eq(root.node(1), b"0\n", "still no headroom on node 1")
            d.ok("DELETE", f"/v1/tenants/{tid}/maio")
            check_eq(root.node(0), b"5\n", "released: back to the original, never below")
            check_eq(d.ok("GET", "/v1/knobs/node.0.hugepages.2048kB")["state"], "untouched", "journal restored")


def test_partial_allocation():
    with Root() as root, Daemon(root=root.path, env_extra={"MAIOD_TEST_HUGEPAGES_LIMIT": "1:6"}) as d:
        check("Test hook" in d.log(), "the test hook announced itself")
        first, second = add_tenant(d, "web"), add_tenant(d, "db", as_uid=NOBODY)
        grant_ok(d, first, 3 * PAGE, 1)
        check_eq(root.node(1), b"3\n", "within the limit")
        status, _, body = grant(d, second, 5 * PAGE, 1, as_uid=NOBODY)
        check_eq(status, 507, f"partial allocation status ({body})")
        check_eq(body["error"]["code"], "insufficient-storage", "error code")
        msg = body["error"]["message"]
        check("only 3 of the 5 hugepages" in msg and "6291456 of 10485760 bytes" in msg,
              f"the message gives pages and bytes obtained: {msg}")
        check_eq(body["allocation"], {"node": 1, "requested_pages": 5, "requested_bytes": 5 * PAGE,
                                      "obtained_pages": 3, "obtained_bytes": 3 * PAGE, "node_target_pages": 8,
                                      "node_kept_pages": 6, "pending": True}, "allocation member")
        check_eq(root.node(1), b"3\n", "the knob is back to what the remaining grants need")
        check_eq([x["tenant_id"] for x in d.ok("GET", "/v1/maio")["grants"]], [first], "nothing was granted")
        check_eq(metric(d, "maiod_maio_partial_allocations_total"), 1, "partial allocations counted")
        check("maio-partial" in [e["kind"] for e in d.ok("GET", "/v1/events")["events"]], "maio-partial event")
        # A replacement that cannot be served keeps the previous size.
        check_eq(grant(d, first, 4 * PAGE, 1)[0], 200, "3 -> 4 pages fits")
        check_eq(grant(d, first, 9 * PAGE, 1)[0], 507, "4 -> 9 pages does not")
        check_eq(d.ok("GET", "/v1/maio")["grants"][0]["pages"], 4, "the previous size stays")
        check_eq(root.node(1), b"4\n", "and the node holds it")
        r = subprocess.run([env("MAIOCTL"), "--socket", d.socket_path, "maio", "grant", str(first), "64M",
                            "--node", "1"], capture_output=True, text=True, timeout=30)
        check_eq(r.returncode, 1, f"maioctl maio grant exit status ({r.stderr})")
        check("(insufficient-storage, HTTP 507)" in r.stderr and "only 5 of the 32 hugepages" in r.stderr,
              f"maioctl reports the partial allocation: {r.stderr!r}")
        # The refused grants wait (the scheduler shares what is left among them, equal priorities
        # alike): first's 32 pages and second's 2 split the 2 pages left, 1 each, nothing granted.
        check_eq(grant(d, second, 2 * PAGE, 1, as_uid=NOBODY)[0], 507, "2 pages while first's 32 wait")
        grant_ok(d, first, 4 * PAGE, 1)  # asking for the size it holds withdraws its waiting grant
        grant_ok(d, second, 2 * PAGE, 1, as_uid=NOBODY)
        check_eq(root.node(1), b"6\n", "a grant that fits beside it")
        d.ok("DELETE", f"/v1/tenants/{first}/maio")
        d.ok("DELETE", f"/v1/tenants/{second}/maio")
        root.check_pristine("after both released")


def test_restart_keeps_grants():
    with Root() as root, Daemon(root=root.path) as d:
        tid = add_tenant(d, "web")
        grant_ok(d, tid, 3 * PAGE, 1)
        d.stop()
        # A clean stop leaves the host as maiod found it ([knobs] restore_on_exit = yes)...
        root.check_pristine("while maiod is stopped")
        d.start()
        # ...and the next start sizes the node for the grants on record again.
        check_eq(root.node(1), b"3\n", "after the restart")
        check_eq([(x["tenant_id"], x["pages"]) for x in d.ok("GET", "/v1/maio")["grants"]], [(tid, 3)], "grant kept")

        d.write_config("[knobs]\nrestore_on_exit = no\n")
        d.restart()
        check_eq(root.node(1), b"3\n", "restore_on_exit = no keeps the pages across the restart")
        d.stop()
        check_eq(root.node(1), b"3\n", "and while stopped")
        d.write_config("")
        d.start()
        d.ok("DELETE", f"/v1/tenants/{tid}", want=204)
        root.check_pristine("after the tenant was removed")


def orphan_tenant(d, tid):
    """Removes a tenant behind maiod's back (foreign keys off), leaving its grants."""
    db = sqlite3.connect(os.path.join(d.state_dir, "maiod.db"))
    try:
        db.execute("PRAGMA foreign_keys = OFF")
        db.execute("DELETE FROM tenants WHERE id = ?", (tid,))
        db.commit()
        check_eq(db.execute("SELECT count(*) FROM maio_grants WHERE tenant_id = ?", (tid,)).fetchone()[0], 1,
                 "the grant outlived its tenant")
    finally:
        db.close()


def test_sigkill_reconciles():
    for mode in ("reapply", "restore"):
        with Root() as root, Daemon(root=root.path, config=f"[knobs]\nreconcile = {mode}\n") as d:
            kept, gone = add_tenant(d, "web"), add_tenant(d, "db")
            grant_ok(d, kept, 3 * PAGE, 1)
            grant_ok(d, gone, 2 * PAGE, 0)
            d.kill()
            check_eq((root.node(0), root.node(1)), (b"2\n", b"3\n"), f"{mode}: SIGKILL left the pages")
            orphan_tenant(d, gone)
            d.start()
            check("did not stop cleanly" in d.log(), f"{mode}: the restart saw the unclean stop")
            check("Forgot 1 hugepage grant" in d.log(), f"{mode}: the orphaned grant was forgotten")
            # The journal restored or reapplied; either way the reserve fits the grants on record.
            check_eq((root.node(0), root.node(1)), (b"0\n", b"3\n"), f"{mode}: after the restart")
            check_eq([x["tenant_id"] for x in d.ok("GET", "/v1/maio")["grants"]], [kept], f"{mode}: grants")
            d.ok("DELETE", f"/v1/tenants/{kept}", want=204)
            root.check_pristine(f"{mode}: after the last tenant was removed")


def test_pid_exit_removes():
    with Root() as root, Daemon(root=root.path, config="[tenants]\non_pid_exit = remove\n") as d:
        child = subprocess.Popen(["sleep", "60"])
        try:
            tid = add_tenant(d, "web", pid=child.pid)
            grant_ok(d, tid, 4 * PAGE, 0)
            check_eq(root.node(0), b"4\n", "granted")
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        wait_for(lambda: root.node(0) == b"0\n", 5, "the tenant's exit to release its pages")
        root.check_pristine("after the tenant's process exited")
        d.check_error("GET", f"/v1/tenants/{tid}", None, 404, "not-found")


def test_maioctl():
    with Root() as root, Daemon(root=root.path) as d:
        tid = add_tenant(d, "web", as_uid=NOBODY)

        def maioctl(*args):
            return subprocess.run([env("MAIOCTL"), "--socket", d.socket_path, *args], capture_output=True, text=True,
                                  timeout=30)

        r = maioctl("maio", "grant", str(tid), "6M", "--node", "1")
        check_eq(r.returncode, 0, f"maioctl maio grant ({r.stderr})")
        check("pages:" in r.stdout and "3" in r.stdout, f"grant output: {r.stdout!r}")
        check_eq(root.node(1), b"3\n", "maioctl grant sized the node")
        r = maioctl("maio", "list")
        check_eq(r.returncode, 0, f"maioctl maio list ({r.stderr})")
        lines = r.stdout.splitlines()
        check(lines[0].split() == ["NODE", "ORIGINAL", "GRANTED", "HEADROOM", "TARGET", "TOTAL", "FREE", "STATE"],
              f"list header: {lines[0]!r}")
        check(lines[2].split()[:6] == ["1", "0", "3", "0", "3", "3"], f"node 1 row: {lines[2]!r}")
        check(any(line.split()[:4] == [str(tid), "web", "1", "3"] for line in lines[4:]), f"grant row: {lines}")
        r = maioctl("-o", "json", "maio", "release", str(tid))
        check_eq(r.returncode, 0, f"maioctl maio release ({r.stderr})")
        check('"pages": 3' in r.stdout, f"release output: {r.stdout!r}")
        root.check_pristine("after maioctl maio release")
        r = maioctl("maio", "grant", str(tid), "1M", "--node", "5")
        check_eq(r.returncode, 1, "bad node is maiod's error")
        check("No NUMA node 5 on this host (invalid-value, HTTP 400)" in r.stderr, f"stderr {r.stderr!r}")


def poller_root(root, online="0-3"):
    cpu = os.path.join(root.path, "sys/devices/system/cpu")
    os.makedirs(cpu, exist_ok=True)
    with open(os.path.join(cpu, "online"), "w") as f:
        f.write(online + "\n")


def test_pollers():
    with Root() as root:
        poller_root(root)
        with Daemon(root=root.path, config="[pools]\npoller_cpus = 3, 1\n") as d:
            a = add_tenant(d, "a", as_uid=NOBODY)
            b = add_tenant(d, "b")
            g = grant_ok(d, a, PAGE, 0, poller=True, as_uid=NOBODY)
            check_eq((g["poller_cpu"], "poller_reason" in g), (1, False), "the lowest free poller CPU")
            check_eq(grant_ok(d, a, PAGE, 0, poller=True, as_uid=NOBODY)["poller_cpu"], 1, "asking again: the same")
            check_eq(grant_ok(d, b, PAGE, 0, poller=True)["poller_cpu"], 3, "the next one")
            c = add_tenant(d, "c")
            g = grant_ok(d, c, PAGE, 0, poller=True)
            check_eq(g["poller_cpu"], None, "exhausted: none")
            check_eq(g["poller_reason"], f"all 2 poller CPUs are held (CPU 1: tenant {a}, CPU 3: tenant {b})"
                     "; waiting: a CPU freed goes to the waiting tenant of highest priority", "exhausted: the reason")
            g = grant_ok(d, c, PAGE, 0)
            check_eq((g["poller_cpu"], g["poller_reason"]), (None, "not asked for"), "not asked")
            check_eq((metric(d, 'maiod_maio_poller_cpus{state="held"}'), metric(d, 'maiod_maio_poller_cpus{state="free"}'),
                      metric(d, "maiod_maio_poller_refusals_total")), (2, 0, 1), "poller metrics")
            p = d.ok("GET", "/v1/status")["pollers"]
            check_eq((p["configured"], sorted((h["cpu"], h["tenant_id"]) for h in p["held"]), p["free"]),
                     ("1,3", [(1, a), (3, b)], 0), "status: poller CPUs in use")
            check_eq(d.ok("GET", "/v1/maio")["pollers"], p, "/v1/maio shows the same")
            d.check_error("POST", f"/v1/tenants/{c}/maio", {"bytes": PAGE, "node": 0, "poller": 1}, 400,
                          "wrong-type")

            # Released with the grants, with the tenant, with its process.
            d.ok("DELETE", f"/v1/tenants/{a}/maio", as_uid=NOBODY)
            check_eq(grant_ok(d, c, PAGE, 0, poller=True)["poller_cpu"], 1, "released on DELETE .../maio")
            d.ok("DELETE", f"/v1/tenants/{b}", want=204)
            child = subprocess.Popen(["sleep", "60"])
            try:
                e = add_tenant(d, "e", pid=child.pid)
                check_eq(grant_ok(d, e, PAGE, 0, poller=True)["poller_cpu"], 3, "released on tenant removal")
            finally:
                child.send_signal(signal.SIGKILL)
                child.wait()
            wait_for(lambda: d.ok("GET", "/v1/status")["pollers"]["free"] == 1, 5, "the exit to free CPU 3")
            check_eq(d.ok("GET", f"/v1/tenants/{e}")["id"], e, "the tenant is kept (on_pid_exit = keep)")
            kinds = [x["kind"] for x in d.ok("GET", "/v1/events")["events"]]
            check_eq((kinds.count("maio-poller"), kinds.count("maio-poller-release"), kinds.count("maio-poller-none")),
                     (4, 3, 1), "poller events")

        # Without the key: none to hand out, and the reason says so.
        with Daemon(root=root.path) as d:
            t = add_tenant(d, "t")
            g = grant_ok(d, t, PAGE, 0, poller=True)
            check_eq((g["poller_cpu"], g["poller_reason"]), (None, "no poller CPUs are configured ([pools] poller_cpus)"),
                     "none configured")
            check_eq(d.ok("GET", "/v1/status")["pollers"], {"configured": "", "held": [], "free": 0}, "status")

        # An offline CPU, or every online one: maiod does not start, and says why.
        for conf, why in (("5", "[pools] poller_cpus: CPU 5 is not online (online: 0-3)"),
                          ("0-3", "[pools] poller_cpus: all 4 online CPUs (0-3) would be pollers; leave one")):
            d = Daemon(root=root.path, config=f"[pools]\npoller_cpus = {conf}\n", start=False)
            try:
                proc = subprocess.run(d.argv(), capture_output=True, text=True, timeout=30, env=d.env)
                check(proc.returncode != 0, f"poller_cpus = {conf}: maiod must not start")
                check(why in proc.stderr, f"poller_cpus = {conf}: the reason in {proc.stderr!r}")
            finally:
                shutil.rmtree(d.tmp, ignore_errors=True)


def allocations(d, name):
    res = {r["name"]: r for r in d.ok("GET", "/v1/allocations")["resources"]}
    check(name in res, f"GET /v1/allocations has the row {name}: {sorted(res)}")
    return res[name]["capacity"], {t["id"]: (t["demand"], t["allocation"]) for t in res[name]["tenants"]}


def test_shortage_by_priority():
    """Node 1 keeps at most 12 pages and there is one poller CPU. Three tenants hold 4 pages each;
    the low (6) and then the high priority (1) tenant ask for 8: nothing is left, both wait (507,
    pending). When the lowest (7) releases, the scheduler's allocation gives its pages to the high
    priority first although it asked last; the low priority's granted pages are never taken back.
    The poller CPU the releaser held goes to the high priority tenant too."""
    with Root() as root:
        poller_root(root)
        with Daemon(root=root.path, config="[pools]\npoller_cpus = 1\n",
                    env_extra={"MAIOD_TEST_HUGEPAGES_LIMIT": "1:12"}) as d:
            c, lo, hi = add_tenant(d, "c", priority=7), add_tenant(d, "low", priority=6), add_tenant(d, "high", priority=1)
            check_eq(grant_ok(d, c, 4 * PAGE, 1, poller=True)["poller_cpu"], 1, "c holds the poller CPU")
            for t in (lo, hi):
                g = grant_ok(d, t, 4 * PAGE, 1, poller=True)
                check(g["poller_cpu"] is None and "; waiting:" in g["poller_reason"], f"tenant {t} waits: {g}")
            check_eq(root.node(1), b"12\n", "three grants of 4 fill the node")
            check_eq(allocations(d, "poller_cores"), (1, {c: (1, 1), lo: (1, 0), hi: (1, 0)}), "poller_cores")

            for t in (lo, hi):
                status, _, body = grant(d, t, 8 * PAGE, 1, poller=True)
                check_eq(status, 507, f"tenant {t}: 4 -> 8 pages while nothing is left ({body})")
                check_eq((body["allocation"]["obtained_pages"], body["allocation"]["pending"]), (4, True),
                         f"tenant {t}: covered its grant only, waiting")
                check("Hugepages are short on node 1" in body["error"]["message"], body["error"]["message"])
            check_eq(root.node(1), b"12\n", "the node holds the granted pages")
            check_eq(allocations(d, "hugepages"), (12, {c: (4, 4), lo: (8, 4), hi: (8, 4)}), "hugepages while short")
            check_eq((metric(d, "maiod_maio_waiting_grants"), metric(d, "maiod_maio_poller_waiting")), (2, 2),
                     "waiting grants and pollers")

            d.ok("DELETE", f"/v1/tenants/{c}/maio")

            def served():
                return {g["tenant_id"]: g["pages"] for g in d.ok("GET", "/v1/maio")["grants"]} == {lo: 4, hi: 8}

            wait_for(served, 5, "the freed pages to go to the high priority tenant")
            check_eq(root.node(1), b"12\n", "the node holds the grants")
            check_eq(allocations(d, "hugepages"), (12, {lo: (8, 4), hi: (8, 8)}), "hugepages after the release")
            wait_for(lambda: d.ok("GET", "/v1/maio")["pollers"]["held"] == [{"cpu": 1, "tenant_id": hi}], 5,
                     "the freed poller CPU to go to the high priority tenant")
            check_eq(allocations(d, "poller_cores"), (1, {lo: (1, 0), hi: (1, 1)}), "poller_cores after the release")
            check_eq(grant_ok(d, hi, 8 * PAGE, 1, poller=True)["poller_cpu"], 1, "asking again shows it")
            check_eq((metric(d, "maiod_maio_waiting_grants"), metric(d, "maiod_maio_poller_waiting")), (1, 1),
                     "the low priority still waits")
            r = subprocess.run([env("MAIOCTL"), "--socket", d.socket_path, "alloc"], capture_output=True, text=True,
                               timeout=30)
            check_eq(r.returncode, 0, f"maioctl alloc ({r.stderr})")
            rows = [line.split() for line in r.stdout.splitlines()]
            for want in (["hugepages", "pages", "12", str(hi), "1", "8", "8"],
                         ["hugepages", "pages", "12", str(lo), "6", "8", "4"],
                         ["poller_cores", "cores", "1", str(hi), "1", "1", "1"]):
                check(want in rows, f"maioctl alloc shows {want}: {r.stdout}")
            events = d.ok("GET", "/v1/events")["events"]
            check(any(e["kind"] == "maio-grant" and e["tenant_id"] == hi and "scheduler" in e["message"]
                      for e in events), "the grant made by the allocation is in the event log")
            check(any(e["kind"] == "allocation-changed" and "hugepages" in e["message"] for e in events),
                  "allocation-changed of hugepages in the event log")

            # The low priority withdraws its wait with DELETE: everything goes back.
            d.ok("DELETE", f"/v1/tenants/{lo}/maio")
            d.ok("DELETE", f"/v1/tenants/{hi}/maio")
            check_eq(allocations(d, "hugepages")[1], {}, "no demand left")
        root.check_pristine("after the releases")


if __name__ == "__main__":
    main([test_grant_release_remove, test_bad_input, test_original_is_a_floor, test_partial_allocation,
          test_restart_keeps_grants, test_sigkill_reconciles, test_pid_exit_removes, test_maioctl, test_pollers,
          test_shortage_by_priority])
