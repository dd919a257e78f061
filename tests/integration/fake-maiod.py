#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# A stand-in for maiod's REST API v1 on a unix socket, serving canned replies so
# maioctl can be tested without the daemon. Stdlib only. Logs each request as a
# JSON line (--log) so tests can check what maioctl sent.
"""Usage:
  fake-maiod.py --socket PATH [--log FILE] [--mode normal|garbage|hangup|huge]
  fake-maiod.py --dump NAME      print a canned reply (status, tenants, tenant-1,
                                 tenant-2, created, events, tenant-events, knobs,
                                 knob, knobs-restored, maio, maio-granted, maio-released,
                                 thresholds, feedback, policy, policy-set)
Modes: normal serves the API; garbage answers 200 with a body that is not JSON;
hangup closes every connection without answering; huge answers 200 with 17 MiB of JSON."""

import argparse
import copy
import http.server
import json
import os
import re
import socketserver
import sys

TENANT_1 = {
    "id": 1, "name": "web", "priority": 4, "workload_class": "batch", "uid": 1000,
    "pid": 1234, "cgroup": "/maio/web", "created": "2026-11-21T22:40:00Z", "pid_alive": True,
    "addresses": ["10.80.0.2", "fd00::2"],
}
TENANT_2 = {
    "id": 2, "name": "database", "priority": 0, "workload_class": "serving", "uid": 0,
    "pid": None, "cgroup": None, "created": "2026-11-21T22:41:07Z", "pid_alive": None, "addresses": None,
}
TENANTS = {1: TENANT_1, 2: TENANT_2}

STATUS = {
    "version": "0.1.0", "pid": 4242, "uptime_sec": 3725.5,
    "config_file": "/etc/maiod/maiod.conf", "state_dir": "/var/lib/maiod",
    "runtime_dir": "/run/maiod", "root": "/", "dry_run": False,
    "listeners": {"unix": "/run/maiod/maiod.sock", "tcp": None},
    "features": {
        "io_uring": {"available": True, "sqpoll": True, "send_zc": False, "buf_ring": True},
        "bpf": {"prog_load": True, "xdp": False},
        "damon": {"sysfs": True, "kdamonds": 2, "running": 1, "foreign": 1},
        "numa": {"nodes": 2, "nodes_list": "0-1",
                 "memory_tiers": ["memory_tier4: 0", "memory_tier22: 1"]},
        "hugepages": [{"size_kb": 2048, "total": 512, "free": 500},
                      {"size_kb": 1048576, "total": 0, "free": 0}],
        "numa_balancing": {"mode": 2, "mode_name": "memory-tiering", "tiering_available": True},
    },
    "conflicts": [
        {"kind": "process", "name": "irqbalance", "pid": 812, "count": 1,
         "affects": "IRQ affinity, which RPS CPU masks and threaded NAPI pinning depend on"},
        {"kind": "damon", "name": "kdamond", "pid": None, "count": 1,
         "affects": "page migration by DAMON schemes maiod did not create"},
    ],
    "counts": {"tenants": 2, "events": 3, "requests": 1234, "connections": 1},
    "admission": {"max_tenants_per_uid": 16, "highest_priority": 4, "cgroup_ownership": True,
                  "cgroup_hierarchy": "hybrid",
                  "groups": [{"group": "users", "gid": 100, "max_tenants_per_uid": 64, "highest_priority": 2}]},
    "pollers": {"configured": "1,3", "held": [{"cpu": 1, "tenant_id": 7}], "free": 1},
    "tiering": {"anchors": {"entries": 12, "buckets": 2, "dropped": 0, "decisions": 5, "served": 3, "share": 0.6}},
}

KNOB_NUMAB = {
    "name": "kernel.numa_balancing", "scope": "global", "type": "int", "addressing": "procsys",
    "allowed": "0..3", "requires": "CAP_SYS_ADMIN",
    "doc": "Automatic NUMA balancing: 0 off, 1 normal, 2 memory tiering (promotion), 3 both.",
    "path": "/proc/sys/kernel/numa_balancing", "available": True, "live": "2", "state": "applied",
    "original": "0", "desired": "2", "applied": "2", "changed": "2026-11-21T22:40:00Z",
    "changed_by": "uid 0 (pid 4242)",
}
KNOB_HUGEPAGES = {
    "name": "node.0.hugepages.2048kB", "scope": "node", "type": "int", "addressing": "sysfs",
    "allowed": "0..16777216", "requires": "CAP_SYS_ADMIN",
    "doc": "Persistent 2 MiB hugepages on NUMA node N (backing for libmaio buffer pools).",
    "path": "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages", "available": True,
    "live": "0", "state": "untouched", "original": None, "desired": None, "applied": None,
    "changed": None, "changed_by": None,
}
KNOBS = {k["name"]: k for k in (KNOB_NUMAB, KNOB_HUGEPAGES)}
KNOB_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

EVENTS = [
    {"id": 3, "time": "2026-11-21T22:41:07Z", "tenant_id": 2, "kind": "tenant-added",
     "message": "tenant database added"},
    {"id": 2, "time": "2026-11-21T22:40:00Z", "tenant_id": 1, "kind": "tenant-added",
     "message": "tenant web added"},
    {"id": 1, "time": "2026-11-21T22:39:58Z", "tenant_id": None, "kind": "daemon-started",
     "message": "maiod 0.1.0 started"},
]

MAIO_NODES = [
    {"node": 0, "knob": "node.0.hugepages.2048kB", "original_pages": 0, "granted_pages": 0,
     "headroom_pages": 0, "target_pages": 0, "total_pages": 0, "free_pages": 0, "state": "untouched"},
    {"node": 1, "knob": "node.1.hugepages.2048kB", "original_pages": 2, "granted_pages": 32,
     "headroom_pages": 4, "target_pages": 36, "total_pages": 36, "free_pages": 30, "state": "applied"},
]
MAIO_GRANT = {"tenant_id": 1, "tenant": "web", "node": 1, "pages": 32, "bytes": 67108864,
              "created": "2026-11-21T22:42:00Z"}
MAIO_PAGE = 2 << 20
MAIO_MAX_GRANT = 64 << 30

THRESHOLDS = {
    "tenant_id": 1, "episode": 3, "policy": "linucb", "model_id": 7, "model_version": 2, "rule": "thresholds",
    "access_rate": 15.848931924611133, "burst_duration": 0.1, "action": 21, "explored": True, "cached_rewards": 1,
    "context": {"local_alloc": 0.25, "local_usage": 0.95, "remote_usage": 0.25, "traffic": 0.0001,
                "contention": 0.5, "link_bandwidth_Bps": 16000000000.0, "delta_latency_s": 3e-07,
                "demote_rate": 20.0, "page_size": 4096.0},
    "decided": "2026-11-21T22:50:00Z", "backend": "damon", "applied": True,
    "applied_note": "DAMON schemes limited to the tenant's cgroup", "anchor": None,
}
NEXT_THRESHOLDS = dict(THRESHOLDS, episode=4, model_version=3, action=22, burst_duration=0.31622776601683794,
                       explored=False, cached_rewards=0, decided="2026-11-21T22:51:00Z")
REWARDS = [
    {"episode": 1, "policy": "linucb", "action": 0, "access_rate": 1.0, "burst_duration": 0.0, "explored": True,
     "metric": "completion_time_s", "value": 48.0, "reward": 0.0, "committed": "2026-11-21T22:48:00Z"},
    {"episode": 2, "policy": "linucb", "action": 13, "access_rate": 3.981071705534973, "burst_duration": 0.01,
     "explored": True, "metric": "completion_time_s", "value": 42.0, "reward": 0.125,
     "committed": "2026-11-21T22:49:00Z"},
]
POLICY = {
    "tenant_id": 1, "policy": "linucb", "seed": 7, "learns": True, "model_id": 7, "model_version": 2,
    "transferred_from": None, "metric": "completion_time_s", "reference": 48.0,
    "episodes": {"total": 3, "committed": 2, "explored": 2, "anchored": 1, "anchor_share": 0.3333333333333333,
                 "open": 3},
    "promotion_rate_bytes": None,
    "cache": {"hits": 1, "misses": 2, "hit_rate": 0.3333333333333333, "entries": 2},
    "thresholds": THRESHOLDS, "rewards": REWARDS,
}
POLICIES = ("indigo", "linucb", "heuristic", "static")

CREATED_ID = 3
TOKEN = "fAkE_t0ken-0123456789abcdefghijklmnopqrstuv"  # 43 URL-safe base64 chars, like maiod's
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,62}$")
ADD_FIELDS = {"name": str, "priority": int, "workload_class": str, "pid": int, "cgroup": str}


def created(body):
    t = {"id": CREATED_ID, "name": body["name"], "priority": body.get("priority", 4),
         "workload_class": body.get("workload_class", "batch"), "uid": os.getuid(),
         "pid": body.get("pid"), "cgroup": body.get("cgroup"),
         "created": "2026-11-21T22:45:00Z", "pid_alive": True if "pid" in body else None}
    t["token"] = TOKEN
    return t


CANNED = {
    "status": STATUS,
    "tenants": {"tenants": [TENANT_1, TENANT_2]},
    "tenant-1": TENANT_1,
    "tenant-2": TENANT_2,
    "created": created({"name": "web2", "priority": 2, "workload_class": "serving",
                        "pid": 1234, "cgroup": "/maio/web2"}),
    "events": {"events": EVENTS},
    "tenant-events": {"events": [EVENTS[1]]},
    "knobs": {"knobs": [KNOB_NUMAB, KNOB_HUGEPAGES]},
    "knob": KNOB_NUMAB,
    "knobs-restored": {"restored": 2, "remaining": 0},
    "maio": {"page_size_bytes": MAIO_PAGE, "headroom_pages": 4, "max_grant_bytes": MAIO_MAX_GRANT,
             "nodes": MAIO_NODES, "grants": [MAIO_GRANT]},
    "maio-granted": dict(MAIO_GRANT, requested_bytes=67108864, replaced_pages=None, reserve=MAIO_NODES[1]),
    "maio-released": {"tenant_id": 1, "released": [MAIO_GRANT], "pages": 32, "bytes": 67108864},
    "thresholds": THRESHOLDS,
    "feedback": {"tenant_id": 1, "episode": 3, "reward": 0.125, "next": NEXT_THRESHOLDS},
    "policy": POLICY,
    "policy-set": dict(POLICY, policy="static", seed=3, learns=False, model_id=8, model_version=0,
                       thresholds=dict(THRESHOLDS, episode=4, policy="static", model_id=8, model_version=0,
                                       access_rate=1.0, burst_duration=0.0, action=None, explored=False,
                                       cached_rewards=0)),
}


class ApiError(Exception):
    def __init__(self, status, code, message, allow=None):
        super().__init__(message)
        self.status, self.code, self.message, self.allow = status, code, message, allow


def validate_add(body):
    if not isinstance(body, dict):
        raise ApiError(400, "wrong-type", "body must be an object")
    for key, value in body.items():
        if key not in ADD_FIELDS:
            raise ApiError(400, "unknown-field", f"unknown field '{key}'")
        if not isinstance(value, ADD_FIELDS[key]) or isinstance(value, bool):
            raise ApiError(400, "wrong-type", f"field '{key}' has the wrong type")
    if "name" not in body:
        raise ApiError(400, "missing-field", "field 'name' is required")
    if not NAME_RE.match(body["name"]):
        raise ApiError(400, "invalid-value", f"invalid tenant name '{body['name']}'")
    if any(t["name"] == body["name"] for t in TENANTS.values()):
        raise ApiError(409, "conflict", f"a tenant named '{body['name']}' exists")
    return body


def tenant_id(text):
    # Canonical only: no sign, no leading zero, at most 2^63-1 (api/openapi.yaml).
    if not re.fullmatch(r"[1-9][0-9]{0,18}", text) or int(text) >= 2**63:
        raise ApiError(400, "bad-request", f"invalid tenant id '{text}'")
    if int(text) not in TENANTS:
        raise ApiError(404, "not-found", f"tenant {int(text)} not found")
    return int(text)


class Server(socketserver.UnixStreamServer):
    # A client that gives up mid-reply (maioctl refusing a huge one) is no error here.
    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = "normal"
    log_file = None

    # Unix sockets have no peer address for the default log line.
    def address_string(self):
        return "unix"

    def log_message(self, format, *args):
        pass

    def reply(self, status, obj=None, headers=None):
        data = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if status != 204:
            self.wfile.write(data)
        self.close_connection = True

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def record(self, raw):
        if not self.log_file:
            return
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        entry = {"method": self.command, "path": self.path,
                 "content_type": self.headers.get("Content-Type"), "body": body}
        with open(self.log_file, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def transport_checks(self, raw):
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if raw and content_type != "application/json":
            raise ApiError(415, "unsupported-media-type", "expected application/json")
        if raw and self.command not in ("POST", "PUT", "PATCH"):
            raise ApiError(400, "bad-request", f"{self.command} takes no body")

    def route(self, raw):
        self.transport_checks(raw)
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts == ["v1", "health"]:
            return self.only("GET", 200, {"status": "ok"})
        if parts == ["v1", "version"]:
            return self.only("GET", 200, {"version": "0.1.0", "api": "v1"})
        if parts == ["v1", "status"]:
            return self.only("GET", 200, STATUS)
        if parts == ["v1", "events"]:
            return self.only("GET", 200, CANNED["events"])
        if parts == ["v1", "tenants"]:
            if self.command == "POST":
                return self.add(raw)
            return self.only("GET, POST", 200, CANNED["tenants"])
        if len(parts) == 3 and parts[:2] == ["v1", "tenants"]:
            tid = tenant_id(parts[2])
            if self.command == "DELETE":
                return 204, None, None
            return self.only("GET, PATCH, DELETE", 200, TENANTS[tid])
        if parts == ["v1", "knobs"]:
            return self.only("GET", 200, CANNED["knobs"])
        if parts == ["v1", "knobs", "restore"] and self.command == "POST":
            return 200, copy.deepcopy(CANNED["knobs-restored"]), None
        if len(parts) == 3 and parts[:2] == ["v1", "knobs"]:
            return self.knob(parts[2], raw)
        if parts == ["v1", "maio"]:
            return self.only("GET", 200, CANNED["maio"])
        if len(parts) == 4 and parts[:2] == ["v1", "tenants"] and parts[3] == "maio":
            return self.maio(tenant_id(parts[2]), raw)
        if len(parts) == 4 and parts[:2] == ["v1", "tenants"] and parts[3] in ("thresholds", "feedback", "policy"):
            return self.tiering(tenant_id(parts[2]), parts[3], raw)
        if len(parts) == 4 and parts[:2] == ["v1", "tenants"] and parts[3] == "events":
            tid = tenant_id(parts[2])
            return self.only("GET", 200, {"events": [e for e in EVENTS if e["tenant_id"] == tid]})
        raise ApiError(404, "not-found", f"no route {self.path}")

    def only(self, allow, status, obj):
        if self.command not in [m.strip() for m in allow.split(",")]:
            raise ApiError(405, "method-not-allowed", f"{self.command} not allowed", allow)
        return status, copy.deepcopy(obj), None

    def knob(self, name, raw):
        # As maiod: no percent-decoding, so an encoded "/" is a bad name.
        if not KNOB_NAME_RE.match(name):
            raise ApiError(400, "bad-request", f"Invalid knob name '{name}'")
        if name not in KNOBS:
            raise ApiError(404, "not-found", f"Unknown knob '{name}'")
        knob = copy.deepcopy(KNOBS[name])
        if self.command == "PUT":
            value = str(json.loads(raw)["value"])
            if not value.isdigit() or int(value) > 3:
                raise ApiError(400, "invalid-value",
                               f"Value '{value}' for {name} is invalid: out of range; allowed: 0..3")
            knob.update(live=value, desired=value, applied=value, state="applied")
        elif self.command == "DELETE":
            knob.update(live=knob["original"] or knob["live"], state="untouched", original=None,
                        desired=None, applied=None, changed=None, changed_by=None)
        elif self.command != "GET":
            raise ApiError(405, "method-not-allowed", f"{self.command} not allowed", "GET, PUT, DELETE")
        return 200, knob, None

    def maio(self, tid, raw):
        # As maiod: bytes 1..[pools] max_grant_bytes, node 0..1023 and present (nodes 0 and 1
        # here); a grant above 16 GiB stands for a kernel that allocates too few pages (507).
        if self.command == "DELETE":
            return 200, copy.deepcopy(CANNED["maio-released"]), None
        if self.command != "POST":
            raise ApiError(405, "method-not-allowed", f"{self.command} not allowed", "POST, DELETE")
        body = json.loads(raw)
        if set(body) != {"bytes", "node"} or not all(type(v) is int for v in body.values()):
            raise ApiError(400, "bad-request", f"unexpected body {body!r}")
        if not 1 <= body["bytes"] <= MAIO_MAX_GRANT:
            raise ApiError(400, "invalid-value", f"Field 'bytes' must be in the range 1..{MAIO_MAX_GRANT}")
        if body["node"] not in (0, 1):
            raise ApiError(400, "invalid-value", f"No NUMA node {body['node']} on this host")
        if body["bytes"] > 16 << 30:
            raise ApiError(507, "insufficient-storage",
                           "The kernel could allocate only 4 of the 16384 hugepages asked on node 1 (8388608 of "
                           "34359738368 bytes; the node holds 40 of the 16420 pages its grants need); "
                           "nothing was granted")
        return 200, copy.deepcopy(CANNED["maio-granted"]), None

    def tiering(self, tid, what, raw):
        # As maiod: the open episode is 3; feedback is one positive metric, the batch one here.
        if what == "thresholds":
            return self.only("GET", 200, CANNED["thresholds"])
        if what == "policy" and self.command == "GET":
            return 200, copy.deepcopy(CANNED["policy"]), None
        body = json.loads(raw) if raw else None
        if what == "policy" and self.command == "PATCH":
            rate = body.get("promotion_rate_bytes") if isinstance(body, dict) else None
            if set(body or {}) != {"promotion_rate_bytes"} or type(rate) is not int or not 0 <= rate <= 1 << 40:
                raise ApiError(400, "invalid-value", "Field 'promotion_rate_bytes' must be from 0 to 1099511627776")
            return 200, dict(copy.deepcopy(CANNED["policy"]), promotion_rate_bytes=rate or None), None
        if what == "policy":
            if self.command != "PUT":
                raise ApiError(405, "method-not-allowed", f"{self.command} not allowed", "GET, PUT, PATCH")
            if not isinstance(body, dict) or set(body) - {"policy", "seed"} or body.get("policy") not in POLICIES:
                raise ApiError(400, "invalid-value", "Field 'policy' must be one of indigo, linucb, heuristic, static")
            return 200, copy.deepcopy(CANNED["policy-set"]), None
        if self.command != "POST":
            raise ApiError(405, "method-not-allowed", f"{self.command} not allowed", "POST")
        if not isinstance(body, dict) or set(body) != {"episode", "completion_time_s"} or \
                type(body["episode"]) is not int or not isinstance(body["completion_time_s"], (int, float)):
            raise ApiError(400, "invalid-value", f"unexpected body {body!r}")
        if body["episode"] != 3:
            raise ApiError(404, "not-found", f"Tenant {tid} has no open episode {body['episode']}")
        return 202, copy.deepcopy(CANNED["feedback"]), None

    def add(self, raw):
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiError(400, "invalid-json", "body is not JSON")
        obj = created(validate_add(body))
        return 201, obj, {"Location": f"/v1/tenants/{CREATED_ID}"}

    def handle_any(self):
        raw = self.read_body()
        self.record(raw)
        if self.mode == "hangup":
            self.close_connection = True
            return
        if self.mode in ("garbage", "huge"):
            data = b"this is not JSON" if self.mode == "garbage" else \
                json.dumps({"tenants": [], "pad": "x" * (17 << 20)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True
            return
        try:
            status, obj, headers = self.route(raw)
        except ApiError as e:
            headers = {"Allow": e.allow} if e.allow else None
            status, obj = e.status, {"error": {"code": e.code, "message": e.message}}
        self.reply(status, obj, headers)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = handle_any


def main():
    parser = argparse.ArgumentParser(description="fake maiod REST API for maioctl tests")
    parser.add_argument("--socket")
    parser.add_argument("--log")
    parser.add_argument("--mode", choices=["normal", "garbage", "hangup", "huge"], default="normal")
    parser.add_argument("--dump", choices=sorted(CANNED))
    args = parser.parse_args()

    if args.dump:
        json.dump(CANNED[args.dump], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not args.socket:
        parser.error("--socket is required")

    Handler.mode, Handler.log_file = args.mode, args.log
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    with Server(args.socket, Handler) as server:
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
