#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# The knob journal against the real kernel, safely: maiod runs with --root / in
# a network namespace this test creates, and changes only net.ipv4.tcp_reordering,
# a per-netns sysctl. The value is checked through `ip netns exec NS sysctl`,
# restored by DELETE and by a clean stop, and the host's own value is checked
# to be untouched throughout. No other knob is ever written.

import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from maiotest import Daemon, Skip, check, check_eq, main

KNOB = "net.ipv4.tcp_reordering"
HOST_FILE = "/proc/sys/net/ipv4/tcp_reordering"


def run(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=30)


def ns_value(ns):
    r = run("ip", "netns", "exec", ns, "sysctl", "-n", KNOB)
    check_eq(r.returncode, 0, f"sysctl in {ns}: {r.stderr.strip()}")
    return r.stdout.strip()


def host_value():
    with open(HOST_FILE) as f:
        return f.read().strip()


class Netns:
    def __init__(self):
        self.name = f"maio-test-{os.getpid()}"

    def __enter__(self):
        if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("sysctl"):
            raise Skip("needs root, ip(8) and sysctl(8)")
        r = run("ip", "netns", "add", self.name)
        if r.returncode != 0:
            raise Skip(f"ip netns add is not permitted here: {r.stderr.strip()}")
        return self

    def __exit__(self, *exc):
        r = run("ip", "netns", "delete", self.name)
        if r.returncode != 0:
            print(f"warning: ip netns delete {self.name}: {r.stderr.strip()}", file=sys.stderr)
        return False


def netns_inode(pid):
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def start_in(d, ns):
    d.start(argv=["ip", "netns", "exec", ns] + d.argv())
    pid = d.ok("GET", "/v1/status")["pid"]
    # Never go on with a maiod that shares our namespace: its writes would be the host's.
    check(netns_inode(pid) != netns_inode("self"), "maiod runs in the test's network namespace")


def test_netns_sysctl():
    host_before = host_value()
    with Netns() as ns:
        original = ns_value(ns.name)
        wanted = str(int(original) + 7)
        with Daemon(root="/", start=False) as d:
            start_in(d, ns.name)
            knob = d.ok("PUT", f"/v1/knobs/{KNOB}", {"value": wanted})
            check_eq((knob["live"], knob["original"], knob["state"]), (wanted, original, "applied"), "after PUT")
            check_eq(ns_value(ns.name), wanted, "the namespace's value")
            check_eq(host_value(), host_before, "the host's value")

            knob = d.ok("DELETE", f"/v1/knobs/{KNOB}")
            check_eq((knob["live"], knob["state"]), (original, "untouched"), "after DELETE")
            check_eq(ns_value(ns.name), original, "restored in the namespace")

            # Set again and let the clean stop restore it.
            d.ok("PUT", f"/v1/knobs/{KNOB}", {"value": wanted})
            check_eq(ns_value(ns.name), wanted, "set again")
        check_eq(ns_value(ns.name), original, "restored by the clean stop")
        check_eq(host_value(), host_before, "the host's value at the end")


def test_netns_crash_reconcile():
    host_before = host_value()
    with Netns() as ns:
        original = ns_value(ns.name)
        wanted = str(int(original) + 11)
        with Daemon(root="/", start=False) as d:
            start_in(d, ns.name)
            d.ok("PUT", f"/v1/knobs/{KNOB}", {"value": wanted})
            check_eq(ns_value(ns.name), wanted, "set")
            d.kill()  # SIGKILL: no restore
            check_eq(ns_value(ns.name), wanted, "still set after the crash")
            start_in(d, ns.name)  # reconcile = restore
            check("did not stop cleanly" in d.log(), "unclean stop reported")
            check_eq(ns_value(ns.name), original, "restored by the reconcile at start")
        check_eq(host_value(), host_before, "the host's value at the end")


if __name__ == "__main__":
    main([test_netns_sysctl, test_netns_crash_reconcile], needs="root, ip(8), sysctl(8) and a network namespace")
