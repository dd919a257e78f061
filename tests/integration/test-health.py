#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Public and status endpoints of a real maiod: health, version, status with the
# features of the fixture roots, /metrics content type, 404/405 error shapes.

import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from maiotest import Daemon, check, check_eq, check_error_body, env, fixture, main, NOBODY

HOST_2NODE = {
    "damon": {"sysfs": True, "kdamonds": 2, "running": 0, "foreign": 0},
    "numa": {"nodes": 2, "nodes_list": "0-1", "memory_tiers": ["memory_tier4: 0", "memory_tier22: 1"]},
    "hugepages": [{"size_kb": 2048, "total": 512, "free": 500}],
    "numa_balancing": {"mode": 2, "mode_name": "memory-tiering", "tiering_available": True},
}
HOST_1NODE = {
    "damon": {"sysfs": True, "kdamonds": 1, "running": 1, "foreign": 1},
    "numa": {"nodes": 1, "nodes_list": "0", "memory_tiers": ["memory_tier4: 0"]},
    "hugepages": [{"size_kb": 2048, "total": 0, "free": 0}, {"size_kb": 1048576, "total": 2, "free": 1}],
    "numa_balancing": {"mode": 0, "mode_name": "disabled", "tiering_available": True},
}
HOST_BARE = {
    "damon": {"sysfs": False, "kdamonds": 0, "running": 0, "foreign": 0},
    "numa": {"nodes": 1, "nodes_list": "0", "memory_tiers": []},
    "hugepages": [],
    "numa_balancing": {"mode": -1, "mode_name": "absent", "tiering_available": False},
}


def maiod_version():
    out = subprocess.run([env("MAIOD"), "--version"], capture_output=True, text=True, timeout=10, check=True)
    words = out.stdout.split()
    check_eq(words[0], "maiod", "maiod --version output")
    return words[1]


def check_features(features, want):
    # What the fixture holds must be reported exactly; keys added later are fine.
    for key, value in want.items():
        got = features.get(key)
        if isinstance(value, dict) and isinstance(got, dict):
            got = {k: got.get(k) for k in value}
        check_eq(got, value, f"features.{key}")
    # io_uring and BPF are probed on the running kernel, not read below --root.
    check_eq(sorted(features["io_uring"]), ["available", "buf_ring", "send_zc", "sqpoll"], "features.io_uring keys")
    check_eq(sorted(features["bpf"]), ["prog_load", "xdp"], "features.bpf keys")
    for group in ("io_uring", "bpf"):
        for k, v in features[group].items():
            check(isinstance(v, bool), f"features.{group}.{k} is not a boolean: {v!r}")


def test_public():
    with Daemon() as d:
        status, hdrs, body = d.request("GET", "/v1/health")
        check_eq((status, body), (200, {"status": "ok"}), "GET /v1/health")
        check_eq(hdrs.get("content-type"), "application/json", "health content type")
        check_eq(hdrs.get("allow"), None, "Allow header on a 200")
        check_eq(d.ok("GET", "/v1/version"), {"version": maiod_version(), "api": "v1"}, "GET /v1/version")
        # Public means public: another uid gets the same answers.
        check_eq(d.request("GET", "/v1/health", as_uid=NOBODY)[::2], (200, {"status": "ok"}), "health as nobody")

        status, hdrs, text = d.request("GET", "/metrics")
        check_eq(status, 200, "GET /metrics")
        check(hdrs.get("content-type", "").startswith("text/plain; version=0.0.4"),
              f"/metrics content type: {hdrs.get('content-type')!r}")
        check(f'maiod_build_info{{version="{maiod_version()}"}} 1' in text, "build info in /metrics")


def test_status():
    with Daemon() as d:
        s = d.ok("GET", "/v1/status")
        check_eq(sorted(s), sorted(["version", "pid", "uptime_sec", "config_file", "state_dir", "runtime_dir",
                                    "root", "dry_run", "listeners", "features", "conflicts", "tiering", "fleet",
                                    "counts", "admission", "scheduler", "pollers"]),
                 "status keys")
        check_eq(s["fleet"], {"state": "off"}, "the fleet is off without endpoints")
        check_eq(s["scheduler"], {"classes": [[0, 1], [2, 3, 4, 5], [6, 7]]}, "default priority classes")
        check_eq(s["pollers"], {"configured": "", "held": [], "free": 0}, "no poller CPUs by default")
        check_eq(s["conflicts"], [], "status.conflicts (host-2node runs no tuner)")
        check_eq(s["version"], maiod_version(), "status.version")
        check_eq(s["pid"], d.proc.pid, "status.pid")
        check(isinstance(s["uptime_sec"], float) and 0 <= s["uptime_sec"] < 30, f"uptime_sec {s['uptime_sec']!r}")
        check_eq(s["config_file"], d.config_path, "status.config_file")
        check_eq(s["state_dir"], d.state_dir, "status.state_dir")
        check_eq(s["runtime_dir"], d.runtime_dir, "status.runtime_dir")
        check_eq(s["root"], d.root, "status.root")
        check_eq(s["dry_run"], False, "status.dry_run")
        check_eq(s["listeners"], {"unix": d.socket_path, "tcp": None, "netlink": d.netlink_port,
                                  "netlink_notifications": {"subscriptions": 0, "sent": 0, "lost": 0,
                                                            "subscribers": []}}, "status.listeners")
        check_features(s["features"], HOST_2NODE)
        counts = s["counts"]
        check_eq((counts["tenants"], counts["events"]), (0, 0), "counts of a fresh daemon")
        check(counts["connections"] >= 1, f"counts.connections {counts['connections']} excludes this request")

        d.ok("GET", "/v1/health")
        s2 = d.ok("GET", "/v1/status")
        # The first status reply and the health check were answered in between.
        check_eq(s2["counts"]["requests"], counts["requests"] + 2, "counts.requests after two more requests")
        check(s2["uptime_sec"] > s["uptime_sec"], "uptime did not grow")
        # tenant class: any local uid may read it
        check_eq(d.request("GET", "/v1/status", as_uid=NOBODY)[0], 200, "status as nobody")


def test_status_other_roots():
    for name, want in (("host-1node", HOST_1NODE), ("host-bare", HOST_BARE)):
        with Daemon(root=fixture(name), extra_args=["--dry-run"]) as d:
            s = d.ok("GET", "/v1/status")
            check_eq(s["root"], fixture(name), "status.root")
            check_eq(s["dry_run"], True, f"status.dry_run with --dry-run ({name})")
            check_features(s["features"], want)


def test_errors():
    with Daemon() as d:
        for path in ("/v1/nope", "/nope", "/", "/v1", "/v1/tenants/1/nope", "/v2/health"):
            st, _, body = d.request("GET", path)
            check_eq(st, 404, f"GET {path}")
            check_error_body(body, "not-found", f"GET {path}")
        for method, path, allow in (("POST", "/v1/health", "GET"),
                                    ("DELETE", "/v1/version", "GET"),
                                    ("PUT", "/metrics", "GET"),
                                    ("DELETE", "/v1/tenants", "GET, POST"),
                                    ("PUT", "/v1/tenants/1", "GET, PATCH, DELETE"),
                                    ("POST", "/v1/tenants/1/events", "GET"),
                                    ("PATCH", "/v1/events", "GET")):
            hdrs = d.check_error(method, path, status=405, code="method-not-allowed")
            check_eq(hdrs.get("allow"), allow, f"Allow header of {method} {path}")
        # 404 for an unknown tenant is not a 405 or 400.
        d.check_error("GET", "/v1/tenants/42", status=404, code="not-found")


def test_allow_only_on_405():
    with Daemon() as d:
        # Each of these paths has other methods too; only a 405 lists them.
        for method, path, body, want in (("POST", "/v1/tenants", {"name": "a"}, 201),
                                         ("GET", "/v1/tenants", None, 200),
                                         ("PATCH", "/v1/tenants/1", {"priority": 1}, 200),
                                         ("GET", "/v1/tenants/1", None, 200),
                                         ("POST", "/v1/tenants", {"name": 1}, 400),
                                         ("DELETE", "/v1/tenants/1", None, 204),
                                         ("GET", "/v1/tenants/1", None, 404)):
            status, hdrs, _ = d.request(method, path, body)
            check_eq(status, want, f"{method} {path}")
            check_eq(hdrs.get("allow"), None, f"Allow header on the {status} of {method} {path}")


if __name__ == "__main__":
    main([test_public, test_status, test_status_other_roots, test_errors, test_allow_only_on_405])
