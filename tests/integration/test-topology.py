#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# GET /v1/topology and maioctl topology: exact values from the fixture roots, and
# the live "/" root of a maiod running in a network namespace of its own, where
# a veth pair created afterwards must appear (and vanish) without a restart
# (that one is it-topology-live-netns).

import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from maiotest import Daemon, Skip, check, check_eq, env, fixture, main, needs, wait_for, NOBODY

TWO_NODE_NODES = [
    {"id": 0, "has_memory": True, "cpus": "0-1", "mem_total_kb": 16777216, "mem_free_kb": 8388608,
     "memory_tier": 4, "distances": [10, 21], "hugepages": [{"size_kb": 2048, "total": 256, "free": 250}]},
    {"id": 1, "has_memory": True, "cpus": "2-3", "mem_total_kb": 33554432, "mem_free_kb": 30000000,
     "memory_tier": 22, "distances": [21, 10], "hugepages": [{"size_kb": 2048, "total": 256, "free": 250}]},
]
TWO_NODE_NETDEVS = [
    {"name": "eth0", "ifindex": 2, "driver": "ixgbe", "kind": None, "node": 1, "rx_queues": 2, "tx_queues": 2,
     "xdp": {"generic": True, "native": True, "native_source": "attached", "mode": "driver", "prog_id": 42}},
    {"name": "lo", "ifindex": 1, "driver": None, "kind": None, "node": None, "rx_queues": 1, "tx_queues": 1,
     "xdp": {"generic": True, "native": False, "native_source": None, "mode": "none", "prog_id": 0}},
    {"name": "veth0", "ifindex": 3, "driver": None, "kind": "veth", "node": None, "rx_queues": 1, "tx_queues": 1,
     "xdp": {"generic": True, "native": True, "native_source": "driver-list", "mode": "none", "prog_id": 0}},
]
TOP_KEYS = ["generation", "cpus_online", "cpus_isolated", "cpus_nohz_full", "cpus", "nodes", "memory_tiers",
            "netdevs", "link_facts"]


def maioctl(d, *args):
    out = subprocess.run([env("MAIOCTL"), "--socket", d.socket_path, *args], capture_output=True, text=True,
                         timeout=30)
    check_eq(out.returncode, 0, f"maioctl {' '.join(args)} exit status (stderr {out.stderr!r})")
    check_eq(out.stderr, "", f"maioctl {' '.join(args)} stderr")
    return out.stdout


def test_two_node_fixture():
    with Daemon(root=fixture("host-2node")) as d:
        t = d.ok("GET", "/v1/topology")
        check_eq(list(t), TOP_KEYS, "topology keys in order")
        check_eq(t["generation"], 1, "generation of the read at start")
        check_eq((t["cpus_online"], t["cpus_isolated"], t["cpus_nohz_full"]), ("0-3", "3", "3"), "CPU lists")
        check_eq([(c["id"], c["core"], c["package"], c["node"], c["isolated"], c["nohz_full"]) for c in t["cpus"]],
                 [(0, 0, 0, 0, False, False), (1, 1, 0, 0, False, False), (2, 0, 1, 1, False, False),
                  (3, 1, 1, 1, True, True)], "cpus")
        check_eq(t["nodes"], TWO_NODE_NODES, "nodes")
        check_eq(t["memory_tiers"], [{"id": 4, "nodes": "0"}, {"id": 22, "nodes": "1"}], "memory_tiers")
        check_eq(t["netdevs"], TWO_NODE_NETDEVS, "netdevs")
        check_eq(t["link_facts"], True, "link_facts")
        # Tenant class: any local uid reads it; the answer is the same.
        check_eq(d.request("GET", "/v1/topology", as_uid=NOBODY)[::2], (200, t), "topology as nobody")
        d.check_error("POST", "/v1/topology", status=405, code="method-not-allowed")

        check_eq(json.loads(maioctl(d, "topology", "-o", "json")), t, "maioctl -o json is the API object")
        text = maioctl(d, "topology")
        for line in ("CPUs: 4 online (0-3), isolated: 3, nohz_full: 3",
                     "3    1     1        1     yes       yes",
                     "1     2-3   yes     32.0G  28.6G  22    21 10",
                     "eth0   2        ixgbe   -     1     2   2   native+generic  42 (driver)",
                     "veth0  3        -       veth  -     1   1   native+generic  -"):
            check(line in text.splitlines(), f"maioctl topology lacks the line {line!r}:\n{text}")


def test_one_node_fixture():
    with Daemon(root=fixture("host-1node")) as d:
        t = d.ok("GET", "/v1/topology")
        check_eq((t["cpus_online"], t["cpus_isolated"], t["cpus_nohz_full"]), ("0-1", "", ""), "CPU lists")
        check_eq([n["distances"] for n in t["nodes"]], [[10]], "distances")
        check_eq([h["size_kb"] for h in t["nodes"][0]["hugepages"]], [2048, 1048576], "hugepage sizes")
        # No rtnetlink/links in this tree: unknown, shown as null, not as "none".
        check_eq(t["link_facts"], False, "link_facts")
        check_eq(t["netdevs"][0]["xdp"], {"generic": True, "native": False, "native_source": None, "mode": None,
                                          "prog_id": None}, "xdp of lo without link facts")
        text = maioctl(d, "topology")
        check("CPUs: 2 online (0-1), isolated: none, nohz_full: none" in text, f"summary line:\n{text}")
        check("lo    1        -       -     -     1   1   generic  ?" in text.splitlines(), f"lo row:\n{text}")


class Netns:
    """A network namespace of our own, deleted on exit (also on failure)."""

    def __init__(self):
        self.name = f"maio-topo-{os.getpid()}"

    def __enter__(self):
        if not shutil.which("ip"):
            raise Skip("the ip command (iproute2) is not installed")
        out = subprocess.run(["ip", "netns", "add", self.name], capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise Skip(f"cannot create a network namespace: {out.stderr.strip()}")
        return self

    def __exit__(self, *exc):
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)
        return False

    def ip(self, *args):
        out = subprocess.run(["ip", "-n", self.name, *args], capture_output=True, text=True, timeout=30)
        check_eq(out.returncode, 0, f"ip -n {self.name} {' '.join(args)} (stderr {out.stderr.strip()!r})")


def netdev_names(d):
    return {n["name"]: n for n in d.ok("GET", "/v1/topology")["netdevs"]}


@needs("netns", "ip(8) and a network namespace of its own (CAP_SYS_ADMIN)")
def test_live_netns():
    with Netns() as ns:
        d = Daemon(root="/", start=False)
        with d:
            d.start(["ip", "netns", "exec", ns.name] + d.argv())
            t = d.ok("GET", "/v1/topology")
            check(t["link_facts"], "link facts are read on the live host")
            check(len(t["cpus"]) >= 1, "at least one CPU online")
            check(any(n["id"] == 0 for n in t["nodes"]) or not os.path.exists("/sys/devices/system/node/node0"),
                  "node 0 present")
            # The daemon sees its own namespace: a fresh one has only lo.
            check_eq(sorted(n["name"] for n in t["netdevs"]), ["lo"], "netdevs of a fresh namespace")
            first = t["generation"]

            ns.ip("link", "add", "maio-va", "type", "veth", "peer", "name", "maio-vb")
            devs = wait_for(lambda: (lambda n: n if {"maio-va", "maio-vb"} <= set(n) else None)(netdev_names(d)),
                            5, "the veth pair in GET /v1/topology")
            for name in ("maio-va", "maio-vb"):
                check_eq(devs[name]["kind"], "veth", f"kind of {name}")
                check_eq(devs[name]["driver"], None, f"driver of {name}")
                check_eq(devs[name]["xdp"]["native_source"], "driver-list", f"native XDP of {name}")
                check_eq(devs[name]["xdp"]["mode"], "none", f"XDP mode of {name}")
            after_add = d.ok("GET", "/v1/topology")["generation"]
            check(after_add > first, f"generation did not grow ({first} -> {after_add})")

            ns.ip("link", "del", "maio-va")  # takes its peer with it
            wait_for(lambda: set(netdev_names(d)) == {"lo"}, 5, "the veth pair to vanish from GET /v1/topology")
            # A burst of link messages is re-read once per debounce delay, not once per message.
            check(d.ok("GET", "/v1/topology")["generation"] - after_add <= 3, "re-reads after one deletion")
            log = d.log()
            for line in ("Network device maio-va appeared.", "Network device maio-vb is gone."):
                check(line in log, f"maiod log lacks {line!r}")


if __name__ == "__main__":
    main([test_two_node_fixture, test_one_node_fixture, test_live_netns])
