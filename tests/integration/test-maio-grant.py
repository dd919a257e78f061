#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# libmaio's grant client (maio_daemon_grant, called through ctypes) against the real maiod on a
# temp copy of tests/fixtures/knobs-host: a grant sizes the node's fixture file and comes back
# with its pages, an unknown tenant and a missing daemon mean "standalone", a partial allocation
# (MAIOD_TEST_HUGEPAGES_LIMIT, honoured only under a fixture root) is an error with the status;
# and a pool's grant with a poller CPU ([pools] poller_cpus): its first ring runs SQPOLL there in
# the automatic mode, another tenant's ring runs batch and says why.

import ctypes
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from maiotest import Daemon, check_eq, env, fixture, main

PAGE = 2 << 20
NODE_FILE = "sys/devices/system/node/node{}/hugepages/hugepages-2048kB/nr_hugepages"


class Grant(ctypes.Structure):
    _fields_ = [("numa_node", ctypes.c_int), ("pages", ctypes.c_uint64)]


class PoolConfig(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("numa_node", ctypes.c_int), ("flags", ctypes.c_uint),
                ("daemon_socket", ctypes.c_char_p), ("tenant", ctypes.c_char_p)]


class RingModeInfo(ctypes.Structure):
    _fields_ = [("mode", ctypes.c_int), ("asked", ctypes.c_int), ("source", ctypes.c_char_p),
                ("reason", ctypes.c_char_p), ("poller_cpu", ctypes.c_int), ("poller_granted", ctypes.c_bool),
                ("poller_shared", ctypes.c_bool), ("setup_flags", ctypes.c_uint), ("fallback_error", ctypes.c_int),
                ("event_syscalls", ctypes.c_uint64)]


MAIO_POOL_NO_HUGETLB = 1 << 2
MODES = {1: "sqpoll", 2: "batch"}


def libmaio_path():
    return os.path.join(env("MAIO_BUILD_ROOT"), "client", "libmaio", "libmaio.so.0")


def reexec_for_asan():
    """A sanitizer build of libmaio can only be loaded into python with its ASan runtime
    preloaded: run this script again that way (leak checks off: python's own)."""
    if "LD_PRELOAD" in os.environ:
        return
    out = subprocess.run(["ldd", libmaio_path()], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "libasan" in line and "=>" in line:
            asan = line.split("=>")[1].split()[0]
            e = dict(os.environ, LD_PRELOAD=asan,
                     ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
            os.execve(sys.executable, [sys.executable] + sys.argv, e)


def libmaio():
    lib = ctypes.CDLL(libmaio_path())
    lib.maio_daemon_grant.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint64,
                                      ctypes.c_int, ctypes.POINTER(Grant)]
    lib.maio_daemon_grant.restype = ctypes.c_int
    lib.maio_pool_new.argtypes = [ctypes.POINTER(PoolConfig), ctypes.POINTER(ctypes.c_void_p)]
    lib.maio_pool_free.argtypes = [ctypes.c_void_p]
    lib.maio_pool_poller_cpu.argtypes = [ctypes.c_void_p]
    lib.maio_ring_new.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.maio_ring_free.argtypes = [ctypes.c_void_p]
    lib.maio_ring_mode_get.argtypes = [ctypes.c_void_p, ctypes.POINTER(RingModeInfo)]
    return lib


def grant(lib, sock, tenant, node, nbytes):
    g = Grant(-2, 0)
    r = lib.maio_daemon_grant(sock.encode(), str(tenant).encode(), node, nbytes, 3000, ctypes.byref(g))
    return r, g.numa_node, g.pages


def with_root(fn):
    tmp = tempfile.mkdtemp(prefix="maio-grant-")
    try:
        root = os.path.join(tmp, "root")
        shutil.copytree(fixture("knobs-host"), root, symlinks=True)
        fn(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def node_pages(root, n):
    with open(os.path.join(root, NODE_FILE.format(n))) as f:
        return int(f.read())


def test_grant():
    lib = libmaio()

    def body(root):
        with Daemon(root=root) as d:
            tid = d.ok("POST", "/v1/tenants", {"name": "maio-tenant"}, want=201)["id"]
            check_eq(grant(lib, d.socket_path, tid, 1, 5000000), (1, 1, 3), "granted 3 pages on node 1")
            check_eq(node_pages(root, 1), 3, "node 1 sized by the grant")
            check_eq([(g["tenant_id"], g["pages"]) for g in d.ok("GET", "/v1/maio")["grants"]], [(tid, 3)],
                     "the daemon lists the grant")
            check_eq(grant(lib, d.socket_path, 9999, 1, PAGE)[0], 0, "unknown tenant (404): standalone")
            check_eq(grant(lib, d.socket_path, "web", 1, PAGE)[0], -400, "a tenant id must be a number")
        check_eq(grant(lib, d.socket_path, tid, 1, PAGE)[0], 0, "daemon gone: standalone")

    with_root(body)


def test_partial():
    lib = libmaio()

    def body(root):
        with Daemon(root=root, env_extra={"MAIOD_TEST_HUGEPAGES_LIMIT": "1:2"}) as d:
            tid = d.ok("POST", "/v1/tenants", {"name": "maio-tenant"}, want=201)["id"]
            check_eq(grant(lib, d.socket_path, tid, 1, 8 * PAGE)[0], -507, "partial allocation refused")

    with_root(body)


def pool_ring(lib, sock, tenant):
    """An 8 MiB pool of tenant and one ring in the automatic mode: (poller CPU, mode, reason)."""
    pool, ring = ctypes.c_void_p(), ctypes.c_void_p()
    cfg = PoolConfig(4 * PAGE, -1, MAIO_POOL_NO_HUGETLB, sock.encode(), str(tenant).encode())
    check_eq(lib.maio_pool_new(ctypes.byref(cfg), ctypes.byref(pool)), 0, "maio_pool_new")
    cpu = lib.maio_pool_poller_cpu(pool)
    check_eq(lib.maio_ring_new(pool, None, ctypes.byref(ring)), 0, "maio_ring_new")
    info = RingModeInfo()
    check_eq(lib.maio_ring_mode_get(ring, ctypes.byref(info)), 0, "maio_ring_mode_get")
    out = (cpu, MODES.get(info.mode), info.poller_cpu, info.reason.decode())
    lib.maio_ring_free(ring)
    lib.maio_pool_free(pool)
    return out


def test_pool_poller():
    lib = libmaio()

    def body(root):
        os.makedirs(os.path.join(root, "sys/devices/system/cpu"), exist_ok=True)
        with open(os.path.join(root, "sys/devices/system/cpu/online"), "w") as f:
            f.write("0-1\n")
        with Daemon(root=root, config="[pools]\npoller_cpus = 1\n") as d:
            a = d.ok("POST", "/v1/tenants", {"name": "a"}, want=201)["id"]
            b = d.ok("POST", "/v1/tenants", {"name": "b"}, want=201)["id"]
            check_eq(pool_ring(lib, d.socket_path, a), (1, "sqpoll", 1, "auto: maiod granted poller CPU 1"),
                     "granted: SQPOLL on the granted CPU")
            check_eq(pool_ring(lib, d.socket_path, b),
                     (-1, "batch", -1, f"auto: no poller CPU (all 1 poller CPUs are held (CPU 1: tenant {a})"
                      "; waiting: a CPU freed goes to the waiting tenant of highest priority)"),
                     "none left: batch, with maiod's reason")
            check_eq(d.ok("GET", "/v1/status")["pollers"]["held"], [{"cpu": 1, "tenant_id": a}], "status")

    with_root(body)


if __name__ == "__main__":
    reexec_for_asan()
    main([test_grant, test_partial, test_pool_poller])
