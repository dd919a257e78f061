#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# MFLOW's knob-only modes run by maiod inside a network namespace of this test, on one end of a
# veth pair there (GRO on, so the veth has NAPI), with the root "/" as that namespace sees it (its
# /sys shows only the namespace's devices; nothing outside it is written):
#   rps: the device's rx queues' rps_cpus hold exactly the mask of the splitting cores, and are
#        restored by a mode change, a clean stop, and a restart after SIGKILL;
#   napi: threaded NAPI is switched on through the journal and the napi/DEV-ID kernel threads are
#        pinned to the splitting cores; the threads' previous affinity comes back on a mode change,
#        a clean stop, and after SIGKILL at the next start (the thread still exists); threaded
#        goes back to its original value;
#   a fixture root (group rps): four rx queues' rps_cpus files get exactly the mask and their
#        original text back; a NAPI thread the root names whose pid is no live thread is refused.
import os
import re
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ.get("MAIO_SOURCE_ROOT", ""), "tests", "integration"))
import maiotest  # noqa: E402
from maiotest import check, check_eq, Daemon, Skip, needs  # noqa: E402

TAG = f"mfk{os.getpid()}"
NS = TAG + "ns"
DEV, PEER = "kv" + TAG[3:][-8:] + "a", "kv" + TAG[3:][-8:] + "b"


def sh(*args, check_rc=True):
    p = subprocess.run(args, capture_output=True, text=True)
    if check_rc and p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p


def nsx(*args, **kw):
    return sh("ip", "netns", "exec", NS, *args, **kw)


def sysfs(rel):
    return nsx("cat", f"/sys/class/net/{DEV}/{rel}").stdout.strip()


def sysfs_write(rel, value):
    return nsx("sh", "-c", f"echo {value} > /sys/class/net/{DEV}/{rel}", check_rc=False).returncode == 0


def mask_cpus(text):
    v = int(text.replace(",", ""), 16)
    return {i for i in range(v.bit_length()) if v >> i & 1}


def napi_threads():
    """{pid: comm} of DEV's NAPI kernel threads."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            comm = open(f"/proc/{pid}/comm").read().strip()
        except OSError:
            continue
        if re.fullmatch(rf"napi/{DEV}-\d+", comm):
            out[int(pid)] = comm
    return out


def online_cpus():
    return sorted(os.sched_getaffinity(1) | set(range(os.cpu_count())))


class NsDaemon(Daemon):
    def argv(self, foreground=True):
        return ["ip", "netns", "exec", NS] + super().argv(foreground)


def config(mode, devices=DEV):
    return f"[tiering]\nbackend = off\n[mflow]\ndevices = {devices}\nmode = {mode}\ncores_per_flow = 2\n"


def setup():
    if sh("ip", "netns", "add", NS, check_rc=False).returncode != 0:
        raise Skip("cannot create a network namespace")
    sh("ip", "-n", NS, "link", "add", DEV, "type", "veth", "peer", "name", PEER)
    sh("ip", "-n", NS, "link", "set", DEV, "up")
    sh("ip", "-n", NS, "link", "set", PEER, "up")
    nsx("ethtool", "-K", DEV, "gro", "on")  # a veth has NAPI (and so NAPI threads) with GRO or XDP


def teardown(loose):
    for d in loose:
        d.kill()
        shutil.rmtree(d.tmp, ignore_errors=True)
    sh("ip", "netns", "del", NS, check_rc=False)


def dev_state(d):
    devs = [x for x in d.ok("GET", "/v1/mflow")["devices"] if x["name"] == DEV]
    check_eq(len(devs), 1, f"{DEV} listed in GET /v1/mflow")
    return devs[0]


def check_rps(d, want_cores):
    dev = dev_state(d)
    print("device:", dev)
    check(dev["mode"] == "rps" and dev["knobs_applied"] and dev["attached"] == "none",
          f"rps mode applied without XDP: {dev}")
    check_eq(sorted(dev["knob_cores"]), want_cores, "the splitting cores")
    want = {f"net.{DEV}.rx.{q}.rps_cpus" for q in queues()}
    check_eq({k["name"] for k in dev["knobs"]}, want, "every rx queue's rps_cpus written, nothing else")
    for k in dev["knobs"]:
        check_eq(mask_cpus(k["value"]), set(want_cores), f"{k['name']}: the mask shown")
    for q in queues():
        check_eq(mask_cpus(sysfs(f"queues/rx-{q}/rps_cpus")), set(want_cores), f"rx-{q}/rps_cpus in the kernel")
        knob = d.ok("GET", f"/v1/knobs/net.{DEV}.rx.{q}.rps_cpus")
        check(knob["state"] == "applied" and knob["changed_by"] == "mflow", f"journal record: {knob}")


def queues():
    return sorted(int(x[3:]) for x in nsx("ls", f"/sys/class/net/{DEV}/queues").stdout.split() if x.startswith("rx-"))


def check_rps_restored(orig, what):
    for q, v in orig.items():
        check_eq(mask_cpus(sysfs(f"queues/rx-{q}/rps_cpus")), mask_cpus(v), f"{what}: rx-{q}/rps_cpus restored")


@needs("rps", "root and network namespaces")
def test_rps():
    cpus = online_cpus()
    if len(cpus) < 2:
        raise Skip("needs 2 online CPUs")
    want = cpus[:2]  # on a 2-CPU host both; more CPUs: the check below reads the cores GET names
    loose = []
    try:
        setup()
        orig = {q: sysfs(f"queues/rx-{q}/rps_cpus") for q in queues()}
        check(all(mask_cpus(v) == set() for v in orig.values()), f"rps off to begin with: {orig}")
        d = NsDaemon(config=config("rps"), root="/")
        loose.append(d)
        d.start()
        if len(cpus) > 2:
            want = sorted(dev_state(d)["knob_cores"])
        check_rps(d, want)
        check_eq(sysfs("threaded"), "0", "threaded untouched in rps mode")
        # mode change: pass attaches XDP elsewhere; off restores the knobs
        got = d.ok("PUT", "/v1/mflow", {"device": DEV, "mode": "off"})
        check(not got["knobs_applied"] and got["knobs"] == [], f"mode off: {got}")
        check_rps_restored(orig, "mode off")
        got = d.ok("PUT", "/v1/mflow", {"device": DEV, "mode": "rps", "cores_per_flow": 1})
        check_eq(len(got["knob_cores"]), 1, "cores_per_flow 1: one core")
        for q in queues():
            check_eq(mask_cpus(sysfs(f"queues/rx-{q}/rps_cpus")), set(got["knob_cores"]), "one-core mask")
        d.ok("PUT", "/v1/mflow", {"device": DEV, "mode": "rps", "cores_per_flow": 2})
        check_rps(d, want)
        d.stop()
        check_rps_restored(orig, "clean stop")
        check("restored" in d.log(), "the log says the knobs were restored")

        # SIGKILL, then a restart without the device: the journal restores rps_cpus
        d.start()
        check_rps(d, want)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        d.proc = None
        for q in queues():
            check_eq(mask_cpus(sysfs(f"queues/rx-{q}/rps_cpus")), set(want), "SIGKILL leaves the mask")
        d.write_config(config("rps", devices=""))
        d.start()
        check_rps_restored(orig, "restart after SIGKILL")
        d.stop()
    finally:
        teardown(loose)


@needs("rps", "root and network namespaces")
def test_fixture_root():
    """maiod with a root of its own (a fixture tree of four rx queues and a NAPI thread that names
    no live process): exactly those four rps_cpus files get the mask and get their originals back;
    napi-threaded refuses to touch a pid that is not that thread on this host, and puts threaded back."""
    import tempfile
    cpus = online_cpus()
    if len(cpus) < 2:
        raise Skip("needs 2 online CPUs")
    loose = []
    root = tempfile.mkdtemp(prefix="maio-mfk-root-")
    try:
        setup()
        os.makedirs(os.path.join(root, "sys/devices/system/cpu"))
        shutil.copyfile("/sys/devices/system/cpu/online", os.path.join(root, "sys/devices/system/cpu/online"))
        net = os.path.join(root, "sys/class/net", DEV)
        orig = {0: "0", 1: "0", 2: "00000000,00000000", 3: "1"}
        for q, v in orig.items():
            os.makedirs(os.path.join(net, f"queues/rx-{q}"))
            open(os.path.join(net, f"queues/rx-{q}/rps_cpus"), "w").write(v + "\n")
        os.makedirs(os.path.join(net, "queues/tx-0"))
        open(os.path.join(net, "threaded"), "w").write("0\n")
        fake = 4194304 + 7  # above pid_max's ceiling: no process has it
        os.makedirs(os.path.join(root, f"proc/{fake}"))
        open(os.path.join(root, f"proc/{fake}/comm"), "w").write(f"napi/{DEV}-8193\n")

        def files():
            return {q: open(os.path.join(net, f"queues/rx-{q}/rps_cpus")).read().strip() for q in orig}

        d = NsDaemon(config=config("rps"), root=root)
        loose.append(d)
        d.start()
        dev = dev_state(d)
        want = set(dev["knob_cores"])
        check_eq(len(want), 2, f"two cores: {dev}")
        check_eq(sorted(k["name"] for k in dev["knobs"]), [f"net.{DEV}.rx.{q}.rps_cpus" for q in range(4)],
                 "exactly the four rx queues' rps_cpus")
        for q, v in files().items():
            check_eq(mask_cpus(v), want, f"fixture rx-{q}/rps_cpus written")
        check_eq(mask_cpus(sysfs("queues/rx-0/rps_cpus")), set(), "the real device's rps_cpus untouched")
        st, _, data = d.request("PUT", "/v1/mflow", {"device": DEV, "mode": "napi-threaded"})
        check(st == 503 and "not a live thread" in data["error"]["message"], f"a fake pid is refused: {st} {data}")
        check_eq({q: v for q, v in files().items()}, orig, "rps_cpus restored by the mode change")
        check_eq(open(os.path.join(net, "threaded")).read().strip(), "0", "threaded put back")
        check_eq(sysfs("threaded"), "0", "the real device's threaded untouched")
        d.ok("PUT", "/v1/mflow", {"device": DEV, "mode": "rps"})
        d.stop()
        check_eq(files(), orig, "clean stop: every rps_cpus back to its original text")
    finally:
        teardown(loose)
        shutil.rmtree(root, ignore_errors=True)


def thread_cpus(pids):
    return {pid: sorted(os.sched_getaffinity(pid)) for pid in pids}


@needs("napi", "root, network namespaces and threaded NAPI on veth (GRO on)")
def test_napi():
    cpus = online_cpus()
    if len(cpus) < 2:
        raise Skip("needs 2 online CPUs")
    loose = []
    try:
        setup()
        if not sysfs_write("threaded", 1) or not napi_threads():
            raise Skip("this kernel has no threaded NAPI for veth with GRO on")
        check(sysfs_write("threaded", 0) and not napi_threads(), "threaded NAPI off again")
        orig_rps = {q: sysfs(f"queues/rx-{q}/rps_cpus") for q in queues()}

        # 1. threaded originally 0: maiod switches it on and pins the threads
        d = NsDaemon(config=config("rps"), root="/")
        loose.append(d)
        d.start()
        got = d.ok("PUT", "/v1/mflow", {"device": DEV, "mode": "napi-threaded"})
        print("napi-threaded:", got)
        want = sorted(got["knob_cores"])
        check_eq(len(want), 2, "two splitting cores")
        check_rps_restored(orig_rps, "rps -> napi-threaded")
        check_eq(sysfs("threaded"), "1", "threaded NAPI on")
        threads = napi_threads()
        check(threads, "NAPI threads exist")
        check_eq({t["pid"]: t["name"] for t in got["napi_threads"]}, threads, "GET names exactly the NAPI threads")
        check_eq(got["knobs"], [{"name": f"net.{DEV}.threaded", "value": "1"}], "the threaded knob, nothing else")
        for pid, c in thread_cpus(threads).items():
            check_eq(c, want, f"NAPI thread {pid} pinned to the splitting cores")
        knob = d.ok("GET", f"/v1/knobs/net.{DEV}.threaded")
        check(knob["state"] == "applied" and knob["original"] == "0", f"journal record: {knob}")
        got = d.ok("PUT", "/v1/mflow", {"device": DEV, "mode": "off"})
        check_eq(sysfs("threaded"), "0", "mode off: threaded restored")
        check(not napi_threads(), "mode off: the NAPI threads are gone with it")
        d.stop()
        check_eq(sysfs("threaded"), "0", "clean stop: threaded still off")

        # 2. threaded originally 1 with its thread on the last CPU: the affinity itself comes back
        check(sysfs_write("threaded", 1), "threaded NAPI on, by the test")
        threads = napi_threads()
        last = cpus[-1]
        for pid in threads:
            os.sched_setaffinity(pid, {last})
        d.write_config(config("napi-threaded"))
        d.start()
        dev = dev_state(d)
        want = sorted(dev["knob_cores"])
        check(dev["mode"] == "napi-threaded" and dev["knobs_applied"] and want != [last], f"applied: {dev}")
        check_eq(napi_threads(), threads, "the same threads (threaded was on already)")
        for pid, c in thread_cpus(threads).items():
            check_eq(c, want, f"NAPI thread {pid} pinned")
        d.stop()
        check_eq(sysfs("threaded"), "1", "clean stop: threaded back to its original 1")
        for pid, c in thread_cpus(threads).items():
            check_eq(c, [last], f"clean stop: NAPI thread {pid} back on CPU {last}")

        # 3. SIGKILL, then a restart without the device restores the affinity of the live thread
        d.start()
        for pid, c in thread_cpus(threads).items():
            check_eq(c, want, f"NAPI thread {pid} pinned again")
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        d.proc = None
        for pid, c in thread_cpus(threads).items():
            check_eq(c, want, f"SIGKILL leaves NAPI thread {pid} pinned")
        d.write_config(config("napi-threaded", devices=""))
        d.start()
        check_eq(sysfs("threaded"), "1", "restart: threaded back to its original 1")
        for pid, c in thread_cpus(threads).items():
            check_eq(c, [last], f"restart after SIGKILL: NAPI thread {pid} back on CPU {last}")
        check("reconcile: NAPI thread" in d.log(), "the log says the reconcile restored the thread")
        events = [e for e in d.ok("GET", "/v1/events")["events"] if e["kind"] == "mflow-napi-restored"]
        check(events and "reconcile" in events[0]["message"], f"an event says so: {events[:1]}")
        d.stop()
    finally:
        teardown(loose)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # meson's timeout: still clean up
    maiotest.main([test_rps, test_fixture_root, test_napi])
