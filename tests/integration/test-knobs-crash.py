#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Crash safety of the knob journal on a temp copy of tests/fixtures/knobs-host:
# bursts of PUTs cut by SIGKILL at random points, restarts that reconcile, and
# at the end `maioctl knobs restore` leaving every fixture file byte-for-byte
# as it was. Also drift (overridden, enforce) and --dry-run. Set
# MAIO_TEST_SEED to replay a run.

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from maiotest import Daemon, check, check_eq, env, fixture, main, wait_for

ITERATIONS = 50
DEADLINE_SEC = 55  # the whole crash loop; meson's timeout is above it


def int_values(lo, hi):
    return lambda rng: str(rng.randint(lo, hi))


# Several knobs of every scope, each with a generator of valid values.
KNOBS = {
    "kernel.numa_balancing": int_values(0, 3),
    "vm.nr_hugepages": int_values(0, 4096),
    "net.ipv4.tcp_reordering": int_values(1, 300),
    "net.core.optmem_max": int_values(0, 1 << 20),
    "node.0.hugepages.2048kB": int_values(0, 2048),
    "node.1.hugepages.2048kB": int_values(0, 2048),
    "net.eth0.threaded": int_values(0, 1),
    "net.veth0.threaded": int_values(0, 1),
    "net.eth0.rx.0.rps_cpus": lambda rng: format(rng.randint(0, 0xff), "x"),
    "net.eth0.rx.1.rps_cpus": lambda rng: format(rng.randint(1, 0xffff), "x") + ",00000000",
    "mm.numa.demotion_enabled": lambda rng: rng.choice(["true", "false", "1", "0"]),
    "sched.numa_balancing.hot_threshold_ms": int_values(0, 60000),
}


def copy_root():
    """A temp copy of the fixture tree; the caller removes it."""
    tmp = tempfile.mkdtemp(prefix="maio-knobs-")
    root = os.path.join(tmp, "root")
    shutil.copytree(fixture("knobs-host"), root, symlinks=True)
    return tmp, root


def differences(root):
    """Paths below root whose type, bytes or link target differ from the fixture's."""
    pristine = fixture("knobs-host")
    out = []
    for base, dirs, files in os.walk(pristine):
        rel = os.path.relpath(base, pristine)
        for name in dirs + files:
            a, b = os.path.join(base, name), os.path.join(root, rel, name)
            if os.path.islink(a):
                if not os.path.islink(b) or os.readlink(a) != os.readlink(b):
                    out.append(os.path.join(rel, name))
            elif os.path.isfile(a):
                with open(a, "rb") as fa:
                    want = fa.read()
                try:
                    with open(b, "rb") as fb:
                        got = fb.read()
                except OSError as e:
                    got = f"<{e}>".encode()
                if got != want:
                    out.append(f"{os.path.join(rel, name)}: {got!r} != {want!r}")
    return out


def check_pristine(root, when):
    diff = differences(root)
    check(not diff, f"{when}: fixture files differ: {diff[:5]}")


def put(d, name, value, timeout=5):
    return d.request("PUT", f"/v1/knobs/{name}", {"value": value}, timeout=timeout)


def config(reconcile="restore", extra=""):
    return f"[knobs]\nreconcile = {reconcile}\n{extra}"


def burst(d, rng, n):
    """Sends up to n PUTs; returns how many were acknowledged (the daemon may die)."""
    acked = 0
    for _ in range(n):
        name = rng.choice(sorted(KNOBS))
        try:
            status, _, body = put(d, name, KNOBS[name](rng), timeout=2)
        except OSError:
            break
        check_eq(status, 200, f"PUT {name} (body {body!r})")
        acked += 1
    return acked


def kill_later(d, delay):
    proc = d.proc
    t = threading.Timer(delay, lambda: proc.poll() is None and proc.send_signal(signal.SIGKILL))
    t.start()
    return t


def test_crash_loop():
    seed = int(os.environ.get("MAIO_TEST_SEED") or time.time_ns() % 1000000)
    print(f"seed {seed} (MAIO_TEST_SEED={seed} replays it)", flush=True)
    rng = random.Random(seed)
    tmp, root = copy_root()
    started = time.monotonic()
    try:
        with Daemon(config=config(), root=root, log_level="info", start=False) as d:
            total_acked = 0
            for i in range(ITERATIONS):
                check(time.monotonic() - started < DEADLINE_SEC, f"crash loop overran {DEADLINE_SEC} s at {i}")
                mode = rng.choice(["restore", "reapply"])
                d.write_config(config(mode))
                d.start()
                if i > 0 and mode == "restore":
                    # A restart after SIGKILL restores every journaled knob before serving.
                    check_pristine(root, f"iteration {i}: after the restart in restore mode")
                timer = kill_later(d, rng.uniform(0, 0.06))
                total_acked += burst(d, rng, rng.randint(3, 15))
                timer.join()
                d.proc.wait(5)
                check_eq(d.proc.returncode, -signal.SIGKILL, f"iteration {i}: maiod killed")
                d.proc = None
            print(f"{ITERATIONS} crashes, {total_acked} acknowledged writes, "
                  f"{time.monotonic() - started:.1f} s", flush=True)

            # Finally: knobs of every scope set and acknowledged, a crash, a restart
            # that reapplies them, and the operator's restore.
            d.write_config(config("reapply"))
            d.start()
            for name in sorted(KNOBS):
                value = KNOBS[name](rng)
                while True:  # a value that differs from the fixture's, so the restore has work
                    status, _, body = put(d, name, value)
                    check_eq(status, 200, f"PUT {name}")
                    if body["original"] is not None and body["live"] != body["original"]:
                        break
                    value = KNOBS[name](rng)
            check(differences(root), "the final burst changed nothing")
            d.kill()
            d.start()
            check("did not stop cleanly" in d.log(), "the restart reported the unclean stop")
            still = len(differences(root))
            check(still >= len(KNOBS) - 1, f"reapply kept maiod's values ({still} files differ)")
            r = subprocess.run([env("MAIOCTL"), "--socket", d.socket_path, "knobs", "restore"],
                               capture_output=True, text=True, timeout=30)
            check_eq(r.returncode, 0, f"maioctl knobs restore ({r.stderr.strip()})")
            check(r.stdout.startswith("restored:"), f"maioctl knobs restore output: {r.stdout!r}")
            check_pristine(root, "after maioctl knobs restore")
            data = d.ok("GET", "/v1/knobs")
            check(all(k["state"] == "untouched" for k in data["knobs"]), "every knob untouched after the restore")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def overrides_metric(d):
    return d.metrics().get("maiod_knob_overrides_total", -1)


def write_file(root, rel, text):
    with open(os.path.join(root, rel), "w") as f:
        f.write(text)


def read_file(root, rel):
    with open(os.path.join(root, rel)) as f:
        return f.read()


def test_drift_overridden():
    tmp, root = copy_root()
    try:
        with Daemon(config=config(extra="drift_check_sec = 1\n"), root=root) as d:
            d.ok("PUT", "/v1/knobs/net.core.optmem_max", {"value": 65536})
            d.ok("PUT", "/v1/knobs/vm.nr_hugepages", {"value": "12"})
            write_file(root, "proc/sys/net/core/optmem_max", "4242\n")
            # The timer finds it (GET /metrics does not compare).
            wait_for(lambda: overrides_metric(d) == 1, 5, "the drift timer to count the override")
            knob = d.ok("GET", "/v1/knobs/net.core.optmem_max")
            check_eq((knob["state"], knob["live"], knob["applied"]), ("overridden", "4242", "65536"),
                     "state, live, applied")
            time.sleep(1.5)  # more timer runs: logged and counted once
            check_eq(overrides_metric(d), 1, "overrides counted once")
            check_eq(d.log().count("was changed by someone else"), 1, "override logged once")
            check_eq(read_file(root, "proc/sys/net/core/optmem_max"), "4242\n", "the foreign value left alone")
        # The clean stop restored maiod's other knob and left the overridden one.
        check_eq(read_file(root, "proc/sys/net/core/optmem_max"), "4242\n", "overridden knob after stop")
        check_eq(read_file(root, "proc/sys/vm/nr_hugepages"), "0\n", "restored knob after stop")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_drift_enforce():
    tmp, root = copy_root()
    rel = "sys/devices/pci0000:00/0000:00:03.0/net/eth0/queues/rx-1/rps_cpus"
    try:
        with Daemon(config=config(extra="drift_check_sec = 1\nenforce = yes\n"), root=root) as d:
            d.ok("PUT", "/v1/knobs/net.eth0.rx.1.rps_cpus", {"value": "3"})
            write_file(root, rel, "00000000,00000001\n")
            wait_for(lambda: read_file(root, rel) == "3\n", 5, "enforce to write maiod's value back")
            check_eq(overrides_metric(d), 1, "the override was counted")
            knob = d.ok("GET", "/v1/knobs/net.eth0.rx.1.rps_cpus")
            check_eq((knob["state"], knob["changed_by"]), ("applied", "enforce"), "state after enforcing")
        check_pristine(root, "after the clean stop")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_dry_run():
    tmp, root = copy_root()
    try:
        with Daemon(root=root, extra_args=["--dry-run"]) as d:
            for name in sorted(KNOBS):
                knob = d.ok("PUT", f"/v1/knobs/{name}", {"value": KNOBS[name](random.Random(1))})
                check_eq(knob["state"], "dry-run", f"{name} state")
            check_pristine(root, "after dry-run writes")
            check(d.ok("GET", "/v1/status")["dry_run"], "status says dry run")
            data = d.ok("POST", "/v1/knobs/restore")
            check_eq(data["restored"], len(KNOBS), "dry-run records forgotten")
        check_pristine(root, "after the dry-run daemon stopped")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main([test_crash_loop, test_drift_overridden, test_drift_enforce, test_dry_run])
