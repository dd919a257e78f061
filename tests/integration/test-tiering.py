#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Tiering through a real maiod on a temp copy of tests/fixtures/tier-free: the
# feedback loop end to end (thresholds, feedback, new thresholds per the policy,
# the DAMON scheme files following them, the reward history), the bad-feedback
# matrix (none of it reaches the model), other uids, model export and import
# with transfer to a new tenant, persistence across restarts, and maioctl.

import json
import math
import os
import sqlite3
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from maiotest import NOBODY, Daemon, FixtureRoot, as_user, check, check_eq, env, main, runnable_by_others, transports

SCHEME = "sys/kernel/mm/damon/admin/kdamonds/0/contexts/0/schemes/{}/{}"


class Root(FixtureRoot):
    """A temp copy of a tier fixture whose tenants' cgroups are delegated to nobody, who registers
    most tenants here (a non-admin may only name a cgroup it owns)."""

    def __enter__(self):
        super().__enter__()
        cgroups = os.path.join(self.path, "sys/fs/cgroup/maio")
        for name in os.listdir(cgroups) if os.path.isdir(cgroups) else ():
            os.chown(os.path.join(cgroups, name), NOBODY, NOBODY)
        return self


def config(policy="linucb", extra=""):
    return f"[tiering]\npolicy = {policy}\ninterval_sec = 3600\n{extra}"


def add_tenant(d, name, cgroup="/maio/a", as_uid=None, **extra):
    body = dict(name=name, **extra)
    if cgroup:
        body["cgroup"] = cgroup
    kw = {"as_uid": as_uid} if as_uid is not None else {}
    return d.ok("POST", "/v1/tenants", body, want=201, **kw)["id"]


def thresholds(d, tid, **kw):
    return d.ok("GET", f"/v1/tenants/{tid}/thresholds", **kw)


def feedback(d, tid, episode, seconds, **kw):
    return d.ok("POST", f"/v1/tenants/{tid}/feedback", {"episode": episode, "completion_time_s": seconds},
                want=202, **kw)


def settled_policy(d, tid, **kw):
    """GET .../policy once the tenant's model has taken every update (training is off the loop)."""
    deadline = time.monotonic() + 60
    while True:
        pol = d.ok("GET", f"/v1/tenants/{tid}/policy", **kw)
        if not pol["training"]:
            return pol
        check(time.monotonic() < deadline, "the model settles within 60 s")
        time.sleep(0.02)


def nr_accesses_min(rate):
    """DAMON's nr_accesses minimum for an access rate at 5 ms sampling, 100 ms aggregation."""
    expect = 20 * (1 - math.exp(-rate * 0.005))
    return max(1, min(20, math.ceil(expect - 1e-9)))


def check_scheme_follows(root, th):
    """Scheme 1 (the tenant's migrate_hot) holds the thresholds the API serves."""
    if th["rule"] == "never":
        check_eq(root.read(SCHEME.format(1, "action")), "stat\n", "a 'never' decision promotes nothing")
        return
    check_eq(root.read(SCHEME.format(1, "action")), "migrate_hot\n", "scheme 1 action")
    check_eq(root.read(SCHEME.format(1, "access_pattern/nr_accesses/min")), f"{nr_accesses_min(th['access_rate'])}\n",
             f"nr_accesses min for {th['access_rate']} accesses/s")
    check_eq(root.read(SCHEME.format(1, "access_pattern/age/min")),
             f"{max(0, math.ceil(th['burst_duration'] / 0.1 - 1e-9))}\n",
             f"age min for a {th['burst_duration']} s burst")


@transports
def test_feedback_loop():
    with Root() as root, Daemon(config=config("linucb"), root=root.path) as d:
        tid = add_tenant(d, "job", as_uid=NOBODY)
        th = thresholds(d, tid, as_uid=NOBODY)
        keys = {"tenant_id", "episode", "policy", "model_id", "model_version", "rule", "access_rate",
                "burst_duration", "action", "explored", "cached_rewards", "context", "decided", "backend",
                "applied", "applied_note", "anchor"}
        check_eq(set(th), keys, "thresholds members")
        check_eq((th["episode"], th["policy"], th["model_version"], th["backend"], th["applied"]),
                 (1, "linucb", 0, "damon", True), "first thresholds")
        check_eq(set(th["context"]), {"local_alloc", "local_usage", "remote_usage", "traffic", "contention",
                                      "link_bandwidth_Bps", "delta_latency_s", "demote_rate", "page_size"},
                 "context members")
        # /maio/a holds 1 GiB on node 0 and 3 GiB on node 1; node 0 is 95% used.
        check_eq(th["context"]["local_alloc"], 0.25, "local_alloc from the cgroup's numa_stat")
        check(abs(th["context"]["local_usage"] - 0.95) < 1e-6, f"local_usage {th['context']['local_usage']}")
        check_scheme_follows(root, th)
        check_eq(thresholds(d, tid)["episode"], 1, "a second GET keeps the episode")

        seen = {(th["access_rate"], th["burst_duration"])}
        times = [50.0, 46.0, 47.0, 41.0, 44.0, 39.0, 43.0, 38.0]
        learnt = 0
        for i, t in enumerate(times, start=1):
            r = feedback(d, tid, i, t, as_uid=NOBODY)
            check_eq((r["tenant_id"], r["episode"], r["next"]["episode"]), (tid, i, i + 1), f"feedback {i}")
            check(abs(r["reward"] - (1 - t / times[0])) < 1e-9, f"reward {r['reward']} of {t} s")
            # Training runs off the event loop: the 202 carries the model published so far (the
            # previous feedback's model, settled below), which may not have taken this feedback yet.
            check(r["next"]["model_version"] >= learnt, f"the 202 carries model {r['next']['model_version']}")
            learnt = settled_policy(d, tid, as_uid=NOBODY)["model_version"]
            check(learnt >= i, f"the model learnt episode {i}: version {learnt}")
            check_scheme_follows(root, r["next"])
            seen.add((r["next"]["access_rate"], r["next"]["burst_duration"]))
        # LinUCB tries other grid points as it learns: the thresholds change from feedback.
        check(len(seen) >= 3, f"thresholds changed with feedback: {seen}")
        # Changed schemes go online with commit to the running kdamond (a fixture file keeps the
        # last command written; the journal's events, newest 100, tell the recent ones).
        messages = [e["message"] for e in d.ok("GET", "/v1/events")["events"] if e["kind"] == "knob-set"]
        check(any("damon.0.state set to commit" in m for m in messages), "commit written")
        check_eq(root.read("sys/kernel/mm/damon/admin/kdamonds/0/state") != "off\n", True, "kdamond running")

        pol = d.ok("GET", f"/v1/tenants/{tid}/policy", as_uid=NOBODY)
        check_eq((pol["policy"], pol["learns"], pol["metric"], pol["reference"]),
                 ("linucb", True, "completion_time_s", 50.0), "policy")
        check_eq(pol["episodes"]["committed"], len(times), "committed episodes")
        check_eq(pol["episodes"]["open"], len(times) + 1, "open episode")
        check_eq([e["value"] for e in pol["rewards"]], times, "reward history, oldest first")
        check_eq([e["episode"] for e in pol["rewards"]], list(range(1, len(times) + 1)), "history episodes")
        check(all(e["metric"] == "completion_time_s" and e["committed"] for e in pol["rewards"]), "history entries")
        check_eq(pol["cache"]["entries"] > 0, True, "rewards cached")
        check_eq(pol["cache"]["hits"] + pol["cache"]["misses"] >= len(times), True, "cache lookups counted")
        check_eq(d.ok("GET", "/v1/status")["tiering"]["tenants"], 1, "status counts the tenant")


@transports
def test_bad_feedback():
    with Root() as root, Daemon(config=config("linucb"), root=root.path) as d:
        mine = add_tenant(d, "job", as_uid=NOBODY)
        serving = add_tenant(d, "web", cgroup="/maio/b", workload_class="serving", as_uid=NOBODY)
        other = add_tenant(d, "root-job", cgroup=None)
        path = f"/v1/tenants/{mine}/feedback"
        thresholds(d, mine, as_uid=NOBODY)
        thresholds(d, serving, as_uid=NOBODY)
        before = d.ok("GET", f"/v1/tenants/{mine}/policy", as_uid=NOBODY)
        cases = [
            ({"episode": 1, "completion_time_s": -3}, 400, "invalid-value"),
            ({"episode": 1, "completion_time_s": 0}, 400, "invalid-value"),
            ('{"episode": 1, "completion_time_s": NaN}', 400, "invalid-value"),
            ('{"episode": 1, "completion_time_s": Infinity}', 400, "invalid-value"),
            ('{"episode": 1, "completion_time_s": -Infinity}', 400, "invalid-value"),
            ('{"episode": 1, "completion_time_s": 1e999}', 400, "invalid-value"),
            ({"episode": 1, "completion_time_s": "12"}, 400, "wrong-type"),
            ({"episode": 1, "completion_time_s": None}, 400, "wrong-type"),
            ({"episode": 1, "completion_time_s": 5, "requests_per_s": 9}, 400, "invalid-value"),
            ({"episode": 1}, 400, "missing-field"),
            ({"completion_time_s": 5}, 400, "missing-field"),
            ({"episode": 1, "requests_per_s": 9}, 400, "invalid-value"),
            ({"episode": 1, "completion_time_s": 5, "colour": "red"}, 400, "unknown-field"),
            ({"episode": 0, "completion_time_s": 5}, 400, "invalid-value"),
            ({"episode": 1.0, "completion_time_s": 5}, 400, "wrong-type"),
            ({"episode": 2, "completion_time_s": 5}, 404, "not-found"),
            ({"episode": 9223372036854775807, "completion_time_s": 5}, 404, "not-found"),
            ("[1]", 400, "invalid-json"),
        ]
        for body, status, code in cases:
            d.check_error("POST", path, body, status, code, as_uid=NOBODY)
        # Serving tenants report throughput, never a time.
        d.check_error("POST", f"/v1/tenants/{serving}/feedback", {"episode": 1, "completion_time_s": 5}, 400,
                      "invalid-value", as_uid=NOBODY)
        # Another uid's tenant, or one that does not exist: 404, not revealed.
        d.check_error("POST", f"/v1/tenants/{other}/feedback", {"episode": 1, "completion_time_s": 5}, 404,
                      "not-found", as_uid=NOBODY)
        d.check_error("GET", f"/v1/tenants/{other}/thresholds", None, 404, "not-found", as_uid=NOBODY)
        d.check_error("GET", f"/v1/tenants/{other}/policy", None, 404, "not-found", as_uid=NOBODY)
        d.check_error("POST", "/v1/tenants/999/feedback", {"episode": 1, "completion_time_s": 5}, 404, "not-found")
        # A tenant that never asked for thresholds has no episode to report on.
        d.check_error("POST", f"/v1/tenants/{other}/feedback", {"episode": 1, "completion_time_s": 5}, 404,
                      "not-found")
        after = d.ok("GET", f"/v1/tenants/{mine}/policy", as_uid=NOBODY)
        check_eq((after["model_version"], after["episodes"], after["rewards"], after["reference"]),
                 (before["model_version"], before["episodes"], before["rewards"], before["reference"]),
                 "bad feedback never reached the model")
        # The good one still commits once; a repeat is a conflict.
        feedback(d, mine, 1, 12.5, as_uid=NOBODY)
        d.check_error("POST", path, {"episode": 1, "completion_time_s": 12.5}, 409, "conflict", as_uid=NOBODY)
        r = d.ok("POST", f"/v1/tenants/{serving}/feedback", {"episode": 1, "requests_per_s": 800}, want=202,
                 as_uid=NOBODY)
        check_eq(r["reward"], 0.0, "serving reward")
        # Policy changes: only the selectable policies, only the owner.
        for body, code in (({"policy": "ewma"}, "invalid-value"), ({"policy": "linucb", "seed": -1}, "invalid-value"),
                           ({"seed": 3}, "missing-field"), ({"policy": 3}, "wrong-type"),
                           ({"policy": "static", "x": 1}, "unknown-field")):
            d.check_error("PUT", f"/v1/tenants/{mine}/policy", body, 400, code, as_uid=NOBODY)
        d.check_error("PUT", f"/v1/tenants/{other}/policy", {"policy": "static"}, 404, "not-found", as_uid=NOBODY)


def test_policy_switch():
    with Root() as root, Daemon(config=config("heuristic"), root=root.path) as d:
        tid = add_tenant(d, "job")
        th = thresholds(d, tid)
        check_eq((th["policy"], th["action"], th["explored"]), ("heuristic", None, False), "heuristic decision")
        feedback(d, tid, 1, 30)
        pol = d.ok("PUT", f"/v1/tenants/{tid}/policy", {"policy": "static", "seed": 11})
        check_eq((pol["policy"], pol["seed"], pol["thresholds"]["episode"]), ("static", 11, 3), "switched")
        # TPP's 1000 ms hot threshold: 1 access/s, no burst test.
        check_eq((pol["thresholds"]["access_rate"], pol["thresholds"]["burst_duration"]), (1.0, 0.0), "static")
        check_scheme_follows(root, pol["thresholds"])
        d.check_error("POST", f"/v1/tenants/{tid}/feedback", {"episode": 2, "completion_time_s": 5}, 404, "not-found")
        r = feedback(d, tid, 3, 15)
        check_eq(r["reward"], 0.5, "the reward scale survives a policy change")
        # A tenant that sets its policy first starts with it: episode 1, no default model before it.
        other = add_tenant(d, "other", cgroup="/maio/b")
        pol = d.ok("PUT", f"/v1/tenants/{other}/policy", {"policy": "indigo", "seed": 5})
        check_eq((pol["policy"], pol["seed"], pol["thresholds"]["episode"], pol["episodes"]["total"]),
                 ("indigo", 5, 1, 1), "enrolled with the policy asked for")
        check_eq(d.ok("GET", f"/v1/tenants/{other}/thresholds")["policy"], "indigo", "and it stays")


def test_indigo_model_import():
    # A trained indigo model is far larger than the default 64 KiB body limit; import has its own.
    with Root() as root, Daemon(config=config("indigo"), root=root.path) as d:
        a = add_tenant(d, "q", as_uid=NOBODY)
        thresholds(d, a, as_uid=NOBODY)
        feedback(d, a, 1, 20.0, as_uid=NOBODY)
        mid = d.ok("GET", f"/v1/tenants/{a}/policy", as_uid=NOBODY)["model_id"]
        exported = d.ok("GET", f"/v1/models/{mid}", as_uid=NOBODY)
        check(len(json.dumps(exported)) > 65536, f"an indigo model exceeds 64 KiB ({len(json.dumps(exported))} bytes)")
        status, _, imported = d.request("POST", "/v1/models", exported)
        check_eq(status, 201, f"indigo import ({str(imported)[:200]})")
        check_eq(imported["model"], exported["model"], "indigo round trip")
        # Other operations keep the 64 KiB limit.
        d.check_error("PUT", f"/v1/tenants/{a}/policy", {"policy": "x" * 70000}, 413, "payload-too-large",
                      as_uid=NOBODY)


def test_training_off_the_loop():
    """Feedback is acknowledged once committed; the model update runs on the training thread, and
    requests are served while it runs: a tenant whose model takes long to train (an imported indigo
    model with many minibatch steps) reports training in progress right after its 202, with the
    model version unchanged, and the version advances once the job is done."""
    with Root() as root, Daemon(config=config("indigo"), root=root.path) as d:
        a = add_tenant(d, "a")
        thresholds(d, a)
        feedback(d, a, 1, 30.0)
        mid = settled_policy(d, a)["model_id"]
        exported = d.ok("GET", f"/v1/models/{mid}")
        heavy = dict(exported, model=dict(exported["model"], params=dict(exported["model"]["params"],
                                                                          train_steps=64, batch=256)))
        imported = d.ok("POST", "/v1/models", heavy, want=201)
        # Same context as a's model, and newer: b starts from the heavy one.
        b = add_tenant(d, "b")
        pol = d.ok("GET", f"/v1/tenants/{b}/policy")
        check_eq(pol["transferred_from"], imported["id"], "b starts from the imported model")
        version = pol["model_version"]
        r = feedback(d, b, 1, 30.0)
        check_eq(r["next"]["episode"], 2, "feedback committed and acknowledged")
        during = d.ok("GET", f"/v1/tenants/{b}/policy")
        check_eq((during["training"], during["model_version"], during["episodes"]["committed"]), (True, version, 1),
                 "served while the model trains: the episode is committed, the model not yet updated")
        check_eq(d.request("GET", "/v1/health")[0], 200, "health while the model trains")
        after = settled_policy(d, b)
        check(after["model_version"] > version, f"the published model advanced: {version} -> {after['model_version']}")
        stored = d.ok("GET", f"/v1/models/{after['model_id']}")
        check_eq(stored["version"], after["model_version"], "the trained model is committed")
        training = d.ok("GET", "/v1/status")["tiering"]["training"]
        check(training["jobs"] >= 2 and training["updates"] >= 2 and training["queued"] == 0,
              f"training counters in status: {training}")


def test_models_and_transfer():
    with Root() as root, Daemon(config=config("linucb"), root=root.path) as d:
        a = add_tenant(d, "a", as_uid=NOBODY)
        thresholds(d, a, as_uid=NOBODY)
        for i, t in enumerate([20.0, 18.0, 19.0], start=1):
            feedback(d, a, i, t, as_uid=NOBODY)
        mid = settled_policy(d, a, as_uid=NOBODY)["model_id"]
        exported = d.ok("GET", f"/v1/models/{mid}", as_uid=NOBODY)
        check_eq((exported["id"], exported["tenant_id"], exported["workload_class"], exported["policy"],
                  exported["samples"]), (mid, a, "batch", "linucb", 3), "export")
        check_eq((exported["model"]["format"], exported["model"]["policy"]), ("maio-tier-model", "linucb"), "model")
        check_eq(exported["version"], exported["model"]["counters"]["updates"], "version is the update count")
        check(len(json.dumps(exported)) < 65536, "a linucb model fits a request body")
        d.check_error("GET", "/v1/models/999", None, 404, "not-found")
        d.check_error("GET", "/v1/models/x", None, 400, "bad-request")

        # Import is for administrators; the export is accepted as it is.
        d.check_error("POST", "/v1/models", exported, 403, "forbidden", as_uid=NOBODY)
        status, headers, imported = d.request("POST", "/v1/models", exported)
        check_eq(status, 201, f"import ({imported})")
        check_eq(headers.get("location"), f"/v1/models/{imported['id']}", "Location")
        check(imported["id"] != mid and imported["tenant_id"] is None, "a new model without tenant")
        check_eq((imported["model"], imported["context"], imported["samples"], imported["version"]),
                 (exported["model"], exported["context"], exported["samples"], exported["version"]), "round trip")
        check_eq(d.ok("GET", f"/v1/models/{imported['id']}"), imported, "GET after import")
        # A model without tenant is the administrators'.
        d.check_error("GET", f"/v1/models/{imported['id']}", None, 404, "not-found", as_uid=NOBODY)
        bad = [
            (dict(exported, workload_class="interactive"), "invalid-value"),
            (dict(exported, context=[0.1, 0.2]), "invalid-value"),
            (dict(exported, model={"format": "other"}), "invalid-value"),
            (dict(exported, model=dict(exported["model"], policy="ewma")), "invalid-value"),
            (dict(exported, model=dict(exported["model"], params=dict(exported["model"]["params"],
                                                                       train_steps=100000))), "invalid-value"),
            (dict(exported, colour=1), "unknown-field"),
            ({"workload_class": "batch", "context": exported["context"]}, "missing-field"),
        ]
        for body, code in bad:
            d.check_error("POST", "/v1/models", body, 400, code)

        # A new batch tenant in a context like a's starts from the nearest stored model.
        b = add_tenant(d, "b", cgroup="/maio/a")
        pol = d.ok("GET", f"/v1/tenants/{b}/policy")
        check(pol["transferred_from"] in (mid, imported["id"]), f"b started from {pol['transferred_from']}")
        check(pol["model_id"] not in (mid, imported["id"]), "b trains its own copy")
        check_eq(pol["model_version"], exported["version"], "the copy keeps what a learnt")
        # A serving tenant does not (another workload class), nor a heuristic one.
        c = add_tenant(d, "c", cgroup="/maio/b", workload_class="serving")
        check_eq(d.ok("GET", f"/v1/tenants/{c}/policy")["transferred_from"], None, "no serving model to start from")
        # The trained model outlives its tenant and stays exportable by an administrator.
        d.ok("DELETE", f"/v1/tenants/{a}", want=204, as_uid=NOBODY)
        check_eq(d.ok("GET", f"/v1/models/{mid}")["tenant_id"], None, "model kept without its tenant")


def best_action(rewards):
    """The action of the best mean reward (means within 1e-9 are equal; ties: more episodes, then
    the lower action), as an anchor chooses in its bucket, with its thresholds."""
    by = {}
    for e in rewards:
        by.setdefault(e["action"], []).append(e)
    mean = {act: sum(e["reward"] for e in eps) / len(eps) for act, eps in by.items()}
    top = max(mean.values())
    act = min((a for a in by if mean[a] >= top - 1e-9), key=lambda a: (-len(by[a]), a))
    return act, by[act][0]["access_rate"], by[act][0]["burst_duration"]


def test_anchors():
    """Tenant a trains and leaves; after a restart (anchors are in the store) tenant b, in the same
    context, joins with the heuristic policy and its first thresholds come at once from the anchor
    (a's best measured action), the reason says which and how far, and the share is reported; a
    learning tenant c starts from a's model as its anchor; with anchors off nobody does."""
    with Root() as root:
        d = Daemon(config=config("linucb"), root=root.path)
        with d:
            a = add_tenant(d, "a", cgroup="/maio/a")
            first = thresholds(d, a)
            check_eq(first["anchor"], None, "no anchor before anyone measured")
            for i, t in enumerate([20.0, 16.0, 19.0, 17.0, 18.0], start=1):
                feedback(d, a, i, t)
            pol = settled_policy(d, a)
            check_eq((pol["episodes"]["anchored"], pol["episodes"]["anchor_share"]), (0, 0), "a's share")
            rewards = [(e["action"], e["reward"]) for e in pol["rewards"]]
            want = best_action(pol["rewards"])
            st = d.ok("GET", "/v1/status")["tiering"]["anchors"]
            check(st["entries"] >= 1 and st["buckets"] >= 1, f"anchors held: {st}")
            check_eq((st["decisions"], st["served"]), (6, 0), "decisions since start")
            # A database from before anchors (schema v5) has episodes but no anchors: they are
            # rebuilt from the episodes at start.
            d.stop()
            with sqlite3.connect(os.path.join(d.state_dir, "maiod.db")) as db:
                db.execute("DELETE FROM tier_anchors")
            db.close()
            d.start()
            check_eq(d.ok("GET", "/v1/status")["tiering"]["anchors"]["entries"], st["entries"],
                     "anchors rebuilt from the stored episodes")
            d.ok("DELETE", f"/v1/tenants/{a}", want=204)
            d.restart()

            b = add_tenant(d, "b", cgroup="/maio/a")
            pol = d.ok("PUT", f"/v1/tenants/{b}/policy", {"policy": "heuristic"})
            th = pol["thresholds"]
            check_eq((th["action"], th["access_rate"], th["burst_duration"], th["explored"]), (*want, False),
                     f"b's first thresholds are a's best measured action (a's episodes: {rewards})")
            check(th["anchor"] is not None and th["anchor"].startswith("nearest anchor: batch context bucket 0x"),
                  f"the reason names the anchor: {th['anchor']}")
            check(f"tenant {a})" in th["anchor"] and "at distance 0.0" in th["anchor"],
                  f"how far, and who measured it: {th['anchor']}")
            check_eq((pol["episodes"]["anchored"], pol["episodes"]["anchor_share"]), (1, 1), "b's share")
            check_scheme_follows(root, th)
            # The anchor's thresholds hold for the episode; the next one is the policy's own.
            nxt = feedback(d, b, 1, 15.0)["next"]
            check_eq(nxt["anchor"], None, "episode 2 decided by the policy")
            pol = d.ok("GET", f"/v1/tenants/{b}/policy")
            check_eq((pol["episodes"]["total"], pol["episodes"]["anchored"], pol["episodes"]["anchor_share"]),
                     (2, 1, 0.5), "one of b's two decisions from an anchor")

            c = add_tenant(d, "c", cgroup="/maio/a")
            pol = d.ok("PUT", f"/v1/tenants/{c}/policy", {"policy": "linucb"})
            check(pol["transferred_from"] is not None, "c starts from a's model")
            check(pol["thresholds"]["anchor"] == f"nearest anchor: model {pol['transferred_from']} "
                  "(trained in contexts at distance 0.000)", f"c's anchor is the model: {pol['thresholds']['anchor']}")
            check_eq(pol["thresholds"]["explored"], False, "the model's greedy decision")

            st = d.ok("GET", "/v1/status")["tiering"]["anchors"]
            check_eq((st["decisions"], st["served"], st["share"]), (3, 2, 0.6666666667), "host-wide share since start")
            m = d.metrics()
            check_eq((m["maiod_tier_decisions_total"], m["maiod_tier_anchor_decisions_total"]), (3, 2),
                     "the share as metrics")
            # Anchors off: the policy decides.
            d.write_config(config("linucb", "anchor_distance_milli = 0\n"))
            d.restart()
            e = add_tenant(d, "e", cgroup="/maio/a")
            pol = d.ok("PUT", f"/v1/tenants/{e}/policy", {"policy": "heuristic"})
            check_eq((pol["thresholds"]["anchor"], pol["thresholds"]["action"]), (None, None), "no anchor when off")


def test_persistence():
    with Root() as root:
        d = Daemon(config=config("linucb"), root=root.path)
        with d:
            tid = add_tenant(d, "job")
            thresholds(d, tid)
            for i, t in enumerate([40.0, 35.0, 37.0], start=1):
                feedback(d, tid, i, t)
            before = settled_policy(d, tid)
            d.restart()
            after = d.ok("GET", f"/v1/tenants/{tid}/policy")
            for key in ("policy", "seed", "model_id", "model_version", "reference", "episodes", "rewards"):
                check_eq(after[key], before[key], f"{key} after a restart")
            check_eq(after["cache"]["entries"], before["cache"]["entries"], "reward cache rebuilt")
            for key in ("episode", "access_rate", "burst_duration", "action", "explored"):
                check_eq(after["thresholds"][key], before["thresholds"][key], f"open episode's {key}")
            check_scheme_follows(root, after["thresholds"])
            r = feedback(d, tid, 4, 30.0)
            check_eq(r["reward"], 0.25, "the reward scale survives a restart")
        check_eq(sorted(root.differences()), [], "a clean stop leaves the fixture as it was")


def test_removal():
    """A removed tenant's scheme leaves the kdamond at once, not at the next tiering tick
    (interval_sec is an hour here); the other tenant's scheme stays."""
    nr = "sys/kernel/mm/damon/admin/kdamonds/0/contexts/0/schemes/nr_schemes"

    def actions(root):
        return [root.read(SCHEME.format(i, "action")).strip() for i in range(int(root.read(nr)))]

    with Root() as root, Daemon(config=config("static"), root=root.path) as d:
        a = add_tenant(d, "a", cgroup="/maio/a")
        b = add_tenant(d, "b", cgroup="/maio/b")
        thresholds(d, a)
        thresholds(d, b)
        before = actions(root)
        check_eq(before.count("migrate_hot"), 2, f"one promotion scheme per tenant: {before}")
        d.ok("DELETE", f"/v1/tenants/{a}", want=204)
        after = actions(root)
        check_eq(after.count("migrate_hot"), 1, f"the removed tenant's scheme is gone: {after}")
        check_eq(thresholds(d, b)["applied"], True, "the other tenant stays applied")


def test_maioctl():
    maioctl, copy_env = runnable_by_others(env("MAIOCTL"))  # run as nobody
    with Root() as root, Daemon(config=config("linucb"), root=root.path) as d:
        tid = add_tenant(d, "job", as_uid=NOBODY)

        def run(*args):
            def child():
                p = subprocess.run([maioctl, "--socket", d.socket_path, *args], capture_output=True, text=True,
                                   timeout=30, env=dict(os.environ, **copy_env), cwd=os.path.dirname(maioctl))
                return [p.returncode, p.stdout, p.stderr]
            return as_user(NOBODY, NOBODY, [], child)

        rc, out, err = run("thresholds", str(tid))
        check_eq(rc, 0, f"maioctl thresholds ({err})")
        check("episode:      1 (" in out, f"thresholds output: {out}")
        rc, out, err = run("feedback", str(tid), "1", "--time", "25.5")
        check_eq(rc, 0, f"maioctl feedback ({err})")
        check("committed:    episode 1, reward 0\n" in out and "episode:      2 (" in out, f"feedback output: {out}")
        rc, out, err = run("feedback", str(tid), "1", "--time", "20")
        check_eq((rc, "(conflict, HTTP 409)" in err), (1, True), f"repeated feedback: {err}")
        rc, out, err = run("-o", "json", "policy", str(tid))
        check_eq(rc, 0, f"maioctl policy ({err})")
        pol = json.loads(out)
        check_eq([e["value"] for e in pol["rewards"]], [25.5], "history through maioctl")
        rc, out, err = run("policy", str(tid), "--set", "static", "--seed", "4")
        check_eq(rc, 0, f"maioctl policy --set ({err})")
        check("policy:        static (seed 4)" in out and "Reward history" in out, f"policy --set output: {out}")
        check("from anchors: 0%)" in out and "stated rate:   none" in out, f"policy output: {out}")
        rc, out, err = run("policy", str(tid), "--promotion-rate", "1000")
        check_eq(rc, 0, f"maioctl policy --promotion-rate ({err})")
        check("stated rate:   1000 bytes/s (its promotion demand)" in out and "policy:        static (seed 4)" in out,
              f"policy --promotion-rate output: {out}")
        rc, out, err = run("policy", str(tid), "--promotion-rate", "-5")
        check_eq(rc, 2, f"a negative rate is a usage error: {err}")
        rc, out, err = run("policy", str(tid), "--set", "static", "--promotion-rate", "5")
        check_eq((rc, "--promotion-rate does not go with --set" in err), (2, True), f"with --set: {err}")


if __name__ == "__main__":
    main([test_feedback_loop, test_bad_feedback, test_policy_switch, test_training_off_the_loop, test_models_and_transfer, test_indigo_model_import, test_anchors,
          test_persistence, test_removal, test_maioctl])
