#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# The fleet through a real 3-member etcd cluster (Debian's etcd, each member in its own network
# namespace joined to a bridge whose host side the maiods reach, or on loopback ports when
# namespaces cannot be made; auth on, one role per host that may write only its own keys) and
# two maiods with their own state and fixture roots: a model trained on host a reaches a new
# tenant on host b through a lazy lookup, and serves b's next decision (a's greedy one) without
# an episode on b; one member down changes nothing; all down: b answers fast and says
# local-only; back: publishing resumes; corrupt, out-of-bounds, wrong-shape and not-allowed
# models are rejected and logged, and the nearest valid model wins though more than 64 farther
# ones precede it; b cannot write a's keys.

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from maiotest import Daemon, FixtureRoot, Skip, check, check_eq, fixture, free_port, main, wait_for

PREFIX = "/maio-test"
CLASSES = ("batch", "serving")
BUCKETS = 32  # FLEET_BUCKETS


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def prefix_end(p):
    return p[:-1] + chr(ord(p[-1]) + 1)


def ip(*args, check_rc=True):
    p = subprocess.run(["ip", *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if check_rc and p.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout


class Net:
    """A network namespace per etcd member (names with this test's pid), each joined by a veth to
    a bridge on the host side, whose address the maiods and this test reach the members through.
    Everything made is removed on exit, after a failure too. made is False when namespaces cannot
    be made here (not root, no ip(8)): the members then listen on loopback ports."""

    def __init__(self, n):
        pid = os.getpid()
        self.n = n
        self.ns = [f"maio-fleet-{pid}-m{i}" for i in range(n)]
        self.bridge = f"mfb{pid % 1000000}"
        self.veth = [f"mfv{pid % 1000000}m{i}" for i in range(n)]
        self.made = False
        self.subnet = None

    def addr(self, i):
        return f"{self.subnet}.{i + 1}"

    def __enter__(self):
        if os.geteuid() != 0 or not shutil.which("ip"):
            return self
        # A /24 no route of the host covers yet.
        routes = ip("-4", "route", "show", "table", "all")
        pid = os.getpid()
        for k in range(64):
            cand = f"10.{200 + (pid + k) % 50}.{(pid // 50 + k) % 256}"
            if f"{cand}." not in routes:
                self.subnet = cand
                break
        if not self.subnet:
            return self
        try:
            ip("link", "add", self.bridge, "type", "bridge")
            ip("addr", "add", f"{self.subnet}.254/24", "dev", self.bridge)
            ip("link", "set", self.bridge, "up")
            for i in range(self.n):
                ip("netns", "add", self.ns[i])
                ip("-n", self.ns[i], "link", "set", "lo", "up")
                ip("link", "add", self.veth[i], "type", "veth", "peer", "name", "eth0", "netns", self.ns[i])
                ip("link", "set", self.veth[i], "master", self.bridge, "up")
                ip("-n", self.ns[i], "addr", "add", f"{self.addr(i)}/24", "dev", "eth0")
                ip("-n", self.ns[i], "link", "set", "eth0", "up")
        except BaseException as e:
            self.__exit__(None, None, None)
            if isinstance(e, OSError):
                print(f"network namespaces not available ({e}): etcd on loopback", file=sys.stderr)
                return self
            raise
        self.made = True
        return self

    def __exit__(self, *exc):
        for i in range(self.n):
            ip("netns", "del", self.ns[i], check_rc=False)  # takes the veth pair with it
            ip("link", "del", self.veth[i], check_rc=False)
        ip("link", "del", self.bridge, check_rc=False)
        return False


class Etcd:
    """Three etcd members, each in its own network namespace (Net) or on loopback ports, in a temp
    dir removed on exit; members killed by pid."""

    def __init__(self, net):
        self.net = net
        self.tmp = tempfile.mkdtemp(prefix="maio-fleet-etcd-")
        self.members = []
        for i in range(3):
            if net.made:
                self.members.append({"name": f"m{i}", "host": net.addr(i), "client": 2379, "peer": 2380,
                                     "ns": net.ns[i], "proc": None})
            else:
                self.members.append({"name": f"m{i}", "host": "127.0.0.1", "client": free_port(),
                                     "peer": free_port(), "ns": None, "proc": None})
        self.token = None

    def url(self, i):
        return f"http://{self.members[i]['host']}:{self.members[i]['client']}"

    def peer_url(self, i):
        return f"http://{self.members[i]['host']}:{self.members[i]['peer']}"

    def endpoints(self):
        return ",".join(self.url(i) for i in range(3))

    def start(self, i):
        m = self.members[i]
        cluster = ",".join(f"{x['name']}={self.peer_url(j)}" for j, x in enumerate(self.members))
        log = open(os.path.join(self.tmp, f"{m['name']}.log"), "ab")
        # ip netns exec execs etcd itself: the pid is etcd's.
        m["proc"] = subprocess.Popen(
            (["ip", "netns", "exec", m["ns"]] if m["ns"] else []) +
            ["etcd", "--name", m["name"], "--data-dir", os.path.join(self.tmp, m["name"]),
             "--listen-client-urls", self.url(i), "--advertise-client-urls", self.url(i),
             "--listen-peer-urls", self.peer_url(i), "--initial-advertise-peer-urls", self.peer_url(i),
             "--initial-cluster", cluster, "--initial-cluster-state", "new",
             "--initial-cluster-token", f"maio-test-{os.getpid()}",
             "--auth-token-ttl", "5", "--heartbeat-interval", "100", "--election-timeout", "1000"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()

    def stop(self, i):
        p, self.members[i]["proc"] = self.members[i]["proc"], None
        if p and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def __enter__(self):
        if not shutil.which("etcd") or not shutil.which("etcdctl"):
            raise Skip("needs etcd and etcdctl (Debian packages etcd-server, etcd-client; scripts/deps)")
        try:
            for i in range(3):
                self.start(i)
            wait_for(self.healthy, 30, "the etcd cluster to elect a leader", interval=0.2)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if exc and exc[0] is not None and exc[0] is not Skip:
            for m in self.members:
                path = os.path.join(self.tmp, f"{m['name']}.log")
                if os.path.exists(path):
                    with open(path, errors="replace") as f:
                        print(f"---- etcd {m['name']} log, last 20 lines ----\n" + "".join(f.readlines()[-20:]),
                              file=sys.stderr)
        for i in range(3):
            self.stop(i)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def healthy(self):
        try:
            return self.call("kv/range", {"key": b64("x")}, anonymous=not self.token) is not None
        except (OSError, urllib.error.URLError, AssertionError):
            return False

    def call(self, path, body, token=None, anonymous=False, member=None, want_error=False):
        """POST to the first live member (or the one given); returns the JSON answer, or the error
        message when want_error."""
        order = [member] if member is not None else [i for i in range(3) if self.members[i]["proc"]]
        last = None
        for i in order:
            req = urllib.request.Request(f"{self.url(i)}/v3/{path}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
            tok = token or (None if anonymous else self.root_token())
            if tok:
                req.add_header("Authorization", tok)
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    data = json.loads(r.read())
            except urllib.error.HTTPError as e:
                data = json.loads(e.read())
            except (OSError, urllib.error.URLError) as e:
                last = e
                continue
            if "error" in data:
                if want_error:
                    return data.get("message", data["error"])
                raise AssertionError(f"etcd {path}: {data}")
            check(not want_error, f"etcd {path} should have failed: {data}")
            return data
        raise AssertionError(f"no etcd member answered {path}: {last}")

    def root_token(self):
        """A fresh root token once auth is on (tokens live 5 s here), else None."""
        return self.login("root", "rootpw") if self.token else None

    def login(self, user, password):
        return self.call("auth/authenticate", {"name": user, "password": password}, anonymous=True)["token"]

    def grant(self, role, key, end, perm):
        self.call("auth/role/grant", {"name": role, "perm": {"permType": perm, "key": b64(key),
                                                             "range_end": b64(end)}})

    def setup_auth(self, hosts):
        """root, and per host a user and a role: read everything below PREFIX, write only its
        presence keys and its own models (one prefix per class and context bucket)."""
        self.call("auth/user/add", {"name": "root", "password": "rootpw"})
        self.call("auth/user/grant", {"user": "root", "role": "root"})
        for h in hosts:
            role = f"maio-{h}"
            self.call("auth/role/add", {"name": role})
            self.grant(role, PREFIX + "/", prefix_end(PREFIX + "/"), "READ")
            self.grant(role, f"{PREFIX}/hosts/{h}/", prefix_end(f"{PREFIX}/hosts/{h}/"), "READWRITE")
            for c in CLASSES:
                for b in range(BUCKETS):
                    k = f"{PREFIX}/models/{c}/{b}/{h}/"
                    self.grant(role, k, prefix_end(k), "READWRITE")
            self.call("auth/user/add", {"name": f"host-{h}", "password": f"pw-{h}"})
            self.call("auth/user/grant", {"user": f"host-{h}", "role": role})
        self.call("auth/enable", {})
        self.token = True

    def put(self, key, value, token=None):
        return self.call("kv/put", {"key": b64(key), "value": b64(value)}, token=token)

    def keys(self, prefix):
        r = self.call("kv/range", {"key": b64(prefix), "range_end": b64(prefix_end(prefix)), "keys_only": True})
        return sorted(base64.b64decode(kv["key"]).decode() for kv in r.get("kvs", []))


def config(etcd, host, sources="", extra=""):
    return (f"[tiering]\npolicy = linucb\ninterval_sec = 3600\n"
            f"[fleet]\nendpoints = {etcd.endpoints()}\nusername = host-{host}\npassword = pw-{host}\n"
            f"prefix = {PREFIX}\nhost = {host}\nsources = {sources}\npublish_episodes = 4\n"
            f"publish_interval_sec = 1\nlookup_timeout_ms = 2000\ncontext_distance_milli = 0\n{extra}")


def add_tenant(d, name, cgroup="/maio/a", **extra):
    return d.ok("POST", "/v1/tenants", dict(name=name, cgroup=cgroup, **extra), want=201)["id"]


def fleet_status(d):
    return d.ok("GET", "/v1/status")["fleet"]


def train(d, tid, good=None):
    """Four episodes on tenant tid: the first sets the reference (20 s); after it, the action of
    the second episode (or good) runs in 10 s, every other action in 30 s. Returns the good
    action and its thresholds, which the model's greedy decision is then (the only arm with a
    positive reward sum)."""
    th = d.ok("GET", f"/v1/tenants/{tid}/thresholds")
    first = th["episode"] if good is None else None
    best = None
    for i in range(4):
        ep = th["episode"]
        if i == 1 and good is None:
            good = th["action"]
        if good == th["action"]:
            best = (th["action"], th["access_rate"], th["burst_duration"])
        t = 20.0 if ep == first else (10.0 if th["action"] == good else 30.0)
        th = d.ok("POST", f"/v1/tenants/{tid}/feedback", {"episode": ep, "completion_time_s": t}, want=202)["next"]
    check(first is None or best is not None, "the good action ran")
    return good, best


def p99_ms(d, path, n=100):
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        d.ok("GET", path)
        times.append((time.monotonic() - t0) * 1000)
    times.sort()
    return times[int(n * 0.99) - 1]


def model_value(doc, host, tenant, context, workload_class="serving"):
    return json.dumps({"format": "maio-fleet-model", "format_version": 1, "host": host, "tenant": tenant,
                       "workload_class": workload_class, "policy": "linucb", "context": context, "version": 4,
                       "episodes": 4, "mean_reward": 0.1, "published_usec": 1,
                       "document": dict(doc, workload_class=workload_class, context=context)})


def test_fleet():
    with Net(3) as net, Etcd(net) as etcd:
        print(f"etcd members at {etcd.endpoints()}" + (f" (namespaces {', '.join(net.ns)}, bridge {net.bridge})"
                                                       if net.made else " (loopback)"))
        etcd.setup_auth(["a", "b"])
        with FixtureRoot() as ra, FixtureRoot() as rb, \
                Daemon(config=config(etcd, "a", extra="max_request_bytes = 8192\n"), root=ra.path) as a, \
                Daemon(config=config(etcd, "b", sources="a"), root=rb.path) as b:
            wait_for(lambda: fleet_status(a)["state"] == "connected" and fleet_status(b)["state"] == "connected",
                     15, "both hosts connected")
            ta = add_tenant(a, "trainer")
            good, best = train(a, ta)
            wait_for(lambda: fleet_status(a)["published"] >= 1, 15, "a publishes its tenant's model")
            # A linucb model is larger than a's 8 KiB request limit as it is: it went compressed.
            check_eq(fleet_status(a)["published_compressed"], fleet_status(a)["published"], "published compressed")
            keys = etcd.keys(PREFIX + "/models/")
            check(any(k.endswith(f"/a/{ta}") and k.startswith(PREFIX + "/models/batch/") for k in keys),
                  f"a's model under its key: {keys}")
            check(f"{PREFIX}/hosts/a/alive" in etcd.keys(PREFIX + "/hosts/"), "a's presence key")

            # A tenant of the same class and context on b: the lookup brings a's model.
            tb = add_tenant(b, "newcomer")
            t0 = time.monotonic()
            first = b.ok("GET", f"/v1/tenants/{tb}/thresholds")
            check_eq(first["episode"], 1, "b's tenant starts at once on its local anchor")
            pol = wait_for(lambda: (p := b.ok("GET", f"/v1/tenants/{tb}/policy"))["model_origin"] != "local" and p,
                           3, "b's tenant takes a model from the fleet")
            took = time.monotonic() - t0
            print(f"b's tenant took a's model after {took:.2f} s")
            check(took < 3.0, f"within the lookup bound (2 s) and slack: {took:.2f} s")
            check_eq(pol["model_origin"], f"fleet:a/{ta}", "model_origin")
            check_eq(pol["episodes"]["committed"], 0, "no training episode on b")
            th = b.ok("GET", f"/v1/tenants/{tb}/thresholds")
            check_eq((th["action"], th["access_rate"], th["burst_duration"], th["explored"]),
                     (best[0], best[1], best[2], False), "b's next thresholds are a's greedy decision")
            check_eq(a.ok("GET", f"/v1/tenants/{ta}/policy")["model_origin"], "local", "a's origin")

            # b may write its own keys but not a's.
            tok_b = etcd.login("host-b", "pw-b")
            msg = etcd.call("kv/put", {"key": b64(f"{PREFIX}/models/batch/0/a/{ta}"), "value": b64("x")},
                            token=tok_b, want_error=True)
            check("permission denied" in msg, f"b cannot write under a's keys: {msg}")
            etcd.put(f"{PREFIX}/models/batch/0/b/999", "x", token=tok_b)
            etcd.call("kv/deleterange", {"key": b64(f"{PREFIX}/models/batch/0/b/999")})

            # Hostile values next to valid ones in the tenant's own context bucket: the hostile
            # ones are as near as the nearest valid one, all are rejected and logged. 70 valid
            # models 0.1 farther fill the bucket's first page (64 keys) ahead of the nearest one
            # in key order: the lookup reads the whole bucket and imports the nearest.
            exported = a.ok("GET", f"/v1/models/{a.ok('GET', f'/v1/tenants/{ta}/policy')['model_id']}")
            c = first["context"]
            feat = [c["local_alloc"], c["local_usage"], c["remote_usage"], c["traffic"], c["contention"]]
            feat = [min(1.0, max(0.0, x)) for x in feat]
            far = list(feat)
            far[0] = far[0] + 0.5 if far[0] < 0.5 else far[0] - 0.5
            own = sum(min(1, int(x * 2)) << (4 - i) for i, x in enumerate(feat))  # fleet_context_bucket()
            near = list(feat)  # 0.1 away, in the same bucket
            if near[1] < 0.5:
                near[1] = near[1] - 0.1 if near[1] >= 0.1 else near[1] + 0.1
            else:
                near[1] = near[1] + 0.1 if near[1] <= 0.9 else near[1] - 0.1
            wrong_shape = json.loads(json.dumps(exported["model"]))
            wrong_shape["state"]["arms"] = wrong_shape["state"]["arms"][:1]
            bounds = dict(exported["model"], params=dict(exported["model"]["params"], train_steps=100000))
            mine = f"{PREFIX}/models/serving/{own}"
            hostile = {
                f"{mine}/a/901": "{not json",
                f"{mine}/a/902": model_value(dict(exported, model=wrong_shape), "a", 902, feat),
                f"{mine}/a/903": model_value(dict(exported, model=bounds), "a", 903, feat),
                f"{mine}/c/904": model_value(exported, "c", 904, feat),
                f"{PREFIX}/models/serving/0/a/905": model_value(exported, "a", 905, far),
                f"{mine}/a/9999": model_value(exported, "a", 9999, feat),
            }
            for t in range(1000, 1070):
                hostile[f"{mine}/a/{t}"] = model_value(exported, "a", t, near)
            check(sorted(hostile).index(f"{mine}/a/9999") >= 64, "the nearest model is not among the first 64 keys")
            # A compressed document that inflates to more than it announces (a small "bomb").
            bomb = json.loads(model_value(exported, "a", 906, feat))
            del bomb["document"]
            bomb["document_deflate"] = base64.b64encode(zlib.compress(b" " * 1000000, 9)).decode()
            bomb["document_bytes"] = 1000
            hostile[f"{mine}/a/906"] = json.dumps(bomb)
            tok, tok_at = None, 0
            for k, v in hostile.items():
                if time.monotonic() - tok_at > 2:  # root tokens live 5 s; a login costs a bcrypt
                    tok, tok_at = etcd.root_token(), time.monotonic()
                etcd.put(k, v, token=tok)
            rejected = fleet_status(b)["rejected"]
            ts = add_tenant(b, "server", workload_class="serving")
            b.ok("GET", f"/v1/tenants/{ts}/thresholds")
            pol = wait_for(lambda: (p := b.ok("GET", f"/v1/tenants/{ts}/policy"))["model_origin"] != "local" and p,
                           3, "the serving tenant takes the nearest valid model")
            check_eq(pol["model_origin"], "fleet:a/9999", "the nearest valid model, after the hostile ones")
            check(fleet_status(b)["rejected"] >= rejected + 5, f"rejections counted: {fleet_status(b)}")
            log = b.log()
            for k in (901, 902, 903, 906):
                check(f"/a/{k} rejected" in log, f"rejection of {k} logged")
            check(f"/c/904 rejected: its host is not in [fleet] sources" in log, "the not-allowed host logged")
            b.health()

            # One member down: still connected, and a publishes again.
            etcd.stop(0)
            published = fleet_status(a)["published"]
            train(a, ta, good)
            before = b.ok("GET", f"/v1/tenants/{tb}/policy")["transferred_from"]
            wait_for(lambda: fleet_status(a)["published"] > published, 20, "a publishes with one member down")
            check_eq(fleet_status(b)["state"], "connected", "b with one member down")
            # b watches the key its untrained tenant started from: the newer version comes over.
            wait_for(lambda: fleet_status(b)["updated"] >= 1, 20, "b's watch brings a's newer model")
            pol = b.ok("GET", f"/v1/tenants/{tb}/policy")
            check(pol["transferred_from"] != before, f"b's tenant moved to the newer import: {pol['transferred_from']}")
            check_eq((pol["model_origin"], pol["episodes"]["committed"]), (f"fleet:a/{ta}", 0), "after the update")

            # All down: b answers at once and says local-only.
            etcd.stop(1)
            etcd.stop(2)
            wait_for(lambda: fleet_status(b)["state"] == "local-only", 20, "b notices etcd is gone")
            p99 = p99_ms(b, f"/v1/tenants/{tb}/thresholds")
            check(p99 < 50, f"b's API p99 {p99:.1f} ms with etcd down")
            metrics = b.ok("GET", "/metrics")
            check('maiod_fleet_state{state="local-only"} 1' in metrics, "local-only metric")
            check("running local-only" in b.log(), "local-only logged")
            tl = add_tenant(b, "offline", cgroup="/maio/b")
            check_eq(b.ok("GET", f"/v1/tenants/{tl}/thresholds")["episode"], 1, "new tenants still served")

            # Back: both reconnect by themselves and publishing resumes.
            for i in range(3):
                etcd.start(i)
            wait_for(etcd.healthy, 30, "etcd back", interval=0.2)
            wait_for(lambda: fleet_status(a)["state"] == "connected" and fleet_status(b)["state"] == "connected",
                     40, "both hosts reconnect", interval=0.2)
            published = fleet_status(a)["published"]
            train(a, ta, good)
            wait_for(lambda: fleet_status(a)["published"] > published, 20, "publishing resumes")
            check_eq(b.ok("GET", f"/v1/tenants/{tb}/policy")["model_origin"], f"fleet:a/{ta}",
                     "b's tenant kept its model through the outage")
            # Tokens live 5 s in this cluster: b logged in again by itself when etcd called its token invalid.
            logins = [l for l in b.ok("GET", "/metrics").splitlines() if l.startswith("maiod_fleet_etcd_logins_total ")]
            check(logins and int(logins[0].split()[1]) >= 2, f"token renewed: {logins}")
            # A restart of b keeps the origin (and the model and its thresholds).
            th = b.ok("GET", f"/v1/tenants/{tb}/thresholds")
            b.restart()
            check_eq(b.ok("GET", f"/v1/tenants/{tb}/policy")["model_origin"], f"fleet:a/{ta}", "origin after restart")
            check_eq(b.ok("GET", f"/v1/tenants/{tb}/thresholds")["action"], th["action"], "thresholds after restart")


if __name__ == "__main__":
    main([test_fleet])
