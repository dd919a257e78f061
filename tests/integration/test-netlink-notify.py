#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Netlink notifications of a real maiod (api/netlink.md "Notifications"): subscriptions to one
# tenant or to all the caller's, the events (thresholds-changed, tenant-exited, tenant-removed),
# isolation between uids, the binding to the subscriber's process and port id, lost counts of a
# subscriber that does not read, unsubscribing, status and metrics, bad input and limits.

import errno
import json
import os
import random
import select
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from maiotest import (MAIO_ATTR_ID, MAIO_ATTR_NAME, MAIO_CMD_NOTIFICATION, NL_PORT_MIN, NOBODY, Daemon, NlClient,
                      as_user, check, check_eq, main, nl_attr, nl_message, wait_for)

# Field ids of the ops table (daemon/tenants/tenants.c, daemon/tier/tierd-ops.c).
CREATE_NAME, CREATE_CLASS, CREATE_PID = 1, 3, 4
FEEDBACK_EPISODE, FEEDBACK_TIME = 1, 2
MAIO_CMD_NOTIFY_SUBSCRIBE = 27


def check_error(r, err, text, what):
    check_eq(r.error, -err, f"{what}: errno")
    check(r.message and text in r.message, f"{what}: extended-ACK message {r.message!r} should say {text!r}")


def register(nl, name, pid=None):
    attrs = [(CREATE_NAME, name), (CREATE_CLASS, "batch")] + ([(CREATE_PID, pid)] if pid else [])
    r = nl.call("tenants.create", attrs)
    check_eq((r.error, r.status), (None, 201), f"register {name} ({r.message})")
    return r.json["id"]


def subscribe(nl, tenant=None):
    r = nl.call("notify.subscribe", [(MAIO_ATTR_ID, tenant)] if tenant else [])
    check_eq((r.error, r.status), (None, 200), f"subscribe to {tenant or 'all'} ({r.message})")
    return r.json


def feedback(nl, tenant):
    """One episode of tenant: its thresholds, then feedback. Returns the feedback reply."""
    th = nl.call("tiering.thresholds", [(MAIO_ATTR_ID, tenant)])
    check_eq(th.status, 200, f"thresholds of {tenant} ({th.message})")
    fb = nl.call("tiering.feedback", [(MAIO_ATTR_ID, tenant), (FEEDBACK_EPISODE, th.json["episode"]),
                                      (FEEDBACK_TIME, 2.0 + random.random())])
    check_eq(fb.status, 202, f"feedback of {tenant} ({fb.message})")
    return fb.json


def expect(sub, event, tenant, what, timeout=5):
    n = sub.recv_notification(timeout)
    check(n is not None, f"{what}: no notification within {timeout} s")
    check_eq((n.event, n.id, n.lost, n.json["tenant"]), (event, tenant, None, tenant), f"{what}: kind, tenant, lost")
    check_eq(n.header[2:], (0, 0, n.header[4]), f"{what}: flags 0, sequence number 0")
    return n


def expect_none(sub, what, timeout=0.3):
    n = sub.recv_notification(timeout)
    check(n is None, f"{what}: unexpected {n}")


def notifications_status(d):
    return d.ok("GET", "/v1/status")["listeners"]["netlink_notifications"]


def test_thresholds_changed():
    with Daemon() as d:
        nl, sub = NlClient(d.netlink_port), NlClient(d.netlink_port)
        t, other = register(nl, "web"), register(nl, "other")
        r = subscribe(sub, t)
        check_eq((r["port"], r["pid"], r["all"], r["tenants"]), (sub.portid, os.getpid(), False, [t]),
                 "the subscribe reply names the port's subscriptions")
        fb = feedback(nl, t)
        n = expect(sub, "thresholds-changed", t, "feedback of the subscribed tenant")
        check_eq(n.header[4], d.netlink_port, "sent from maiod's port id")
        check_eq(n.json["thresholds"], fb["next"], "the notification carries the new thresholds")
        check_eq(n.json["thresholds"]["episode"], fb["episode"] + 1, "the thresholds of the next episode")
        feedback(nl, other)
        fb = feedback(nl, t)
        n = expect(sub, "thresholds-changed", t, "the other tenant's feedback is not sent")
        check_eq(n.json["thresholds"]["episode"], fb["episode"] + 1, "the next one is the subscribed tenant's")
        # A policy change publishes new thresholds too.
        r = nl.call("tiering.policy_set", [(MAIO_ATTR_ID, t), (1, "static")])
        check_eq(r.status, 200, f"policy change ({r.message})")
        expect(sub, "thresholds-changed", t, "policy change")
        expect_none(sub, "nothing else")
        nl.close()
        sub.close()


def test_tenant_exited_and_removed():
    with Daemon() as d:
        nl, sub = NlClient(d.netlink_port), NlClient(d.netlink_port)
        r = subscribe(sub)
        check_eq((r["all"], r["tenants"]), (True, []), "subscribed to all tenants")
        child = subprocess.Popen(["sleep", "60"])
        try:
            t = register(nl, "proc", pid=child.pid)
        finally:
            child.kill()
            child.wait()
        n = expect(sub, "tenant-exited", t, "the registering process exited")
        check_eq(n.json["pid"], child.pid, "tenant-exited names the pid")
        r = nl.call("tenants.delete", [(MAIO_ATTR_ID, t)])
        check_eq(r.status, 204, "delete")
        n = expect(sub, "tenant-removed", t, "delete")
        check("removed" in n.json["message"], f"tenant-removed says why: {n.json}")
        # A subscription to one tenant ends with its tenant-removed.
        one = NlClient(d.netlink_port)
        t2 = register(nl, "short")
        subscribe(one, t2)
        check_eq(notifications_status(d)["subscriptions"], 2, "two subscriptions")
        d.ok("DELETE", f"/v1/tenants/{t2}", want=204)
        expect(one, "tenant-removed", t2, "delete over REST")
        expect(sub, "tenant-removed", t2, "the all-tenants subscriber too")
        check_eq(notifications_status(d)["subscriptions"], 1, "the one-tenant subscription ended")
        for c in (nl, sub, one):
            c.close()
    with Daemon(config="[tenants]\non_pid_exit = remove\n") as d:
        nl, sub = NlClient(d.netlink_port), NlClient(d.netlink_port)
        child = subprocess.Popen(["sleep", "60"])
        try:
            t = register(nl, "proc", pid=child.pid)
            subscribe(sub, t)
        finally:
            child.kill()
            child.wait()
        expect(sub, "tenant-exited", t, "on_pid_exit = remove: the exit")
        expect(sub, "tenant-removed", t, "on_pid_exit = remove: then the removal")
        nl.close()
        sub.close()


def spawn_as(uid, fn):
    """Runs fn(ready) in a child as uid (gid uid, no groups); fn calls ready() once set up. Returns
    (pid, a function that waits for ready, a function that returns fn's JSON result)."""
    ready_r, ready_w = os.pipe()
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(ready_r)
            os.close(res_r)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            try:
                out = {"result": fn(lambda: os.write(ready_w, b"."))}
            except BaseException as e:
                out = {"error": f"{type(e).__name__}: {e}"}
            with os.fdopen(res_w, "w") as f:
                json.dump(out, f)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(res_w)

    def wait_ready():
        ok, _, _ = select.select([ready_r], [], [], 10)
        check(ok and os.read(ready_r, 1) == b".", "the child got ready")

    def result():
        ok, _, _ = select.select([res_r], [], [], 20)
        if not ok:
            os.kill(pid, signal.SIGKILL)
        data = os.read(res_r, 1 << 20) if ok else b""
        os.waitpid(pid, 0)
        out = json.loads(data or b'{"error": "no result"}')
        if "error" in out:
            raise AssertionError(f"child as uid {uid}: {out['error']}")
        return out["result"]

    return pid, wait_ready, result


def test_isolation():
    with Daemon() as d:
        nl, admin = NlClient(d.netlink_port), NlClient(d.netlink_port)
        a = register(nl, "roots")
        subscribe(admin)

        def as_nobody(ready):
            c = NlClient(d.netlink_port)
            b = register(c, "nobodys")
            r = c.call("notify.subscribe", [(MAIO_ATTR_ID, a)])
            denied = (r.error, r.message)
            subscribe(c)
            feedback(c, b)  # its own tenant's thresholds: it hears of them
            ready()  # the parent acts now
            got = []
            while True:
                n = c.recv_notification(10)
                if n is None:
                    break
                got.append([n.event, n.id])
                if n.event == "tenant-removed":
                    break
            return {"b": b, "denied": denied, "got": got}

        pid, wait_ready, result = spawn_as(NOBODY, as_nobody)
        wait_ready()
        feedback(nl, a)  # root's tenant: nobody must not hear of it
        b = [x for x in d.ok("GET", "/v1/tenants")["tenants"] if x["name"] == "nobodys"][0]["id"]
        d.ok("DELETE", f"/v1/tenants/{b}", want=204)
        out = result()
        check_eq(out["denied"][0], -errno.ENOENT, "nobody cannot subscribe to root's tenant")
        check("not-found:" in out["denied"][1], f"as over REST: {out['denied'][1]}")
        check_eq(out["got"], [["thresholds-changed", b], ["tenant-removed", b]], "nobody hears of its own tenant only")
        expect(admin, "thresholds-changed", b, "an administrator's all-tenants subscription sees nobody's tenant")
        expect(admin, "thresholds-changed", a, "and root's")
        expect(admin, "tenant-removed", b, "and the removal of nobody's")
        nl.close()
        admin.close()


def test_process_binding():
    """A subscriber process exits; a new process that binds the same port id receives nothing."""
    with Daemon() as d:
        nl, control = NlClient(d.netlink_port), NlClient(d.netlink_port)
        t = register(nl, "web")
        subscribe(control, t)
        port = random.randrange(NL_PORT_MIN, 2**31)

        def subscriber(ready):
            c = NlClient(d.netlink_port, bind=port)
            subscribe(c, t)
            return c.portid

        pid, wait_ready, result = spawn_as(0, subscriber)
        check_eq(result(), port, "the subscriber bound the chosen port id")
        wait_for(lambda: notifications_status(d)["subscriptions"] == 1, 5, "the subscription ends with its process")
        check(all(s["port"] != port for s in notifications_status(d)["subscribers"]), "status no longer lists it")
        squatter = NlClient(d.netlink_port, bind=port)
        feedback(nl, t)
        expect(control, "thresholds-changed", t, "the event was sent")
        expect_none(squatter, "the new process on the old subscriber's port id")
        # The new process may subscribe on its own.
        subscribe(squatter, t)
        feedback(nl, t)
        expect(control, "thresholds-changed", t, "the event was sent")
        expect(squatter, "thresholds-changed", t, "its own subscription")
        # A subscriber that closes its socket but lives on: the next send finds no socket there
        # (ECONNREFUSED) and its subscription ends.
        gone = squatter.portid
        squatter.close()
        check(any(s["port"] == gone for s in notifications_status(d)["subscribers"]), "still listed")
        feedback(nl, t)
        expect(control, "thresholds-changed", t, "the event was sent")
        check(all(s["port"] != gone for s in notifications_status(d)["subscribers"]),
              "a subscriber whose socket is gone is dropped at the next send")
        check_eq(notifications_status(d)["lost"], 0, "that is no loss")
        for c in (nl, control):
            c.close()


def test_lost():
    """A subscriber that does not read loses notifications; the next one it reads says how many."""
    with Daemon() as d:
        nl = NlClient(d.netlink_port)
        sub = NlClient(d.netlink_port, rcvbuf=1)  # the kernel's minimum: a notification or two
        t = register(nl, "web")
        subscribe(sub, t)
        sent = 30
        for _ in range(sent):
            feedback(nl, t)
        got = []
        while True:
            n = sub.recv_notification(0.2)
            if n is None:
                break
            got.append(n)
        check(0 < len(got) < sent, f"some notifications were delivered, not all ({len(got)} of {sent})")
        check(all(n.lost is None for n in got), "those delivered before the drops carry no lost count")
        missed = sent - len(got)
        print(f"with the smallest receive buffer, {len(got)} of {sent} notifications were delivered")
        m = d.metrics()
        check_eq(m["maiod_netlink_notifications_lost_total"], missed, "every drop counted")
        feedback(nl, t)
        n = sub.recv_notification(5)
        check(n is not None and n.event == "thresholds-changed", f"the next notification arrives: {n}")
        check_eq(n.lost, missed, "MAIO_ATTR_LOST says how many were missed")
        feedback(nl, t)
        n = sub.recv_notification(5)
        check_eq((n.event, n.lost), ("thresholds-changed", None), "the lost count is said once")
        st = notifications_status(d)
        mine = [s for s in st["subscribers"] if s["port"] == sub.portid][0]
        check_eq((mine["sent"], mine["lost"]), (len(got) + 2, missed), "status counts per subscriber")
        check("notifications dropped" in d.log(), "the drops are logged")
        nl.close()
        sub.close()


def test_unsubscribe():
    with Daemon() as d:
        nl, sub, control = NlClient(d.netlink_port), NlClient(d.netlink_port), NlClient(d.netlink_port)
        t = register(nl, "web")
        subscribe(control, t)
        subscribe(sub, t)
        r = sub.call("notify.unsubscribe", [(MAIO_ATTR_ID, t)])
        check_eq((r.error, r.json["removed"]), (None, 1), f"unsubscribe ({r.message})")
        feedback(nl, t)
        expect(control, "thresholds-changed", t, "the event was sent")
        expect_none(sub, "after unsubscribing")
        check_error(sub.call("notify.unsubscribe", [(MAIO_ATTR_ID, t)]), errno.ENOENT, "not subscribed",
                    "unsubscribe twice")
        subscribe(sub, t)
        subscribe(sub, t)  # harmless
        r = subscribe(sub)
        check_eq((r["all"], r["tenants"]), (True, [t]), "one tenant and all")
        feedback(nl, t)
        expect(sub, "thresholds-changed", t, "once, though two subscriptions match")
        expect_none(sub, "no duplicate")
        r = sub.call("notify.unsubscribe")
        check_eq((r.error, r.json["removed"]), (None, 2), "unsubscribe from everything")
        check_eq(notifications_status(d)["subscriptions"], 1, "the control's remains")
        for c in (nl, sub, control):
            c.close()


def test_status_and_metrics():
    with Daemon() as d:
        nl, sub = NlClient(d.netlink_port), NlClient(d.netlink_port)
        t = register(nl, "web")
        subscribe(sub, t)
        subscribe(sub)
        feedback(nl, t)
        expect(sub, "thresholds-changed", t, "delivered")
        st = notifications_status(d)
        check_eq((st["subscriptions"], st["sent"], st["lost"]), (2, 1, 0), "status counters")
        check_eq(st["subscribers"], [{"port": sub.portid, "pid": os.getpid(), "uid": 0, "all": True, "tenants": [t],
                                      "sent": 1, "lost": 0}], "status lists the subscriber")
        m = d.metrics()
        check_eq((m["maiod_netlink_subscriptions"], m["maiod_netlink_notifications_sent_total"],
                  m["maiod_netlink_notifications_lost_total"]), (2, 1, 0), "metrics")

        def as_nobody():
            st = NlClient(d.netlink_port).call("status").json["listeners"]["netlink_notifications"]
            return [st["subscriptions"], st["subscribers"]]

        check_eq(as_user(NOBODY, NOBODY, [], as_nobody), [2, []], "another uid sees the counters, not root's subscribers")
        nl.close()
        sub.close()
    with Daemon(config="[api]\nnetlink_port = 0\n") as d:
        check_eq(notifications_status(d), None, "no notifications without the netlink API")


def test_bad_input_and_limits():
    with Daemon(config="[api]\nnetlink_subscriptions_per_uid = 2\n") as d:
        nl = NlClient(d.netlink_port)
        t1, t2, t3 = register(nl, "a"), register(nl, "b"), register(nl, "c")

        def raw(attrs, err, text, what, cmd=MAIO_CMD_NOTIFY_SUBSCRIBE):
            nl.seq += 1
            nl.send_raw(nl_message(cmd, attrs, seq=nl.seq))
            check_error(nl.recv_reply(nl.seq), err, text, what)

        raw(nl_attr(MAIO_ATTR_NAME, "x"), errno.EINVAL, "not one of notify.subscribe's", "unknown attribute")
        raw(nl_attr(1, 1), errno.EINVAL, "not one of notify.subscribe's", "a field attribute")
        raw(nl_attr(MAIO_ATTR_ID, 0), errno.EINVAL, "positive", "id 0")
        raw(nl_attr(MAIO_ATTR_ID, -3), errno.EINVAL, "positive", "negative id")
        raw(nl_attr(MAIO_ATTR_ID, b"\1\0\0\0"), errno.EINVAL, "8 bytes", "id of 4 bytes")
        raw(nl_attr(MAIO_ATTR_ID, t1) + nl_attr(MAIO_ATTR_ID, t2), errno.EINVAL, "twice", "id twice")
        raw(nl_attr(MAIO_ATTR_ID, t1 + 1000), errno.ENOENT, "not-found:", "no such tenant")
        raw(nl_attr(MAIO_ATTR_NAME, "x"), errno.EINVAL, "not one of notify.unsubscribe's", "unsubscribe: unknown",
            cmd=28)
        raw(b"", errno.EOPNOTSUPP, "sent by maiod", "a notification sent to maiod", cmd=MAIO_CMD_NOTIFICATION)
        check_eq(notifications_status(d)["subscriptions"], 0, "no bad request subscribed")
        subscribe(nl, t1)
        subscribe(nl, t2)
        r = nl.call("notify.subscribe", [(MAIO_ATTR_ID, t3)])
        check_error(r, errno.ENOSPC, "netlink_subscriptions_per_uid", "over the limit per uid")
        subscribe(nl, t1)  # one it has is no new one

        def as_nobody():
            c = NlClient(d.netlink_port)
            mine = c.call("tenants.create", [(CREATE_NAME, "n")]).json["id"]
            return c.call("notify.subscribe", [(MAIO_ATTR_ID, mine)]).status

        check_eq(as_user(NOBODY, NOBODY, [], as_nobody), 200, "the limit is per uid")
        check_eq(nl.call("health").json, {"status": "ok"}, "still serving")
        nl.close()
    with Daemon(config="[api]\nnetlink_subscriptions_max = 0\n") as d:
        nl = NlClient(d.netlink_port)
        check_error(nl.call("notify.subscribe"), errno.ENOSPC, "netlink_subscriptions_max", "the total limit")
        nl.close()


if __name__ == "__main__":
    main([test_thresholds_changed, test_tenant_exited_and_removed, test_isolation, test_process_binding, test_lost,
          test_unsubscribe, test_status_and_metrics, test_bad_input_and_limits])
