#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# The event-driven scheduler in a real maiod on a temp copy of the tier-free fixture (DAMON
# backend): tenants join and leave while feedback arrives, and the promotion-bandwidth allocation
# (GET /v1/allocations, and the DAMON quota files it is applied to) follows each change within the
# reaction bound; the allocation is the allocator's (priority classes served in order); tenants see
# their own rows; allocation-changed reaches netlink subscribers; periodic mode follows only at its
# period; GET /v1/scheduler counts the events and reaction latencies.
import os
import shutil
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import signal
import subprocess

from maiotest import NOBODY, Daemon, FixtureRoot, NlClient, Skip, check, check_eq, fixture, main, needs, wait_for

S = "sys/kernel/mm/damon/admin/kdamonds/0/contexts/0/schemes/"
BUDGET = 16000000000  # 50% of the fixture's 32 GB/s link
# How long a reaction may take on a loaded test machine (the bench measures the real figure).
BOUND_S = 2.0


def config(mode="event", extra=""):
    return f"[tiering]\nbackend = damon\npolicy = static\ninterval_sec = 3600\n[scheduler]\nmode = {mode}\n{extra}"


def allocations(d, **kw):
    res = d.ok("GET", "/v1/allocations", **kw)["resources"]
    names = [r["name"] for r in res]
    check("promotion_bandwidth" in names and len(set(names)) == len(names), f"the resources: {names}")
    # Without MFLOW devices splitting cores are not in use here: no capacity, no rows.
    check(all(r["capacity"] == 0 and r["tenants"] == [] for r in res if r["name"] == "splitting_cores"),
          f"splitting_cores idle without MFLOW devices: {res}")
    pb = next(r for r in res if r["name"] == "promotion_bandwidth")
    check_eq((pb["unit"], pb["capacity"]), ("bytes/s", BUDGET), "unit and capacity")
    return {t["id"]: t for t in pb["tenants"]}


def join(d, name, cgroup, priority):
    tid = d.ok("POST", "/v1/tenants", {"name": name, "cgroup": cgroup, "priority": priority}, want=201)["id"]
    d.ok("GET", f"/v1/tenants/{tid}/thresholds")  # enrols it in tiering: a demand appears
    return tid


def follows(d, ids, what):
    """Waits until the allocation covers exactly ids; returns the rows and the seconds it took."""
    t0, rows = time.monotonic(), {}

    def covered():
        rows.clear()
        rows.update(allocations(d))
        return set(rows) == set(ids)

    wait_for(covered, BOUND_S, what)
    return rows, time.monotonic() - t0


def check_allocator(rows):
    """Classes 0-1, 2-5, 6-7 served in order, each tenant up to its demand (weights only split a
    class's remainder, which this capacity never leaves short here)."""
    left = BUDGET
    for cls in ((0, 1), (2, 3, 4, 5), (6, 7)):
        members = [t for t in rows.values() if t["priority"] in cls]
        want = sum(t["demand"] for t in members)
        got = sum(t["allocation"] for t in members)
        check_eq(got, min(want, left), f"class {cls} gets min(its demand, what is left)")
        left -= got
        for t in members:
            check(t["allocation"] <= t["demand"], f"tenant {t['id']}: allocation within demand")


def test_joins_leaves_feedback():
    with FixtureRoot() as root, Daemon(config=config(), root=root.path, log_level="info") as d:
        ids, slowest = [], 0.0
        for i in range(6):
            ids.append(join(d, f"t{i}", "/maio/a" if i % 2 == 0 else "/maio/b", priority=(i * 3) % 8))
            rows, took = follows(d, ids, f"join of tenant {ids[-1]}")
            slowest = max(slowest, took)
            check_allocator(rows)
            # Feedback of the tenants there meanwhile: new episodes, the allocation keeps up.
            for tid in ids[:-1]:
                ep = d.ok("GET", f"/v1/tenants/{tid}/thresholds")["episode"]
                d.ok("POST", f"/v1/tenants/{tid}/feedback", {"episode": ep, "completion_time_s": 10.0 + i},
                     want=202)
        # The quota files hold the allocations: the k-th tenant by (priority, id) has hot scheme 2k+1
        # (the fixture has the directories of the first two tenants' schemes).
        rows = allocations(d)
        for k, tid in enumerate(sorted(ids, key=lambda t: (rows[t]["priority"], t))[:2]):
            check_eq(root.read(S + f"{2 * k + 1}/quotas/bytes").strip(), str(max(4096, rows[tid]["allocation"])),
                     f"tenant {tid}'s DAMON quota is its allocation")
        # Leaves: each one's row goes, and what it held goes to the others.
        while len(ids) > 2:
            gone = ids.pop(0)
            d.ok("DELETE", f"/v1/tenants/{gone}", want=204)
            rows, took = follows(d, ids, f"leave of tenant {gone}")
            slowest = max(slowest, took)
            check_allocator(rows)
        st = d.ok("GET", "/v1/scheduler")
        check_eq(st["mode"], "event", "mode")
        check(st["events"]["tenant"] >= 6 + 6 + 4, f"tenant events counted: {st['events']}")
        check(st["events"]["feedback"] >= 15, f"feedback events counted: {st['events']}")
        check_eq(st["queue"]["dropped"], 0, "nothing dropped")
        check(st["reaction"]["count"] >= st["events"]["tenant"], "every event's reaction recorded")
        check(st["reaction"]["p99_ms"] < BOUND_S * 1000, f"reaction p99 within the bound: {st['reaction']}")
        check_eq(st["reaction"]["buckets"][-1]["count"], st["reaction"]["count"], "the histogram holds all")
        res = st["resources"][0]
        check((res["name"], res["error"]) == ("promotion_bandwidth", None) and res["kernel_writes"] > 0,
              f"the resource was applied: {res}")
        print(f"slowest follow {slowest * 1000:.1f} ms, daemon reaction p99 {st['reaction']['p99_ms']} ms")
        m = d.metrics()
        check('maiod_sched_events_total{class="tenant"}' in m, "metrics by class")
        check("maiod_sched_reaction_seconds_count" in m, "reaction histogram metric")


def test_visibility_and_notification():
    with FixtureRoot() as root, Daemon(config=config(), root=root.path, log_level="info") as d:
        nl = NlClient(d.netlink_port)
        os.chown(os.path.join(root.path, "sys/fs/cgroup/maio/a"), NOBODY, NOBODY)  # delegated to its owner
        mine = d.ok("POST", "/v1/tenants", {"name": "mine", "cgroup": "/maio/a", "priority": 4}, want=201,
                    as_uid=NOBODY)["id"]
        r = nl.call("notify.subscribe", [])
        check_eq(r.error, None, f"subscribe ({r.message})")
        d.ok("GET", f"/v1/tenants/{mine}/thresholds", as_uid=NOBODY)
        n = nl.recv_notification(BOUND_S)
        while n is not None and n.event != "allocation-changed":
            n = nl.recv_notification(BOUND_S)
        check(n is not None, "an allocation-changed notification")
        check_eq((n.json["tenant"], n.json["resource"], n.json["unit"], n.json["previous"]),
                 (mine, "promotion_bandwidth", "bytes/s", 0), "its details")
        admins = join(d, "admins", "/maio/b", priority=0)
        follows(d, [mine, admins], "both tenants allocated")
        rows = d.ok("GET", "/v1/allocations", as_uid=NOBODY)["resources"][0]["tenants"]
        check_eq([t["id"] for t in rows], [mine], "a tenant's owner sees only its rows")
        check_eq(allocations(d)[mine]["allocation"], n.json["allocation"], "the notified allocation")
        nl.close()


def test_periodic():
    period_ms = 700
    with FixtureRoot() as root, Daemon(config=config("periodic", f"period_ms = {period_ms}\n"), root=root.path,
                                log_level="info") as d:
        time.sleep(period_ms / 1000 / 2)
        tid = join(d, "p", "/maio/a", priority=0)
        took = follows(d, [tid], "the periodic pass")[1]
        st = d.ok("GET", "/v1/scheduler")
        check_eq((st["mode"], st["period_ms"]), ("periodic", period_ms), "mode and period")
        check(st["events"]["tenant"] >= 2 and st["passes"] == st["full_passes"], "events counted, every pass full")
        # The join waited for the period: its reaction is most of a period, not a pass's time.
        check(st["reaction"]["max_ms"] > 20, f"the reaction waited for the period: {st['reaction']}")
        check(took < period_ms / 1000 + BOUND_S, "followed within a period")


def test_psi_fixture():
    # A fixture's plain file takes no trigger: maiod says so and runs without.
    with FixtureRoot() as root, Daemon(config=config(extra="psi_memory_stall_ms = 50\n"), root=root.path) as d:
        check("No memory pressure (PSI) below" in d.log(), "a fixture has no PSI trigger, logged")


def memory_cgroup():
    """A cgroup v2 directory of this test's own with the memory controller, or Skip."""
    base = "/sys/fs/cgroup"
    try:
        with open(os.path.join(base, "cgroup.controllers")) as f:
            if "memory" not in f.read().split():
                raise Skip("the cgroup v2 root has no memory controller")
        with open(os.path.join(base, "cgroup.subtree_control"), "w") as f:
            f.write("+memory")
        path = os.path.join(base, f"maio-test-psi-{os.getpid()}")
        os.mkdir(path)
    except OSError as e:
        raise Skip(f"no writable cgroup v2 memory controller to make a memory stall in: {e}")
    return path


@needs("psi", "a kernel that accepts PSI triggers and a cgroup v2 memory controller to stall a process in")
def test_psi_trigger():
    try:
        fd = os.open("/proc/pressure/memory", os.O_RDWR | os.O_NONBLOCK)
        try:
            os.write(fd, b"some 50000 1000000\0")
        finally:
            os.close(fd)
    except OSError as e:
        raise Skip(f"the kernel refuses a memory PSI trigger: {e}")
    cg = memory_cgroup()
    child = None
    try:
        with FixtureRoot() as root:
            shutil.rmtree(os.path.join(root.path, "proc", "pressure"), ignore_errors=True)
            os.symlink("/proc/pressure", os.path.join(root.path, "proc", "pressure"))
            with Daemon(config=config(extra="psi_memory_stall_ms = 50\n"), root=root.path) as d:
                check("Memory pressure trigger armed" in d.log(), "the trigger is armed")
                with open(os.path.join(cg, "memory.high"), "w") as f:
                    f.write(str(16 << 20))
                # Touches 256 MiB under a 16 MiB memory.high: reclaim and throttling stall it on memory.
                child = subprocess.Popen([sys.executable, "-c",
                                          "import time\nx = bytearray(256 << 20)\n"
                                          "while True:\n    for i in range(0, len(x), 4096): x[i] = 1\n"],
                                         preexec_fn=lambda: open(os.path.join(cg, "cgroup.procs"), "w").write("0"))
                wait_for(lambda: d.ok("GET", "/v1/scheduler")["events"]["pressure"] > 0, 20,
                         "a pressure event from the PSI trigger")
                st = d.ok("GET", "/v1/scheduler")
                check(st["full_passes"] >= 1 and st["reaction"]["count"] > 0, "the pressure event was handled")
    finally:
        if child:
            child.send_signal(signal.SIGKILL)
            child.wait()
        os.rmdir(cg)


def test_stated_rate():
    """A promotion rate the tenant states (PATCH .../policy) is its demand, capped by its remote
    bytes (3 GiB in /maio/a); 0 withdraws it; it survives a restart; bad values are 400."""
    rate = 123456789
    with FixtureRoot() as root, Daemon(config=config(), root=root.path, log_level="info") as d:
        tid = join(d, "t", "/maio/a", priority=2)
        before = follows(d, [tid], "join")[0][tid]["demand"]
        check(before != rate, f"the demand from its thresholds first: {before}")
        pol = d.ok("PATCH", f"/v1/tenants/{tid}/policy", {"promotion_rate_bytes": rate})
        check_eq((pol["promotion_rate_bytes"], pol["policy"], pol["episodes"]["open"]), (rate, "static", 1),
                 "stated, the policy and its episode unchanged")
        wait_for(lambda: allocations(d)[tid]["demand"] == rate, BOUND_S, "the stated rate becomes the demand")
        check_eq(allocations(d)[tid]["allocation"], rate, "and is allocated (the budget is larger)")
        # Capped by what it has on remote nodes, as any demand.
        d.ok("PATCH", f"/v1/tenants/{tid}/policy", {"promotion_rate_bytes": 1 << 40})
        wait_for(lambda: allocations(d)[tid]["demand"] == 3 << 30, BOUND_S, "capped by the remote bytes")
        for body, code in [({"promotion_rate_bytes": -1}, "invalid-value"),
                           ({"promotion_rate_bytes": (1 << 40) + 1}, "invalid-value"),
                           ({"promotion_rate_bytes": 1.5}, "wrong-type"),
                           ({"promotion_rate_bytes": "1000"}, "wrong-type"),
                           ({"promotion_rate_bytes": None}, "wrong-type"),
                           ({}, "missing-field"),
                           ({"promotion_rate_bytes": 1, "policy": "static"}, "unknown-field")]:
            d.check_error("PATCH", f"/v1/tenants/{tid}/policy", body, 400, code)
        check_eq(d.ok("GET", f"/v1/tenants/{tid}/policy")["promotion_rate_bytes"], 1 << 40, "bad values change nothing")
        d.check_error("PATCH", "/v1/tenants/999/policy", {"promotion_rate_bytes": 1}, 404, "not-found")
        d.ok("PATCH", f"/v1/tenants/{tid}/policy", {"promotion_rate_bytes": rate})
        d.restart()
        check_eq(d.ok("GET", f"/v1/tenants/{tid}/policy")["promotion_rate_bytes"], rate, "kept across a restart")
        wait_for(lambda: allocations(d).get(tid, {}).get("demand") == rate, BOUND_S, "the demand after a restart")
        pol = d.ok("PATCH", f"/v1/tenants/{tid}/policy", {"promotion_rate_bytes": 0})
        check_eq(pol["promotion_rate_bytes"], None, "0 withdraws it")
        wait_for(lambda: allocations(d)[tid]["demand"] == before, BOUND_S, "the demand follows the thresholds again")


if __name__ == "__main__":
    main([test_joins_leaves_feedback, test_visibility_and_notification, test_periodic, test_psi_fixture,
          test_psi_trigger, test_stated_rate])
