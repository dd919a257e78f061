#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Admission limits for non-admin callers (issue 12 item 5), exercised as uid nobody on the unix
# socket: tenants per uid, highest priority (POST and PATCH), cgroup delegation by ownership, group
# overrides (most permissive wins), admins unaffected, and a reload that lowers a limit.

import grp
import os
import shutil
import signal
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from maiotest import Daemon, NOBODY, check, check_eq, check_error_body, main, wait_for


def forbidden(d, method, path, body, want_in, **kw):
    """Asserts a 403 whose message names the limit (want_in)."""
    st, _, data = d.request(method, path, body, **kw)
    check_eq(st, 403, f"{method} {path} {body} as {kw.get('as_uid')} (reply {data!r})")
    check_error_body(data, "forbidden", f"{method} {path}")
    check(want_in in data["error"]["message"], f"message names {want_in!r}: {data['error']['message']!r}")


def add(d, name, want=201, **kw):
    return d.ok("POST", "/v1/tenants", {"name": name, **kw.pop("body", {})}, want=want, **kw)


def cgroup_root():
    """A root with a v2 cgroup tree: /mine delegated to nobody (directory and cgroup.procs),
    /procs-only delegated through cgroup.procs alone, /theirs root's."""
    root = tempfile.mkdtemp(prefix="maio-it-admission-")
    cg = os.path.join(root, "sys/fs/cgroup")
    for name in ("mine", "procs-only", "theirs"):
        os.makedirs(os.path.join(cg, name))
        with open(os.path.join(cg, name, "cgroup.procs"), "w"):
            pass
    with open(os.path.join(cg, "cgroup.controllers"), "w") as f:
        f.write("cpu memory\n")
    os.chown(os.path.join(cg, "mine"), NOBODY, NOBODY)
    os.chown(os.path.join(cg, "mine", "cgroup.procs"), NOBODY, NOBODY)
    os.chown(os.path.join(cg, "procs-only", "cgroup.procs"), NOBODY, NOBODY)
    return root


def test_count_and_priority():
    with Daemon("[tenants]\nmax_tenants_per_uid = 3\n") as d:
        status = d.ok("GET", "/v1/status", as_uid=NOBODY)["admission"]
        check_eq({k: status[k] for k in ("max_tenants_per_uid", "highest_priority", "groups")},
                 {"max_tenants_per_uid": 3, "highest_priority": 4, "groups": []}, "limits in status")

        # Priority: 4 is the highest a non-admin may take by default.
        forbidden(d, "POST", "/v1/tenants", {"name": "p0", "priority": 0}, "highest_priority", as_uid=NOBODY)
        forbidden(d, "POST", "/v1/tenants", {"name": "p3", "priority": 3}, "highest_priority", as_uid=NOBODY)
        t = add(d, "p4", body={"priority": 4}, as_uid=NOBODY)
        check_eq(t["priority"], 4, "priority 4 allowed")
        path = f"/v1/tenants/{t['id']}"
        forbidden(d, "PATCH", path, {"priority": 2}, "highest_priority", as_uid=NOBODY)
        check_eq(d.ok("PATCH", path, {"priority": 6}, as_uid=NOBODY)["priority"], 6, "lowering allowed")
        check_eq(d.ok("GET", path)["priority"], 6, "priority after the rejected PATCH")

        # Count: 3 per uid; the failed registrations above did not count.
        add(d, "n2", as_uid=NOBODY)
        add(d, "n3", as_uid=NOBODY)
        forbidden(d, "POST", "/v1/tenants", {"name": "n4"}, "max_tenants_per_uid", as_uid=NOBODY)
        # Another uid has its own count.
        add(d, "other", as_uid=NOBODY - 1)

        # Admins are not limited: any priority, any count, also PATCH of nobody's tenant.
        for i in range(5):
            add(d, f"admin{i}", body={"priority": 0})
        check_eq(d.ok("PATCH", path, {"priority": 0})["priority"], 0, "admin sets priority 0")
        # nobody keeps an admin-given priority on an unrelated PATCH, and may not move it to 1.
        check_eq(d.ok("PATCH", path, {"name": "renamed"}, as_uid=NOBODY)["priority"], 0, "kept priority")
        forbidden(d, "PATCH", path, {"priority": 1}, "highest_priority", as_uid=NOBODY)

        # Deleting one frees a slot.
        d.ok("DELETE", path, want=204, as_uid=NOBODY)
        add(d, "n4", as_uid=NOBODY)


def test_cgroup_ownership():
    root = cgroup_root()
    try:
        with Daemon(root=root) as d:
            check_eq(d.ok("GET", "/v1/status")["admission"]["cgroup_hierarchy"], "v2", "hierarchy of the root")
            forbidden(d, "POST", "/v1/tenants", {"name": "x", "cgroup": "/theirs"}, "cgroup ownership",
                      as_uid=NOBODY)
            check_eq(add(d, "mine", body={"cgroup": "/mine"}, as_uid=NOBODY)["cgroup"], "/mine", "owned cgroup")
            check_eq(add(d, "procs", body={"cgroup": "/procs-only"}, as_uid=NOBODY)["cgroup"], "/procs-only",
                     "cgroup delegated through cgroup.procs")
            # A nonexistent cgroup is still 400, not 403.
            d.check_error("POST", "/v1/tenants", {"name": "y", "cgroup": "/nothing"}, 400, "invalid-value",
                          as_uid=NOBODY)
            # The admin may name any cgroup.
            check_eq(add(d, "theirs", body={"cgroup": "/theirs"})["cgroup"], "/theirs", "admin names root's cgroup")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    # The hierarchy the host offers: hybrid and none.
    root = tempfile.mkdtemp(prefix="maio-it-admission-")
    try:
        os.makedirs(os.path.join(root, "sys/fs/cgroup/unified"))
        os.makedirs(os.path.join(root, "sys/fs/cgroup/memory"))
        with open(os.path.join(root, "sys/fs/cgroup/unified/cgroup.controllers"), "w"):
            pass
        with Daemon(root=root) as d:
            check_eq(d.ok("GET", "/v1/status")["admission"]["cgroup_hierarchy"], "hybrid", "hybrid host")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_group_overrides():
    try:
        users = grp.getgrnam("users").gr_gid
        adm = grp.getgrnam("adm").gr_gid
    except KeyError as e:
        from maiotest import Skip
        raise Skip(f"needs groups 'users' and 'adm' in the group database: {e}")
    conf = ("[tenants]\nmax_tenants_per_uid = 1\n"
            "[tenants.group.users]\nmax_tenants_per_uid = 3\nhighest_priority = 6\n"
            "[tenants.group.adm]\nhighest_priority = 1\n")
    with Daemon(conf) as d:
        groups = {g["group"]: g for g in d.ok("GET", "/v1/status")["admission"]["groups"]}
        check_eq({n: (g["max_tenants_per_uid"], g["highest_priority"]) for n, g in groups.items()},
                 {"users": (3, 6), "adm": (1, 1)}, "group limits in status (adm inherits the count)")
        # users alone: 3 tenants, but priority 6 at best.
        forbidden(d, "POST", "/v1/tenants", {"name": "u", "priority": 5}, "[tenants.group.users]", as_uid=NOBODY,
                  groups=[users])
        # users and adm: the most permissive of each limit (count 3 from users, priority 1 from adm).
        add(d, "a", body={"priority": 1}, as_uid=NOBODY, groups=[users, adm])
        add(d, "b", body={"priority": 6}, as_uid=NOBODY, groups=[users])
        add(d, "c", body={"priority": 7}, as_uid=NOBODY, groups=[users, adm])
        forbidden(d, "POST", "/v1/tenants", {"name": "e"}, "max_tenants_per_uid = 3", as_uid=NOBODY,
                  groups=[users, adm])
        # Without the groups [tenants] applies: one tenant, and nobody holds three already.
        forbidden(d, "POST", "/v1/tenants", {"name": "f"}, "max_tenants_per_uid = 1 in [tenants]", as_uid=NOBODY)


def test_reload_lowers_limit():
    with Daemon("[tenants]\nmax_tenants_per_uid = 4\nhighest_priority = 2\n") as d:
        ids = [add(d, f"t{i}", body={"priority": 2 + i}, as_uid=NOBODY)["id"] for i in range(4)]
        d.write_config("[tenants]\nmax_tenants_per_uid = 2\nhighest_priority = 4\n")
        d.signal(signal.SIGHUP)
        wait_for(lambda: d.ok("GET", "/v1/status")["admission"]["max_tenants_per_uid"] == 2, 5, "reload")
        # Everything is kept ...
        mine = d.ok("GET", "/v1/tenants", as_uid=NOBODY)["tenants"]
        check_eq(sorted(t["id"] for t in mine), sorted(ids), "tenants kept after the reload")
        # ... the owner cannot add more ...
        forbidden(d, "POST", "/v1/tenants", {"name": "more"}, "max_tenants_per_uid = 2", as_uid=NOBODY)
        # ... and events say so: one for the count, one per tenant above the priority limit (2 and 3).
        evs = [e for e in d.ok("GET", "/v1/events")["events"] if e["kind"] == "admission-over-limit"]
        check_eq(len([e for e in evs if e["tenant_id"] is None and f"uid {NOBODY} holds 4" in e["message"]]), 1,
                 f"count event in {evs!r}")
        check_eq(sorted(e["tenant_id"] for e in evs if e["tenant_id"] is not None), sorted(ids[:2]),
                 "priority events")
        # Another reload with the same limits reports nothing again.
        d.signal(signal.SIGHUP)
        wait_for(lambda: d.log().count("Configuration reloaded") >= 2, 5, "second reload")
        again = [e for e in d.ok("GET", "/v1/events")["events"] if e["kind"] == "admission-over-limit"]
        check_eq(len(again), len(evs), "no repeated events for unchanged limits")
        # A kept priority may stay on PATCH, not be raised.
        check_eq(d.ok("PATCH", f"/v1/tenants/{ids[0]}", {"name": "r"}, as_uid=NOBODY)["priority"], 2, "kept")
        forbidden(d, "PATCH", f"/v1/tenants/{ids[1]}", {"priority": 2}, "highest_priority", as_uid=NOBODY)
        # Below the limit again, registering works.
        for i in ids[:3]:
            d.ok("DELETE", f"/v1/tenants/{i}", want=204, as_uid=NOBODY)
        add(d, "again", as_uid=NOBODY)
        check("admission-over-limit" in d.log() or "holds 4 tenants" in d.log(), "logged")


if __name__ == "__main__":
    main([test_count_and_priority, test_cgroup_ownership, test_group_overrides, test_reload_lowers_limit])
