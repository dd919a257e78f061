#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Tenant isolation by peer credentials: clients really run as other uids
# (forked, setresuid) on the unix socket; admin by uid 0 or [api] admin_group
# (it-isolation-live-adm-group: that case needs a group named adm).

import grp
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from maiotest import Daemon, NOBODY, Skip, check, check_eq, check_error_body, main, needs, transports

OTHER = 65533  # a second unprivileged uid, no passwd entry needed


def err(d, method, path, body=None, status=404, code="not-found", **kw):
    st, _, data = d.request(method, path, body, **kw)
    check_eq(st, status, f"{method} {path} as uid {kw.get('as_uid')} (reply {data!r})")
    check_error_body(data, code, f"{method} {path}")


def spawn_sleep_as(uid):
    # exec as the uid keeps the process dumpable, so /proc/PID belongs to uid
    return subprocess.Popen(["sleep", "30"], user=uid, group=uid, extra_groups=[], stdin=subprocess.DEVNULL)


@transports
def test_uid_isolation():
    mine = spawn_sleep_as(NOBODY)
    try:
        with Daemon() as d:
            a = d.ok("POST", "/v1/tenants", {"name": "a"}, want=201)
            pa = f"/v1/tenants/{a['id']}"

            for method, path, body in (("GET", pa, None), ("PATCH", pa, {"priority": 1}), ("DELETE", pa, None),
                                       ("GET", pa + "/events", None)):
                err(d, method, path, body, as_uid=NOBODY)
            # Existence is not revealed: the same answer as for an id never used.
            st, _, unknown = d.request("GET", "/v1/tenants/999", as_uid=NOBODY)
            st2, _, hidden = d.request("GET", pa, as_uid=NOBODY)
            check_eq((st2, hidden["error"]["code"]), (st, unknown["error"]["code"]), "hidden vs unknown tenant")
            check_eq(d.ok("GET", "/v1/tenants", as_uid=NOBODY), {"tenants": []}, "nobody's list before B")
            err(d, "GET", "/v1/events", status=403, code="forbidden", as_uid=NOBODY)
            check_eq(d.ok("GET", pa), {k: v for k, v in a.items() if k != "token"}, "A untouched by nobody")

            b = d.ok("POST", "/v1/tenants", {"name": "b"}, want=201, as_uid=NOBODY)
            check_eq(b["uid"], NOBODY, "uid of nobody's tenant")
            pb = f"/v1/tenants/{b['id']}"
            check_eq([t["id"] for t in d.ok("GET", "/v1/tenants", as_uid=NOBODY)["tenants"]], [b["id"]],
                     "nobody's list")
            check_eq(d.ok("PATCH", pb, {"priority": 5}, as_uid=NOBODY)["priority"], 5, "nobody patches B")
            check_eq([e["kind"] for e in d.ok("GET", pb + "/events", as_uid=NOBODY)["events"]],
                     ["tenant-updated", "tenant-added"], "nobody reads B's events")

            # Another unprivileged uid sees neither.
            check_eq(d.ok("GET", "/v1/tenants", as_uid=OTHER), {"tenants": []}, "list of a third uid")
            err(d, "GET", pb, as_uid=OTHER)
            err(d, "DELETE", pb, as_uid=OTHER)

            # Root is admin: sees and manages everyone's tenants.
            check_eq(sorted(t["id"] for t in d.ok("GET", "/v1/tenants")["tenants"]), sorted([a["id"], b["id"]]),
                     "root's list")
            check_eq(d.ok("GET", pb)["uid"], NOBODY, "root reads B")
            kinds = [(e["tenant_id"], e["kind"]) for e in d.ok("GET", "/v1/events")["events"]]
            check((b["id"], "tenant-added") in kinds and (a["id"], "tenant-added") in kinds, f"events: {kinds}")

            # Registering someone else's process is refused; one's own is fine.
            for pid in (1, os.getpid()):
                err(d, "POST", "/v1/tenants", {"name": "c", "pid": pid}, status=403, code="forbidden",
                    as_uid=NOBODY)
            c = d.ok("POST", "/v1/tenants", {"name": "c", "pid": mine.pid}, want=201, as_uid=NOBODY)
            check_eq((c["uid"], c["pid"], c["pid_alive"]), (NOBODY, mine.pid, True), "tenant with nobody's pid")
            # Root may name any process.
            check_eq(d.ok("POST", "/v1/tenants", {"name": "d", "pid": mine.pid}, want=201)["uid"], 0, "root's d")

            d.ok("DELETE", pb, as_uid=NOBODY, want=204)
            err(d, "GET", pb)
            check_eq(d.ok("GET", pa)["name"], "a", "A after nobody's session")
    finally:
        mine.kill()
        mine.wait(5)


@needs("adm-group", "a group named adm in the group database")
def test_admin_group():
    try:
        adm = grp.getgrnam("adm").gr_gid
    except KeyError:
        raise Skip("no group 'adm' in the group database")
    with Daemon("[api]\nadmin_group = adm\n") as d:
        a = d.ok("POST", "/v1/tenants", {"name": "a"}, want=201)
        b = d.ok("POST", "/v1/tenants", {"name": "b"}, want=201, as_uid=OTHER)

        # Without the group nobody is an ordinary tenant ...
        err(d, "GET", "/v1/events", status=403, code="forbidden", as_uid=NOBODY)
        check_eq(d.ok("GET", "/v1/tenants", as_uid=NOBODY), {"tenants": []}, "list without the admin group")
        # ... with it (as a supplementary group) an administrator.
        evs = d.ok("GET", "/v1/events", as_uid=NOBODY, groups=[adm])["events"]
        check_eq(sorted(e["tenant_id"] for e in evs), sorted([a["id"], b["id"]]), "events seen by the admin group")
        listed = d.ok("GET", "/v1/tenants", as_uid=NOBODY, groups=[adm])["tenants"]
        check_eq(sorted(t["id"] for t in listed), sorted([a["id"], b["id"]]), "list seen by the admin group")
        check_eq(d.ok("PATCH", f"/v1/tenants/{a['id']}", {"priority": 3}, as_uid=NOBODY, groups=[adm])["priority"],
                 3, "admin-group PATCH of root's tenant")
        # Another group does not count.
        err(d, "GET", "/v1/events", status=403, code="forbidden", as_uid=NOBODY, groups=[adm + 1000])

    # Without admin_group configured the group grants nothing.
    with Daemon() as d:
        err(d, "GET", "/v1/events", status=403, code="forbidden", as_uid=NOBODY, groups=[adm])


if __name__ == "__main__":
    main([test_uid_isolation, test_admin_group])
