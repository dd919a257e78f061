#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# The /v1/knobs API of a real maiod on a temp copy of tests/fixtures/knobs-host:
# listing, get/set/restore, every bad-input class (404 unknown, 400 range and
# names with "/", "..", "%", a missing netdev, 403 non-admin and not-owned),
# conflicts in /v1/status, events, and maioctl against the daemon. The not-owned
# case needs the immutable attribute (it-knobs-api-live-immutable).

import fcntl
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from maiotest import NOBODY, Daemon, Skip, check, check_eq, env, fixture, main, needs

FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_IMMUTABLE_FL = 0x10


def with_root(fn):
    """Runs fn(daemon, root) on a fresh fixture copy and a default daemon."""
    def run():
        tmp = tempfile.mkdtemp(prefix="maio-knobs-api-")
        root = os.path.join(tmp, "root")
        shutil.copytree(fixture("knobs-host"), root, symlinks=True)
        try:
            with Daemon(root=root) as d:
                fn(d, root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    run.__name__ = fn.__name__
    return run


def read(root, rel):
    with open(os.path.join(root, rel)) as f:
        return f.read()


@with_root
def test_list_and_get(d, root):
    data = d.ok("GET", "/v1/knobs")
    names = [k["name"] for k in data["knobs"]]
    for want in ("kernel.numa_balancing", "vm.nr_hugepages", "net.ipv4.tcp_reordering", "node.1.hugepages.2048kB",
                 "net.eth0.rx.1.rps_cpus", "net.veth0.threaded", "sched.numa_balancing.hot_threshold_ms"):
        check(want in names, f"{want} listed")
    check_eq(len(names), 16, "instances in the fixture")
    keys = {"name", "scope", "type", "addressing", "allowed", "requires", "doc", "path", "available", "live",
            "state", "original", "desired", "applied", "changed", "changed_by"}
    for k in data["knobs"]:
        check_eq(set(k), keys, f"members of {k['name']}")
        check_eq(k["state"], "untouched", f"{k['name']} state")
    knob = d.ok("GET", "/v1/knobs/mm.transparent_hugepage.enabled")
    check_eq((knob["type"], knob["live"], knob["allowed"]), ("enum", "madvise", "always|madvise|never"), "enum knob")
    # Tenants (any authenticated caller) may read.
    status, _, body = d.request("GET", "/v1/knobs/vm.nr_hugepages", as_uid=NOBODY)
    check_eq(status, 200, f"GET as uid {NOBODY} ({body})")


@with_root
def test_set_restore(d, root):
    knob = d.ok("PUT", "/v1/knobs/node.1.hugepages.2048kB", {"value": 300})
    check_eq((knob["live"], knob["original"], knob["desired"], knob["applied"], knob["state"]),
             ("300", "0", "300", "300", "applied"), "after PUT")
    check(knob["changed_by"].startswith("uid 0 (pid "), f"changed_by {knob['changed_by']!r}")
    check_eq(read(root, "sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages"), "300\n", "file")
    knob = d.ok("PUT", "/v1/knobs/mm.numa.demotion_enabled", {"value": "yes"})
    check_eq(knob["live"], "true", "bool normalised")
    knob = d.ok("DELETE", "/v1/knobs/node.1.hugepages.2048kB")
    check_eq((knob["live"], knob["state"]), ("0", "untouched"), "after DELETE")
    knob = d.ok("DELETE", "/v1/knobs/node.1.hugepages.2048kB")  # nothing left to restore
    check_eq(knob["state"], "untouched", "second DELETE")
    check_eq(d.ok("POST", "/v1/knobs/restore"), {"restored": 1, "remaining": 0}, "restore all")
    check_eq(read(root, "sys/kernel/mm/numa/demotion_enabled"), "false\n", "restored bool")
    kinds = [e["kind"] for e in d.ok("GET", "/v1/events")["events"]]
    check_eq(kinds.count("knob-set"), 2, "knob-set events")
    check_eq(kinds.count("knob-restored"), 2, "knob-restored events")


@with_root
def test_bad_input(d, root):
    cases = [
        ("GET", "/v1/knobs/vm.nope", None, 404, "not-found"),
        ("PUT", "/v1/knobs/vm.nope", {"value": 1}, 404, "not-found"),
        ("DELETE", "/v1/knobs/vm.nope", None, 404, "not-found"),
        ("PUT", "/v1/knobs/kernel.numa_balancing", {"value": 4}, 400, "invalid-value"),
        ("PUT", "/v1/knobs/kernel.numa_balancing", {"value": "two"}, 400, "invalid-value"),
        ("PUT", "/v1/knobs/net.core.rps_sock_flow_entries", {"value": 1000}, 400, "invalid-value"),
        ("PUT", "/v1/knobs/net.eth0.rx.0.rps_cpus", {"value": "1,0"}, 400, "invalid-value"),
        ("PUT", "/v1/knobs/kernel.numa_balancing", {"value": True}, 400, "wrong-type"),
        ("PUT", "/v1/knobs/kernel.numa_balancing", {"value": 1.5}, 400, "wrong-type"),
        ("PUT", "/v1/knobs/kernel.numa_balancing", {"value": None}, 400, "wrong-type"),
        ("PUT", "/v1/knobs/kernel.numa_balancing", {}, 400, "missing-field"),
        ("PUT", "/v1/knobs/kernel.numa_balancing", {"value": 1, "force": True}, 400, "unknown-field"),
        ("PUT", "/v1/knobs/kernel.numa_balancing", {"value": "1\u0000"}, 400, "invalid-value"),
        ("GET", "/v1/knobs/net.eth0%2F..%2Flo.threaded", None, 400, "bad-request"),
        ("PUT", "/v1/knobs/vm%2Fnr_hugepages", {"value": 1}, 400, "bad-request"),
        ("GET", "/v1/knobs/..", None, 400, "bad-request"),
        ("GET", "/v1/knobs/vm..nr_hugepages", None, 400, "bad-request"),
        ("GET", "/v1/knobs/.vm", None, 400, "bad-request"),
        ("PUT", "/v1/knobs/net.nope.threaded", {"value": 1}, 400, "bad-request"),
        ("GET", "/v1/knobs/net.eth0.rx.7.rps_cpus", None, 400, "bad-request"),
        ("GET", "/v1/knobs/node.9.hugepages.2048kB", None, 400, "bad-request"),
        ("GET", "/v1/knobs/net.eth0/threaded", None, 404, "not-found"),
        ("GET", "/v1/knobs/kernel.numa_balancing", "{}", 400, "bad-request"),
        ("PATCH", "/v1/knobs/kernel.numa_balancing", None, 405, "method-not-allowed"),
    ]
    for method, path, body, status, code in cases:
        d.check_error(method, path, body, status=status, code=code)
    _, _, err = d.request("PUT", "/v1/knobs/kernel.numa_balancing", {"value": 9})
    check("0..3" in err["error"]["message"], f"out-of-range message names the range: {err}")
    # Administrators only: a plain uid is 403 and nothing is written.
    for method, path, body in (("PUT", "/v1/knobs/vm.nr_hugepages", {"value": 5}),
                               ("DELETE", "/v1/knobs/vm.nr_hugepages", None),
                               ("POST", "/v1/knobs/restore", None)):
        d.check_error(method, path, body, status=403, code="forbidden", as_uid=NOBODY)
    check_eq(read(root, "proc/sys/vm/nr_hugepages"), "0\n", "nothing written by refused requests")
    check_eq(d.ok("GET", "/v1/knobs/vm.nr_hugepages")["state"], "untouched", "no record either")


def set_immutable(path, on):
    fd = os.open(path, os.O_RDONLY)
    try:
        flags = struct.unpack("l", fcntl.ioctl(fd, FS_IOC_GETFLAGS, struct.pack("l", 0)))[0]
        flags = flags | FS_IMMUTABLE_FL if on else flags & ~FS_IMMUTABLE_FL
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("l", flags))
    finally:
        os.close(fd)


@needs("immutable", "CAP_LINUX_IMMUTABLE and a temp dir whose filesystem keeps the immutable attribute")
@with_root
def test_not_owned(d, root):
    path = os.path.join(root, "proc/sys/vm/nr_hugepages")
    try:
        set_immutable(path, True)
    except OSError as e:
        raise Skip(f"cannot make a fixture file immutable here: {e}")
    try:
        d.check_error("PUT", "/v1/knobs/vm.nr_hugepages", {"value": 5}, status=403, code="forbidden")
        check_eq(d.ok("GET", "/v1/knobs/vm.nr_hugepages")["state"], "untouched", "a refused first write owns nothing")
        check_eq(d.metrics()["maiod_knob_write_failures_total"], 1, "failure counted")
    finally:
        set_immutable(path, False)


@with_root
def test_not_available(d, root):
    os.remove(os.path.join(root, "sys/kernel/debug/sched/numa_balancing/hot_threshold_ms"))
    d.check_error("PUT", "/v1/knobs/sched.numa_balancing.hot_threshold_ms", {"value": 5}, status=404,
                  code="not-found")
    check_eq(d.ok("GET", "/v1/knobs/sched.numa_balancing.hot_threshold_ms")["available"], False, "available")


@with_root
def test_status_conflicts(d, root):
    conflicts = d.ok("GET", "/v1/status")["conflicts"]
    check_eq([(c["kind"], c["name"], c["pid"]) for c in conflicts], [("process", "irqbalance", 812)], "conflicts")
    r = subprocess.run([env("MAIOCTL"), "--socket", d.socket_path, "status"], capture_output=True, text=True,
                       timeout=30)
    check_eq(r.returncode, 0, "maioctl status")
    check("conflicts:       irqbalance (pid 812)" in r.stdout, f"maioctl status shows conflicts: {r.stdout}")


@with_root
def test_maioctl(d, root):
    def maioctl(*args):
        return subprocess.run([env("MAIOCTL"), "--socket", d.socket_path, *args], capture_output=True, text=True,
                              timeout=30)

    r = maioctl("knobs", "set", "net.eth0.rx.0.rps_cpus", "FF")
    check_eq(r.returncode, 0, f"knobs set ({r.stderr})")
    check("state:       applied" in r.stdout, f"set output: {r.stdout}")
    r = maioctl("knobs", "list")
    check_eq(r.returncode, 0, "knobs list")
    line = next(l for l in r.stdout.splitlines() if l.startswith("net.eth0.rx.0.rps_cpus "))
    check_eq(line.split(), ["net.eth0.rx.0.rps_cpus", "rxqueue", "ff", "applied", "00000000,00000000"], "list row")
    r = maioctl("knobs", "get", "net.eth0/../lo.threaded")
    check_eq(r.returncode, 1, "a name with / is refused")
    check("(bad-request, HTTP 400)" in r.stderr, r.stderr)
    r = maioctl("knobs", "set", "kernel.numa_balancing", "5")
    check_eq(r.returncode, 1, "out of range")
    check("allowed: 0..3" in r.stderr, r.stderr)
    r = maioctl("-o", "json", "knobs", "restore", "net.eth0.rx.0.rps_cpus")
    check_eq(r.returncode, 0, "knobs restore NAME")
    check('"state": "untouched"' in r.stdout, r.stdout)
    check_eq(read(root, "sys/class/net/eth0/queues/rx-0/rps_cpus"), "00000000,00000000\n", "restored mask")


if __name__ == "__main__":
    main([test_list_and_get, test_set_restore, test_bad_input, test_not_owned, test_not_available, test_status_conflicts,
          test_maioctl])
