#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# The tiering backends of a real maiod against temp copies of the tier fixtures:
# every file each backend writes (DAMON on tests/fixtures/tier-free, NUMA
# balancing on tier-foreign, whose running kdamond is someone else's: status
# says "tiering backend unavailable: foreign kdamond" and maiod falls back),
# backend = off and an unavailable numa-balancing, the knob journal's view,
# keeping maiod's kdamond across a stop (restore_on_exit = no), SIGKILL and the
# reconcile at the next start, the last tenant leaving, a host without debugfs;
# every run ends with the fixture as it was.

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from maiotest import Daemon, FixtureRoot, check, check_eq, main, wait_for

KD = "sys/kernel/mm/damon/admin/kdamonds/"
S = KD + "0/contexts/0/schemes/"
UNAVAILABLE = "tiering backend unavailable: foreign kdamond"


def config(backend="auto", policy="static", extra=""):
    return f"[tiering]\nbackend = {backend}\npolicy = {policy}\ninterval_sec = 3600\n{extra}"


def enrol(d, name, cgroup, priority=4):
    tid = d.ok("POST", "/v1/tenants", {"name": name, "cgroup": cgroup, "priority": priority}, want=201)["id"]
    return d.ok("GET", f"/v1/tenants/{tid}/thresholds")


def scheme_files(s, action, nr_min, nr_max, age_min, nid, quota, cgroup):
    """The files of scheme s a tenant scheme changes from the fixture's defaults."""
    p = f"{S}{s}/"
    files = {
        p + "action": action, p + "access_pattern/age/max": "4294967295",
        p + "access_pattern/sz/max": "9223372036854775807", p + "target_nid": nid, p + "quotas/bytes": quota,
        p + "quotas/reset_interval_ms": "1000", p + "filters/nr_filters": "1", p + "filters/0/type": "memcg",
        p + "filters/0/memcg_path": cgroup,
    }
    if nr_max != "0":
        files[p + "access_pattern/nr_accesses/max"] = nr_max
    if nr_min != "0":
        files[p + "access_pattern/nr_accesses/min"] = nr_min
    if age_min != "0":
        files[p + "access_pattern/age/min"] = age_min
    return {k: v + "\n" for k, v in files.items()}


def allocated_quotas(d, ids):
    """Waits for the scheduler's allocation of promotion bandwidth to cover ids (the pass follows the
    event at once, but after the reply); checks it against the allocator's rule for two tenants of
    different classes and returns the DAMON quotas, as the files hold them."""
    rows = {}

    def covered():
        res = d.ok("GET", "/v1/allocations")["resources"]
        rows.clear()
        rows.update({t["id"]: t for r in res if r["name"] == "promotion_bandwidth" for t in r["tenants"]})
        return all(i in rows for i in ids)

    wait_for(covered, 5, "allocations of every tenant")
    a, b = rows[ids[0]], rows[ids[1]]
    check(a["demand"] > 0, "the first tenant's thresholds call for promotions")
    check_eq(a["allocation"], min(a["demand"], 16000000000), "the higher class is served first")
    check_eq(b["allocation"], min(b["demand"], 16000000000 - a["allocation"]), "the lower class gets what is left")
    return [str(max(4096, t["allocation"])) for t in (a, b)]


def test_damon():
    with FixtureRoot("tier-free") as root:
        with Daemon(config=config("auto", "static"), root=root.path) as d:
            tiering = d.ok("GET", "/v1/status")["tiering"]
            check_eq(tiering, {"requested": "auto", "backend": "damon", "unavailable": None, "kdamond": 0,
                               "tenants": 0, "apply_error": None,
                               "training": {"jobs": 0, "dropped": 0, "updates": 0, "queued": 0, "busy_ms": 0},
                               "anchors": {"entries": 0, "buckets": 0, "dropped": 0, "decisions": 0, "served": 0,
                                           "share": 0}},
                     "status before any tenant")
            check_eq(root.differences(), {}, "nothing written before a tenant takes part")
            a = enrol(d, "a", "/maio/a", priority=0)
            b = enrol(d, "b", "/maio/b", priority=6)
            check_eq((a["backend"], a["applied"], b["applied"]), ("damon", True, True), "applied")
            want = {
                KD + "nr_kdamonds": "1\n", KD + "0/state": "commit\n",  # b's schemes went online
                KD + "0/contexts/nr_contexts": "1\n", KD + "0/contexts/0/operations": "paddr\n",
                KD + "0/contexts/0/targets/nr_targets": "1\n", KD + "0/contexts/0/schemes/nr_schemes": "5\n",
                S + "0/access_pattern/nr_accesses/max": "20\n", S + "0/access_pattern/age/max": "4294967295\n",
                S + "0/access_pattern/sz/max": "9223372036854775807\n",
            }
            # static = TPP's 1 access/s (nr_accesses >= 1), no burst. The 16 GB/s budget is the scheduler's
            # to share: priority 0 (class 0-1) is served before priority 6 (class 6-7), each up to its
            # demand; a share of 0 is DAMON's smallest quota, 4096 bytes.
            quota = allocated_quotas(d, [a["tenant_id"], b["tenant_id"]])
            want.update(scheme_files(1, "migrate_hot", "1", "20", "0", "0", quota[0], "/maio/a"))
            want.update(scheme_files(2, "migrate_cold", "0", "0", "50", "1", quota[0], "/maio/a"))
            want.update(scheme_files(3, "migrate_hot", "1", "20", "0", "0", quota[1], "/maio/b"))
            want.update(scheme_files(4, "migrate_cold", "0", "0", "50", "1", quota[1], "/maio/b"))
            got = root.differences()
            for k in sorted(set(got) | set(want)):
                check_eq(got.get(k), want.get(k), k)
            knobs = {k["name"]: k for k in d.ok("GET", "/v1/knobs")["knobs"]}
            check_eq((knobs["damon.nr_kdamonds"]["state"], knobs["damon.nr_kdamonds"]["original"],
                      knobs["damon.0.scheme.1.action"]["scope"], knobs["damon.0.scheme.1.filter_memcg_path"]["type"]),
                     ("applied", "0", "damon", "string"), "the journal holds the DAMON files")
            check_eq(knobs["damon.0.state"]["changed_by"], "tiering", "written by tiering")
            check_eq(d.ok("GET", "/v1/status")["conflicts"], [], "maiod's kdamond is no conflict")
            # Removing a tenant takes its schemes away at the next apply (here: the next enrolment).
            d.ok("DELETE", f"/v1/tenants/{b['tenant_id']}", want=204)
            enrol(d, "c", "/maio/b", priority=6)
            check_eq(root.read(S + "3/filters/0/memcg_path"), "/maio/b\n", "c took b's place")
        check_eq(root.differences(), {}, "a clean stop takes maiod's kdamond down")


def test_foreign_kdamond():
    with FixtureRoot("tier-foreign") as root:
        with Daemon(config=config("auto", "heuristic"), root=root.path) as d:
            st = d.ok("GET", "/v1/status")
            check_eq((st["tiering"]["backend"], st["tiering"]["unavailable"], st["tiering"]["kdamond"]),
                     ("numa-balancing", UNAVAILABLE, None), "fallback")
            check(any(c["kind"] == "damon" for c in st["conflicts"]), "the foreign kdamond is a conflict")
            check(UNAVAILABLE in d.log(), "logged")
            a = enrol(d, "a", "/maio/a", priority=2)
            b = enrol(d, "b", "/maio/b", priority=5)
            check_eq((a["backend"], a["applied"], b["applied"]), ("numa-balancing", True, False),
                     "host-wide knobs follow the tenant of highest priority")
            hot_ms = round(1000 / a["access_rate"])
            check_eq(root.differences(), {
                "proc/sys/kernel/numa_balancing": "3\n",  # normal balancing (1) kept, tiering (2) added
                "sys/kernel/debug/sched/numa_balancing/hot_threshold_ms": f"{hot_ms}\n",
                "proc/sys/kernel/numa_balancing_promote_rate_limit_MBps": "15258\n",
            }, "NUMA-balancing writes, never the foreign kdamond's files")
        check_eq(root.differences(), {}, "a clean stop restores the knobs")
        # Asking for DAMON explicitly falls back the same way.
        with Daemon(config=config("damon"), root=root.path) as d:
            check_eq((d.ok("GET", "/v1/status")["tiering"]["backend"], d.ok("GET", "/v1/status")["tiering"]["unavailable"]),
                     ("numa-balancing", UNAVAILABLE), "backend = damon falls back")
        check_eq(root.differences(), {}, "nothing left behind")


def test_off_and_unavailable():
    with FixtureRoot("tier-free") as root:
        with Daemon(config=config("off"), root=root.path) as d:
            th = enrol(d, "a", "/maio/a")
            check_eq((th["backend"], th["applied"], th["episode"]), ("off", False, 1), "thresholds served, not applied")
            check_eq(root.differences(), {}, "backend off writes nothing")
        os.remove(os.path.join(root.path, "proc/sys/kernel/numa_balancing_promote_rate_limit_MBps"))
        with Daemon(config=config("numa-balancing"), root=root.path) as d:
            st = d.ok("GET", "/v1/status")["tiering"]
            check_eq((st["backend"], st["unavailable"]),
                     ("off", "tiering backend unavailable: no NUMA-balancing tiering mode"), "no tiering mode")
            check_eq(enrol(d, "a", "/maio/a")["applied"], False, "not applied")
        check_eq(root.differences(), {"proc/sys/kernel/numa_balancing_promote_rate_limit_MBps": None},
                 "nothing written")


def test_kdamond_kept_and_reused():
    with FixtureRoot("tier-free") as root:
        d = Daemon(config=config(extra="[knobs]\nrestore_on_exit = no\n"), root=root.path)
        with d:
            enrol(d, "a", "/maio/a")
            d.stop()
            check_eq(root.read(KD + "nr_kdamonds"), "1\n", "kept across the stop")
            check(root.read(KD + "0/state") != "off\n", "still running")
            # The next maiod on the same state finds its own kdamond: not foreign, reused
            # without touching nr_kdamonds.
            d.write_config(config())
            d.start()
            st = d.ok("GET", "/v1/status")
            check_eq((st["tiering"]["backend"], st["tiering"]["kdamond"], st["tiering"]["unavailable"]),
                     ("damon", 0, None), "own kdamond reused")
            check_eq(st["conflicts"], [], "own kdamond is no conflict")
            check_eq(d.ok("GET", "/v1/tenants/1/thresholds")["applied"], True, "applied")
        check_eq(root.differences(), {}, "restored by a stop with restore_on_exit")


def test_sigkill():
    with FixtureRoot("tier-free") as root:
        d = Daemon(config=config(), root=root.path)
        with d:
            enrol(d, "a", "/maio/a")
            check(root.differences(), "written")
            d.kill()
            d.start()
            # The reconcile restored the journal, then tiering applied the tenant's thresholds again.
            check("did not stop cleanly" in d.log(), "reconciled")
            check_eq(root.read(S + "1/action"), "migrate_hot\n", "re-applied after the restart")
        check_eq(root.differences(), {}, "a clean stop after the crash leaves the fixture as it was")


def test_last_tenant_leaves():
    # The telemetry timer notices removed tenants; without tenants the backend gives everything back.
    fast = config(extra="").replace("interval_sec = 3600", "interval_sec = 1")
    with FixtureRoot("tier-free") as root, Daemon(config=fast, root=root.path) as d:
        a = enrol(d, "a", "/maio/a")
        check(root.differences(), "DAMON schemes written")
        d.ok("DELETE", f"/v1/tenants/{a['tenant_id']}", want=204)
        wait_for(lambda: root.differences() == {}, 10, "maiod's kdamond taken down after the last tenant left")
        check_eq(d.ok("GET", "/v1/status")["tiering"]["tenants"], 0, "no tenant")
        # The next tenant makes it again.
        enrol(d, "b", "/maio/b")
        check_eq(root.read(S + "1/filters/0/memcg_path"), "/maio/b\n", "kdamond made again")
    with FixtureRoot("tier-foreign") as root:
        # Without debugfs the hot threshold cannot be set; the rest is applied anyway.
        os.remove(os.path.join(root.path, "sys/kernel/debug/sched/numa_balancing/hot_threshold_ms"))
        with Daemon(config=fast, root=root.path) as d:
            a = enrol(d, "a", "/maio/a")
            check_eq(a["applied"], True, "applied without debugfs")
            check_eq(root.read("proc/sys/kernel/numa_balancing"), "3\n", "tiering mode")
            check_eq(root.read("proc/sys/kernel/numa_balancing_promote_rate_limit_MBps"), "15258\n", "rate limit")
            d.ok("DELETE", f"/v1/tenants/{a['tenant_id']}", want=204)
            wait_for(lambda: set(root.differences()) == {"sys/kernel/debug/sched/numa_balancing/hot_threshold_ms"},
                     10, "the NUMA-balancing knobs restored after the last tenant left")


if __name__ == "__main__":
    main([test_damon, test_foreign_kdamond, test_off_and_unavailable, test_kdamond_kept_and_reused, test_sigkill,
          test_last_tenant_leaves])
